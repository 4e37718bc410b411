"""The pytest plugin of flask-okta-hooks: fixtures that call hooks as Okta does.

Registered through the ``pytest11`` entry point, so installing the package is enough.
The fixtures build on the ``app`` fixture (the one pytest-flask uses)::

    @pytest.fixture
    def app():
        return create_app(testing=True)

    def test_enrich(okta_client):
        result = okta_client.post("token")
        assert result.status_code == 200

Nothing runs unless a test asks for a fixture; disable the plugin with
``-p no:okta_hooks``.
"""

from __future__ import annotations

import pytest
from flask import Flask

from .testing import OktaClient, SigningKey


@pytest.fixture(scope="session")
def okta_signing_key() -> SigningKey:
    """The RSA key that signs bearer tokens for OAuth 2.0 endpoints (one per session)."""
    return SigningKey()


@pytest.fixture
def okta_client(request: pytest.FixtureRequest, okta_signing_key: SigningKey) -> OktaClient:
    """An :class:`~flask_okta_hooks.testing.OktaClient` for the ``app`` fixture's app."""
    try:
        app = request.getfixturevalue("app")
    except pytest.FixtureLookupError:
        pytest.fail(
            "okta_client needs an `app` fixture that returns your Flask app "
            "(the fixture pytest-flask uses)",
            pytrace=False,
        )
    if not isinstance(app, Flask):
        pytest.fail(f"the `app` fixture returned a {type(app).__name__}, not a Flask app")
    return OktaClient(app, signing_key=okta_signing_key)
