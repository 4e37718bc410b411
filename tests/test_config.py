"""Configuration keys: a misspelt key fails at registration instead of being ignored."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_okta_hooks import ConfigurationError, OktaHooks
from flask_okta_hooks.config import SETTINGS

from .conftest import SECRET, build_app, okta_headers, post_json


def token_hooks(**options: Any) -> OktaHooks:
    hooks = OktaHooks(**options)
    hooks.token(lambda call: None)
    return hooks


@pytest.mark.parametrize(
    ("key", "value", "meant"),
    [
        ("OKTA_HOOKS_DEADLNE", 1.0, "OKTA_HOOKS_DEADLINE"),
        ("OKTA_HOOKS_AUTH_HEADR", "X-Okta", "OKTA_HOOKS_AUTH_HEADER"),
        ("OKTA_HOOKS_SECRET", "another-secret-0123456789", "OKTA_HOOKS_SECRETS"),
        ("OKTA_HOOKS_OAUTH_ISUER", "https://x.okta.com/oauth2/default", "OKTA_HOOKS_OAUTH_ISSUER"),
        ("OKTA_HOOKS_EVENT_QUEUE", 10, "OKTA_HOOKS_EVENTS_QUEUE"),
    ],
)
def test_a_misspelt_key_fails_at_registration_naming_the_real_one(
    key: str, value: Any, meant: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        build_app(token_hooks(), **{key: value})

    assert str(raised.value) == f"{key} is not a flask-okta-hooks setting: did you mean {meant}?"


def test_a_key_like_no_setting_is_named_without_a_guess() -> None:
    with pytest.raises(ConfigurationError, match=r"^OKTA_HOOKS_COLOUR is not a .*: remove it"):
        build_app(token_hooks(), OKTA_HOOKS_COLOUR="blue")


def test_every_declared_setting_is_accepted() -> None:
    config = {f"OKTA_HOOKS_{setting.name}": setting.default for setting in SETTINGS}
    config["OKTA_HOOKS_SECRETS"] = [SECRET]

    app = build_app(token_hooks(), **config)

    assert post_json(app.test_client(), "/token", {}).status_code == 400  # served, not refused


def test_keys_outside_the_prefix_are_the_apps_own() -> None:
    app = build_app(token_hooks(), OKTA_DOMAIN="example.okta.com", SECRET_KEY="x", OKTA_HOOKS=1)

    assert app.config["OKTA_DOMAIN"] == "example.okta.com"


def test_a_second_prefix_checks_its_own_keys_only() -> None:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        OKTA_HOOKS_SECRETS=[SECRET],
        PARTNER_HOOKS_SECRETS=["partner-secret-0123456789"],
        PARTNER_HOOKS_DEADLINE=1.0,
    )
    app.register_blueprint(token_hooks())
    partner = token_hooks(name="partner", url_prefix="/partner", config_prefix="PARTNER_HOOKS_")
    app.register_blueprint(partner)

    app.config["PARTNER_HOOKS_DEADLNE"] = 1.0
    again = Flask(__name__)
    again.config.update(app.config)
    again.register_blueprint(token_hooks())  # OKTA_HOOKS_ has no misspelt key
    with pytest.raises(ConfigurationError, match="did you mean PARTNER_HOOKS_DEADLINE"):
        again.register_blueprint(partner)


@pytest.mark.parametrize("outer_first", [True, False], ids=["outer-first", "nested-first"])
def test_a_prefix_inside_another_is_not_taken_for_a_misspelling(outer_first: bool) -> None:
    outer = token_hooks()
    nested = token_hooks(name="partner", url_prefix="/partner", config_prefix="OKTA_HOOKS_PARTNER_")
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        OKTA_HOOKS_SECRETS=[SECRET],
        OKTA_HOOKS_PARTNER_SECRETS=["partner-secret-0123456789"],
    )
    for blueprint in (outer, nested) if outer_first else (nested, outer):
        app.register_blueprint(blueprint)

    client = app.test_client()
    assert post_json(client, "/token", {}).status_code == 400
    partner_call = client.post(
        "/partner/token", data=b"{}", headers=okta_headers("partner-secret-0123456789")
    )
    assert partner_call.status_code == 400  # authenticated with the partner's own secret
