"""Shared fixtures: Okta's reference samples, apps with an OktaHooks blueprint, HTTP calls.

Okta's documented samples and schemas live outside the repository, in ``../shared/okta``
beside the clone (or where ``OKTA_REFERENCE_DIR`` points). Tests that need them skip with
a clear reason when they are absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_okta_hooks import HOOK_TYPES, HookType, OktaHooks
from flask_okta_hooks.hook_types import HOOK_TYPES_BY_SLUG
from flask_okta_hooks.testing import HookResult, OktaClient

pytest_plugins = ["pytester"]

REFERENCE_DIR = Path(
    os.environ.get("OKTA_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "okta")
)
SECRET = "test-secret-2f9c1e7a5b3d"
PREFIX = "/okta/hooks"

#: The documented request sample used for each hook type in cross-cutting tests.
REQUEST_SAMPLE = {
    "token": "token.request.json",
    "saml": "saml.request.json",
    "registration": "registration.request.ssr.json",
    "password-import": "password-import.request.json",
    "user-import": "user-import.request.json",
    "telephony": "telephony.request.json",
    "events": "event-hook.request.json",
}


def reference_file(*parts: str) -> Path:
    """A file of Okta's reference data; skips the test when the data is absent."""
    path = REFERENCE_DIR.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"Okta reference data not found at {path} (place shared/ beside the clone)")
    return path


def sample(name: str) -> Any:
    """A parsed sample from ``shared/okta/samples``."""
    return json.loads(reference_file("samples", name).read_text())


def sample_bytes(name: str) -> bytes:
    return reference_file("samples", name).read_bytes()


def sample_names(pattern: str, folder: str = "samples") -> list[Any]:
    """Sample file names matching ``pattern``, for ``parametrize``.

    When the reference data is absent the one parameter is a skip, so the test reports
    why instead of vanishing.
    """
    names = sorted(p.name for p in (REFERENCE_DIR / folder).glob(pattern))
    if names:
        return names
    reason = f"no {folder}/{pattern} under {REFERENCE_DIR} (place shared/ beside the clone)"
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]


def token_payload_sample() -> Any:
    """Okta's documented token hook request."""
    return sample("token.request.json")


def response_schema(name: str) -> dict[str, Any]:
    """A derived response schema from ``shared/okta/schemas/corrected``."""
    result: dict[str, Any] = json.loads(
        reference_file("schemas", "corrected", f"{name}.response.schema.json").read_text()
    )
    return result


def okta_headers(secret: str | None = SECRET, **extra: str) -> dict[str, str]:
    """Headers as Okta sends them: JSON content type and the configured auth header."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if secret is not None:
        headers["Authorization"] = secret
    headers.update(extra)
    return headers


class FakeClock:
    """A monotonic clock that moves only when a test sets ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def build_app(hooks: OktaHooks, **config: Any) -> Flask:
    """A Flask app with ``hooks`` registered and a shared secret configured."""
    app = Flask("okta_hooks_test")
    app.config.update(TESTING=True, OKTA_HOOKS_SECRETS=[SECRET])
    app.config.update(config)
    app.register_blueprint(hooks)
    return app


def safe_outcome_handler(hook_type: HookType) -> Callable[[Any], Any]:
    """A handler that answers what the hook type answers on failure (valid for every type)."""
    return hook_type.response_class.safe_outcome


@pytest.fixture
def every_hook_app() -> Flask:
    """An app serving every hook type at its default path with a neutral handler."""
    hooks = OktaHooks()
    for hook_type in HOOK_TYPES:
        hooks.mount(hook_type, safe_outcome_handler(hook_type))
    return build_app(hooks)


@pytest.fixture
def every_hook_client(every_hook_app: Flask) -> Iterator[FlaskClient]:
    with every_hook_app.test_client() as client:
        yield client


def post_json(
    client: FlaskClient, path: str, body: Any, *, secret: str | None = SECRET, **headers: str
) -> TestResponse:
    """POST ``body`` (bytes as is, anything else as JSON) to ``path`` below the prefix."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(PREFIX + path, data=data, headers=okta_headers(secret, **headers))


def serve(
    hook: str | HookType,
    handler: Callable[[Any], Any],
    payload: Any = None,
    **config: Any,
) -> HookResult:
    """Mount ``handler`` for ``hook`` on a fresh app and call it as Okta would.

    ``payload`` defaults to the test kit's realistic call of that hook type.
    """
    hooks = OktaHooks()
    hooks.mount(HOOK_TYPES_BY_SLUG[hook] if isinstance(hook, str) else hook, handler)
    return OktaClient(build_app(hooks, **config)).post(hook, payload)
