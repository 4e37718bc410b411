"""Canary sweep (T1.7): planted secrets never show up in a log record or a response.

Unique canaries stand for the auth header secret, a bearer token, a password, a one-time
code and a phone number. Careless handlers then do what careless handlers do: log the
call, its payload and the request's headers and environ, log revealed secrets in
f-strings, log exceptions, raise with secrets in the message, put secrets in
``debugContext`` or an ``error``. Every log record at DEBUG, from every logger, is
captured by a handler carrying :class:`~flask_okta_hooks.RedactingFilter` (the setup the
README recommends for an app's own handlers), and every response body is kept. Neither
may hold a canary.

The extension's own records are checked separately without that handler filter: they
are clean by construction (allowlisted fields), not by masking.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, request

from flask_okta_hooks import (
    HOOK_TYPES,
    HookRequest,
    OktaHooks,
    PasswordImportHookRequest,
    RedactingFilter,
    ResponseRuleError,
    TelephonyHookRequest,
)
from flask_okta_hooks.hook_types import HOOK_TYPES_BY_SLUG

from .conftest import PREFIX, REQUEST_SAMPLE, build_app, sample

AUTH = "canary-auth-5e1d9c7b3a2f8e6d"
PASSWORD = "canary-pass-4b7e1f0a"
OTP = "73918462"
PHONE = "+15550173946"
OPAQUE_BEARER = "canary-opaque-bearer-0a9b8c7d6e5f4a3b"
CANARIES = (AUTH, PASSWORD, OTP, PHONE, OPAQUE_BEARER)


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


#: A JWT-shaped bearer token (with a kid, so the verifier goes as far as fetching keys).
JWT_SIGNATURE = "canarysignature9f8e7d6c5b4a"
JWT = ".".join([b64url({"alg": "RS256", "kid": "canary-kid"}), b64url({"sub": "x"}), JWT_SIGNATURE])
ALL_CANARIES = (*CANARIES, JWT_SIGNATURE)

app_log = logging.getLogger("app.hooks")


class Capture(logging.Handler):
    """Every record, formatted with its exception text, as an app's handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("flask_okta_hooks").setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)
    logging.getLogger("flask_okta_hooks").setLevel(logging.NOTSET)


def planted(slug: str) -> dict[str, Any]:
    """The type's sample with the password, code and phone canaries planted."""
    payload: dict[str, Any] = copy.deepcopy(sample(REQUEST_SAMPLE[slug]))
    if slug == "password-import":
        payload["data"]["context"]["credential"]["password"] = PASSWORD
    if slug == "telephony":
        profile = payload["data"]["messageProfile"]
        profile.update(otpCode=OTP, msgTemplate=f"Your code is {OTP}", phoneNumber=PHONE)
    return payload


def secrets_of(call: HookRequest) -> list[str]:
    """What a careless handler reveals."""
    if isinstance(call, PasswordImportHookRequest):
        return [call.password.reveal(), call.username]
    if isinstance(call, TelephonyHookRequest):
        profile = call.message_profile
        return [profile.otp_code.reveal(), profile.message.reveal(), profile.phone_number]
    return [request.headers.get("Authorization", "")]


# --- careless handlers ------------------------------------------------------------------------


def logs_everything(call: HookRequest) -> Any:
    app_log.debug("call %r", call)
    app_log.info("payload %s", call.payload)
    app_log.info("vars %r", vars(call))
    app_log.info("data %s", call.data)
    app_log.info("headers %s", dict(request.headers))
    app_log.info("environ %s", request.environ)
    app_log.info("auth header %s", request.headers.get("Authorization"))
    return None


def logs_revealed_secrets(call: HookRequest) -> Any:
    for value in secrets_of(call):
        app_log.warning(f"checking {value} now")
        logging.getLogger("flask_okta_hooks").info(f"extension logger sees {value}")
    return None


def logs_an_exception(call: HookRequest) -> Any:
    try:
        raise ValueError(f"bad input: {secrets_of(call)}")
    except ValueError:
        app_log.exception("handler failed")
    return None


def raises_with_secrets(call: HookRequest) -> Any:
    raise RuntimeError(f"provider refused {secrets_of(call)}")


def puts_secrets_in_debug_context(call: HookRequest) -> Any:
    return {"debugContext": {"echo": secrets_of(call)[0]}}


def puts_secrets_in_an_error(call: HookRequest) -> Any:
    return call.respond().error(f"could not use {secrets_of(call)[0]}")  # type: ignore[attr-defined]


