"""Custom headers Okta sends with every call (``OKTA_HOOKS_REQUIRED_HEADERS``), through HTTP.

An admin can add headers to a hook in Okta, an API gateway's key for instance; the
endpoints then refuse calls without them exactly as they refuse a wrong secret.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug.test import TestResponse

from flask_okta_hooks import HOOK_TYPES, ConfigurationError, HookType, OktaHooks
from flask_okta_hooks.testing import (
    OktaClient,
    SigningKey,
    assert_verification_answered,
    make_payload,
)

from .conftest import PREFIX, build_app, okta_headers, safe_outcome_handler

GATEWAY_KEY = "gw-key-7d1c9a3e5f20b8"
NEXT_GATEWAY_KEY = "gw-key-next-41aa09c3d2"
REQUIRED = {"X-Gateway-Key": GATEWAY_KEY}
ISSUER = "https://example.okta.com/oauth2/aus5kq2m1hWdT7bXy4x7"
VERIFIED_TYPES = [t for t in HOOK_TYPES if "GET" in t.methods]


@pytest.fixture(params=HOOK_TYPES, ids=[t.slug for t in HOOK_TYPES])
def hook_type(request: pytest.FixtureRequest) -> HookType:
    result: HookType = request.param
    return result


def every_hook_app(**config: Any) -> Flask:
    hooks = OktaHooks()
    for hook_type in HOOK_TYPES:
        hooks.mount(hook_type, safe_outcome_handler(hook_type))
    return build_app(hooks, **{"OKTA_HOOKS_REQUIRED_HEADERS": REQUIRED, **config})


@pytest.fixture
def app() -> Flask:
    return every_hook_app()


def post(client: FlaskClient, hook_type: HookType, headers: dict[str, str], **kw: Any) -> Any:
    body = json.dumps(make_payload(hook_type)).encode()
    return client.post(PREFIX + hook_type.default_path, data=body, headers=headers, **kw)


def expect_unauthorized(response: TestResponse) -> None:
    assert response.status_code == 401, response.data
    assert response.get_json() == {
        "error": {"code": "unauthorized", "message": "The request is not authenticated."}
    }


def test_a_call_with_the_header_is_served(okta_client: OktaClient, hook_type: HookType) -> None:
    assert okta_client.post(hook_type).status_code in (200, 204)


WRONG = {
    "missing": None,
    "empty": "",
    "another value": "gw-key-0000000000000",
    "a prefix": GATEWAY_KEY[:-1],
    "padded": GATEWAY_KEY + " ",
    "other case": GATEWAY_KEY.upper(),
}


@pytest.mark.parametrize("presented", WRONG.values(), ids=WRONG.keys())
def test_a_call_without_the_header_or_with_another_value_is_refused(
    app: Flask, hook_type: HookType, presented: str | None
) -> None:
    headers = okta_headers() if presented is None else okta_headers(**{"X-Gateway-Key": presented})

    expect_unauthorized(post(app.test_client(), hook_type, headers))


def test_a_duplicated_header_is_refused(app: Flask, hook_type: HookType) -> None:
    headers = [*okta_headers().items(), ("X-Gateway-Key", GATEWAY_KEY)]

    expect_unauthorized(post(app.test_client(), hook_type, [*headers, ("X-Gateway-Key", "x")]))


@pytest.mark.parametrize("hook_type", VERIFIED_TYPES, ids=[t.slug for t in VERIFIED_TYPES])
def test_the_verification_get_needs_the_header_too(app: Flask, hook_type: HookType) -> None:
    okta = OktaClient(app)

    assert_verification_answered(okta.verify("c-9a8b", hook=hook_type), "c-9a8b")
    refused = okta.verify("c-9a8b", hook=hook_type, headers={"X-Gateway-Key": ""})
    expect_unauthorized(refused.response)


def test_the_header_is_checked_before_the_body_is_read(app: Flask, hook_type: HookType) -> None:
    stream = io.BytesIO(b'{"not": "read"}' * 100)

    response = app.test_client().post(
        PREFIX + hook_type.default_path, input_stream=stream, headers=okta_headers()
    )

    expect_unauthorized(response)
    assert stream.tell() == 0


def test_values_rotate_and_names_match_case_insensitively(hook_type: HookType) -> None:
    required = {"x-gateway-key": [GATEWAY_KEY, NEXT_GATEWAY_KEY], "X-Region": "eu-1"}
    client = every_hook_app(OKTA_HOOKS_REQUIRED_HEADERS=required).test_client()

    for key in (GATEWAY_KEY, NEXT_GATEWAY_KEY):
        served = post(client, hook_type, okta_headers(**{"X-GATEWAY-KEY": key, "X-Region": "eu-1"}))
        assert served.status_code in (200, 204)
    expect_unauthorized(post(client, hook_type, okta_headers(**{"X-Gateway-Key": GATEWAY_KEY})))


def test_the_secret_is_still_needed(app: Flask, hook_type: HookType) -> None:
    headers = okta_headers("wrong-secret-00000000", **{"X-Gateway-Key": GATEWAY_KEY})

    expect_unauthorized(post(app.test_client(), hook_type, headers))


def test_headers_are_compared_as_bytes_in_constant_time(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    required = {"X-Gateway-Key": ["wrong-first-000000000", GATEWAY_KEY], "X-Region": "eu-1"}
    app.config["OKTA_HOOKS_REQUIRED_HEADERS"] = required
    hook_type = HOOK_TYPES[0]
    post(
        app.test_client(), hook_type, okta_headers(**{"X-Gateway-Key": "w\u00e9", "X-Region": "x"})
    )

    assert [b for _, b in compared] == [b"wrong-first-000000000", GATEWAY_KEY.encode(), b"eu-1"]
    assert all(type(a) is bytes for a, _ in compared)


def test_the_values_never_reach_the_logs(
    app: Flask, caplog: pytest.LogCaptureFixture, hook_type: HookType
) -> None:
    client = app.test_client()
    with caplog.at_level(logging.DEBUG, logger="flask_okta_hooks"):
        post(client, hook_type, okta_headers(**{"X-Gateway-Key": GATEWAY_KEY}))
        post(client, hook_type, okta_headers(**{"X-Gateway-Key": "gw-key-0000000000000"}))
        logging.getLogger("flask_okta_hooks").warning("gateway sent %s", GATEWAY_KEY)

    assert caplog.records
    assert GATEWAY_KEY not in caplog.text
    assert "gw-key-0000000000000" not in caplog.text
    assert "gateway sent <redacted>" in caplog.text


# --- OAuth 2.0 mode --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


def oauth_app(httpserver: HTTPServer, key: SigningKey) -> Flask:
    httpserver.expect_request("/v1/keys").respond_with_json(key.jwks())
    return every_hook_app(
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_OAUTH_ISSUER=ISSUER,
        OKTA_HOOKS_OAUTH_AUDIENCE="api://okta-hooks",
        OKTA_HOOKS_OAUTH_JWKS_URL=httpserver.url_for("/v1/keys"),
    )


def test_oauth_mode_needs_the_header_besides_the_token(httpserver: HTTPServer) -> None:
    key = SigningKey()
    app = oauth_app(httpserver, key)
    settings = app.extensions["okta_hooks"]["OKTA_HOOKS_"].settings.get(app.config)
    bearer = {"Authorization": f"Bearer {key.token_for(settings.oauth)}"}
    client = app.test_client()
    token_hook = HOOK_TYPES[0]
    assert token_hook.bearer_auth

    refused = post(client, token_hook, {**okta_headers(None), **bearer})
    assert httpserver.log == []  # refused before any signing-key fetch
    served = post(client, token_hook, {**okta_headers(None), **bearer, **REQUIRED})

    expect_unauthorized(refused)
    assert served.status_code in (200, 204)
    assert len(httpserver.log) == 1


def test_oauth_mode_event_hooks_need_the_header_and_the_secret(httpserver: HTTPServer) -> None:
    app = oauth_app(httpserver, SigningKey())
    events = next(t for t in HOOK_TYPES if not t.bearer_auth)
    client = app.test_client()

    expect_unauthorized(post(client, events, okta_headers()))
    assert post(client, events, okta_headers(**REQUIRED)).status_code == 204
    assert OktaClient(app).post(events).status_code == 204


# --- start-up --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("required", "message"),
    [
        (["X-Gateway-Key"], "must be a dict of header name to value"),
        ("X-Gateway-Key: abc", "must be a dict of header name to value"),
        ({"X Gateway": GATEWAY_KEY}, "names 'X Gateway', which is not an HTTP header name"),
        ({"": GATEWAY_KEY}, "which is not an HTTP header name"),
        ({"X-Gateway-Key": ""}, r"\['X-Gateway-Key'\] must hold non-empty strings"),
        ({"X-Gateway-Key": "  "}, "must hold non-empty strings"),
        ({"X-Gateway-Key": None}, "must be a string or a list of strings"),
        ({"X-Gateway-Key": 42}, "must be a string or a list of strings"),
        ({"X-Gateway-Key": [GATEWAY_KEY, 7]}, "must hold non-empty strings"),
        ({"X-Gateway-Key": []}, "must hold at least one value"),
        ({"X-Gateway-Key": "a", "x-gateway-key": "b"}, "names the header 'x-gateway-key' twice"),
        ({"authorization": GATEWAY_KEY}, "carries the authentication itself"),
    ],
)
def test_bad_required_headers_fail_at_start_up(required: Any, message: str) -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)

    with pytest.raises(ConfigurationError, match=message) as raised:
        build_app(hooks, OKTA_HOOKS_REQUIRED_HEADERS=required)
    assert str(raised.value).startswith("OKTA_HOOKS_REQUIRED_HEADERS")


def test_the_authorization_header_may_be_required_when_the_secret_is_elsewhere() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)
    app = build_app(
        hooks,
        OKTA_HOOKS_AUTH_HEADER="X-Okta-Secret",
        OKTA_HOOKS_REQUIRED_HEADERS={"Authorization": "Basic Z3c6a2V5LTEyMzQ1Ng=="},
    )

    assert OktaClient(app).post("token").status_code == 204