HANDLERS: dict[str, Callable[[Any], Any]] = {
    "logs everything": logs_everything,
    "logs revealed secrets": logs_revealed_secrets,
    "logs an exception": logs_an_exception,
    "raises with secrets": raises_with_secrets,
    "puts secrets in debugContext": puts_secrets_in_debug_context,
    "puts secrets in an error": puts_secrets_in_an_error,
}


def assert_clean(texts: list[str] | list[bytes]) -> None:
    for text in texts:
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        for canary in ALL_CANARIES:
            assert canary not in shown, f"canary {canary!r} leaked: {shown[:300]}"


def serve(slug: str, handler: Callable[[Any], Any], **config: Any) -> Any:
    hooks = OktaHooks()
    hooks.mount(HOOK_TYPES_BY_SLUG[slug], handler)
    settings = {"OKTA_HOOKS_STRICT": False, "OKTA_HOOKS_SECRETS": [AUTH], **config}
    app = build_app(hooks, **settings)
    headers = {"Content-Type": "application/json", "Authorization": AUTH}
    return app.test_client().post(
        PREFIX + HOOK_TYPES_BY_SLUG[slug].default_path,
        data=json.dumps(planted(slug)),
        headers=headers,
    )


@pytest.mark.parametrize("behaviour", HANDLERS, ids=list(HANDLERS))
@pytest.mark.parametrize("slug", [t.slug for t in HOOK_TYPES])
def test_no_canary_reaches_a_log_or_a_response(slug: str, behaviour: str, capture: Capture) -> None:
    response = serve(slug, HANDLERS[behaviour])

    # Never a 500; a 503 only from a hook type that refuses failed calls (event hooks).
    refusal = HOOK_TYPES_BY_SLUG[slug].response_class.failure_refusal
    assert response.status_code < 500 or (
        refusal is not None and response.status_code == refusal.status
    )
    assert_clean([response.data])
    assert_clean(capture.lines)
    assert any("okta hook call:" in line for line in capture.lines)  # the sweep saw the call


def test_the_careless_handlers_did_write_their_lines(capture: Capture) -> None:
    serve("telephony", logs_everything)
    serve("telephony", logs_revealed_secrets)

    text = "\n".join(capture.lines)
    assert "payload {'eventId'" in text
    assert "checking <redacted> now" in text
    assert "extension logger sees <redacted>" in text


@pytest.mark.parametrize("slug", [t.slug for t in HOOK_TYPES])
def test_the_extensions_own_records_are_clean_without_masking(slug: str, capture: Capture) -> None:
    logger = logging.getLogger("flask_okta_hooks")
    filters = list(logger.filters)
    for extension_filter in filters:
        logger.removeFilter(extension_filter)
    capture.filters.clear()
    try:
        for behaviour in ("raises with secrets", "puts secrets in debugContext"):
            serve(slug, HANDLERS[behaviour])
        serve(slug, logs_everything, OKTA_HOOKS_DEADLINE=2.0)
    finally:
        for extension_filter in filters:
            logger.addFilter(extension_filter)

    own = [r for r in capture.records if r.name.startswith("flask_okta_hooks")]
    assert own
    assert_clean([r.getMessage() for r in own])


def test_a_strict_mode_rule_error_does_not_quote_the_secret() -> None:
    with pytest.raises(ResponseRuleError) as caught:
        serve("password-import", puts_secrets_in_debug_context, OKTA_HOOKS_STRICT=True)

    assert_clean([str(caught.value), repr(caught.value.violations)])


# --- bearer tokens ----------------------------------------------------------------------------


@pytest.fixture
def oauth_app() -> Flask:
    hooks = OktaHooks()
    hooks.token(logs_everything)
    return build_app(
        hooks,
        OKTA_HOOKS_STRICT=False,
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_SECRETS=None,
        OKTA_HOOKS_OAUTH_ISSUER="http://127.0.0.1:9/oauth2/default",
        OKTA_HOOKS_OAUTH_AUDIENCE="api://default",
        OKTA_HOOKS_OAUTH_JWKS_TIMEOUT=0.2,
    )


@pytest.mark.parametrize("token", [OPAQUE_BEARER, JWT], ids=["opaque", "jwt"])
def test_no_bearer_token_canary_reaches_a_log_or_a_response(
    oauth_app: Flask, token: str, capture: Capture
) -> None:
    capture.filters.clear()  # bearer tokens never reach a record: no masking needed
    response = oauth_app.test_client().post(
        PREFIX + "/token",
        data=json.dumps(sample("token.request.json")),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )

    assert response.status_code in (401, 503)
    assert_clean([response.data])
    assert_clean(capture.lines)
