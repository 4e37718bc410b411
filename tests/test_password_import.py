"""The password import hook end to end: typed credentials, explicit verdicts, no leaks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from flask_okta_hooks import (
    ErrorCause,
    HandlerResultError,
    OktaHooks,
    PasswordImportHookRequest,
    PasswordImportHookResponse,
    PasswordVerdict,
    ResponseRuleError,
    Secret,
)
from flask_okta_hooks.testing import (
    HookResult,
    HookWarning,
    assert_empty_response,
    assert_password_unverified,
    assert_password_verified,
    make_request,
    password_import_request,
)

from .conftest import build_app, post_json, response_schema, sample, sample_names
from .conftest import serve as serve_hook

CANARY = "canary-Pw-9c41e7"
UNVERIFIED = {
    "commands": [{"type": "com.okta.action.update", "value": {"credential": "UNVERIFIED"}}]
}
VERIFIED = {"commands": [{"type": "com.okta.action.update", "value": {"credential": "VERIFIED"}}]}


def password_payload(password: str | None = None, **action: Any) -> dict[str, Any]:
    """A realistic password import call, with another password or another ``data.action``."""
    return password_import_request(
        password=password, overrides={"data.action": action} if action else None
    )


def password_call(password: str | None = None) -> PasswordImportHookRequest:
    return make_request("password-import", password=password)


def serve(
    handler: Callable[[PasswordImportHookRequest], Any],
    payload: dict[str, Any] | None = None,
    **config: Any,
) -> HookResult:
    return serve_hook("password-import", handler, payload, **config)


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sample_names("password-import.request*.json"))
def test_every_request_sample_reaches_the_handler_typed(name: str) -> None:
    seen: list[PasswordImportHookRequest] = []
    hooks = OktaHooks()

    @hooks.password_import
    def handler(call: PasswordImportHookRequest) -> None:
        seen.append(call)

    response = post_json(build_app(hooks).test_client(), "/password-import", sample(name))

    assert response.status_code == 204  # Okta applies data.action: UNVERIFIED
    assert response.data == b""
    (call,) = seen
    payload = sample(name)
    credential = payload["data"]["context"]["credential"]
    assert call.event_id == payload["eventId"]
    # The raw payload stays whole, with the password wrapped in place.
    assert call.payload["data"]["context"]["credential"]["password"] is call.password
    call.payload["data"]["context"]["credential"]["password"] = credential["password"]
    assert call.payload == payload
    assert call.username == credential["username"]
    assert isinstance(call.password, Secret)
    assert call.password.reveal() == credential["password"]
    assert call.credential.password is call.password
    assert call.default_verdict is PasswordVerdict.UNVERIFIED
    assert call.request_info is not None
    assert call.request_info.url == payload["data"]["context"]["request"]["url"]["value"]
    assert call.request_info.method == "POST"


def test_unknown_members_are_ignored_but_reachable() -> None:
    payload = password_payload()
    payload["data"]["context"]["credential"]["hint"] = "new field"
    payload["futureMember"] = 1

    call = PasswordImportHookRequest.from_payload(payload)

    assert call.username == payload["data"]["context"]["credential"]["username"]
    assert call.payload["futureMember"] == 1
    assert call.context["credential"]["hint"] == "new field"


def test_an_unknown_default_verdict_stays_readable() -> None:
    call = PasswordImportHookRequest.from_payload(password_payload(credential="LATER"))

    assert call.default_verdict == "LATER"
    assert not isinstance(call.default_verdict, PasswordVerdict)


@pytest.mark.parametrize(
    ("credential", "field"),
    [
        ({"username": "u"}, "data.context.credential.password"),
        ({"username": "u", "password": True}, "data.context.credential.password"),
        ({"username": "u", "password": [CANARY]}, "data.context.credential.password"),
        ({"password": CANARY}, "data.context.credential.username"),
    ],
)
def test_a_handler_reading_a_missing_or_malformed_credential_gets_a_400(
    credential: dict[str, Any], field: str
) -> None:
    payload = password_payload()
    payload["data"]["context"]["credential"] = credential

    response = serve(lambda call: call.respond().verified() if call.password else None, payload)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert response.get_json()["error"]["fields"] == [field]
    assert CANARY.encode() not in response.data


def test_a_lone_surrogate_in_the_password_is_usable_without_crashing() -> None:
    call = password_call("pw\ud800")

    assert call.password.reveal_bytes() == b"pw\xed\xa0\x80"
    assert not call.password.matches("pw")


def test_a_lone_surrogate_over_http_is_refused_as_invalid_json() -> None:
    body = json.dumps(password_payload("PLACEHOLDER")).encode().replace(b"PLACEHOLDER", b"\\ud800")
    hooks = OktaHooks()
    hooks.password_import(lambda call: call.respond().verified())

    response = post_json(build_app(hooks).test_client(), "/password-import", body)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


# --- responses: every documented sample can be produced by the helper ------------------------

BUILDERS: dict[str, Callable[[PasswordImportHookResponse], PasswordImportHookResponse]] = {
    "password-import.response.verified.json": lambda r: r.verified(),
    "password-import.response.unverified.json": lambda r: r.unverified(),
}


@pytest.mark.parametrize("name", sample_names("password-import.response.*.json"))
def test_every_response_sample_is_produced_through_http(name: str) -> None:
    assert name in BUILDERS, f"no builder for the documented response {name}"

    response = serve(lambda call: BUILDERS[name](call.respond()))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    produced = response.get_json()
    assert produced == sample(name)
    jsonschema.validate(produced, response_schema("password-import"))


INVALID_RULES = {"password-import.response.bad-credential.json": ["credential_value"]}


@pytest.mark.parametrize("name", sample_names("password-import.*", folder="samples/invalid"))
def test_every_invalid_sample_is_caught_by_the_rule_check(name: str) -> None:
    violations = PasswordImportHookResponse.check(password_call(), sample(f"invalid/{name}"))

    assert [v.rule for v in violations] == INVALID_RULES[name]
    assert violations[0].location == "commands[0].value.credential"
    assert "VERIFIED or UNVERIFIED" in str(violations[0])


# --- the verdict: one, explicit, and VERIFIED only on request ---------------------------------


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (lambda r: r.verified().unverified(), "verdict_repeated"),
        (lambda r: r.unverified().verified(), "verdict_repeated"),
        (lambda r: r.verified().verified(), "verdict_repeated"),
        (lambda r: r.error("legacy store down").verified(), "error_without_unverified"),
        (lambda r: r.verified().error("too late"), "error_without_unverified"),
    ],
)
def test_contradicting_verdicts_fail_closed(
    action: Callable[[PasswordImportHookResponse], Any], rule: str
) -> None:
    # Okta documents one verdict, and that only VERIFIED accepts, but not what it does with
    # two, nor with an error beside VERIFIED: an ambiguous acceptance is never sent.
    with pytest.raises(ResponseRuleError, match=rule):
        action(password_call().respond())
    with pytest.raises(ResponseRuleError, match=rule):
        serve(lambda call: action(call.respond()))
    in_production = serve(lambda call: action(call.respond()), OKTA_HOOKS_STRICT=False)
    assert in_production.get_json() == UNVERIFIED


def test_an_error_always_travels_with_unverified() -> None:
    cause = ErrorCause("Legacy store unavailable", reason="DEPENDENCY", domain="external-service")
    response = password_call().respond().error("Sign-in is not possible right now", cause)

    body = response.to_dict()

    assert body == {
        "commands": UNVERIFIED["commands"],
        "error": {
            "errorSummary": "Sign-in is not possible right now",
            "errorCauses": [
                {
                    "errorSummary": "Legacy store unavailable",
                    "reason": "DEPENDENCY",
                    "domain": "external-service",
                }
            ],
        },
    }
    assert PasswordImportHookResponse.check(password_call(), body) == []
    jsonschema.validate(body, response_schema("password-import"))


@pytest.mark.parametrize(
    ("body", "rules"),
    [
        ({}, ["verdict_missing"]),
        ({"debugContext": {"code": "x"}}, ["verdict_missing"]),
        (
            {"commands": VERIFIED["commands"] + UNVERIFIED["commands"]},
            ["verdict_repeated"],
        ),
        ({"error": {"errorSummary": "x"}}, ["verdict_missing", "error_without_unverified"]),
        ({**VERIFIED, "error": {}}, ["error_without_unverified"]),
        (
            {"commands": [{"type": "com.okta.action.update", "value": "VERIFIED"}]},
            ["credential_shape"],
        ),
        (
            {
                "commands": [
                    {
                        "type": "com.okta.action.update",
                        "value": {"credential": "VERIFIED", "extra": 1},
                    }
                ]
            },
            ["credential_shape"],
        ),
        (
            {"commands": [{"type": "com.okta.action.update", "value": {"credential": ["x"]}}]},
            ["credential_value"],
        ),
        (
            {"commands": [{"type": "com.okta.action.update", "value": {"credential": "verified"}}]},
            ["credential_value"],
        ),
        (
            {"commands": [{"type": "com.okta.user.profile.update", "value": {"a": 1}}]},
            ["command_type"],
        ),
        ({"commands": {"type": "com.okta.action.update"}}, ["commands_shape"]),
    ],
)
def test_hand_built_bodies_are_checked(body: dict[str, Any], rules: list[str]) -> None:
    assert [v.rule for v in PasswordImportHookResponse.check(password_call(), body)] == rules


def test_a_handler_returning_none_is_unverified_with_a_204() -> None:
    response = serve(lambda call: None)

    assert_empty_response(response)
    assert_password_unverified(response)


@pytest.mark.parametrize(
    "action",
    [None, {"credential": "VERIFIED"}, {"credential": "LATER"}, {"credential": 1}, {}],
    ids=["no-action", "verified-default", "unknown-default", "malformed-default", "empty"],
)
def test_an_untrusted_default_makes_none_an_explicit_unverified(
    action: dict[str, Any] | None,
) -> None:
    payload = password_payload()
    if action is None:
        del payload["data"]["action"]
    else:
        payload["data"]["action"] = action

    response = serve(lambda call: None, payload)

    assert response.status_code == 200
    assert response.get_json() == UNVERIFIED


FAILING_HANDLERS: list[Callable[[PasswordImportHookRequest], Any]] = [
    lambda call: 1 / 0,
    lambda call: "VERIFIED",
    lambda call: {"commands": [{"type": "com.okta.action.update", "value": {"credential": "OK"}}]},
    lambda call: password_call().respond().verified(),  # answers another request
    lambda call: call.respond().verified().debug(loop=_cyclic()),
]


def _cyclic() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


#: Answers that break only precautions, and what production sends for each: the answer.
PRECAUTION_HANDLERS: list[tuple[Callable[[PasswordImportHookRequest], Any], Any, str]] = [
    (lambda call: call.respond(), {}, "verdict_missing"),
]


@pytest.mark.parametrize(("handler", "sent", "rule"), PRECAUTION_HANDLERS)
def test_in_production_an_answer_breaking_a_precaution_is_sent_with_a_warning(
    handler: Callable[[PasswordImportHookRequest], Any],
    sent: Any,
    rule: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="flask_okta_hooks"),
        pytest.warns(HookWarning, match=rule),
    ):
        response = serve(handler, OKTA_HOOKS_STRICT=False)

    assert response.status_code == 200
    assert response.get_json() == sent
    assert f"rules={rule}@" in caplog.text
    assert "outcome=fallback" not in caplog.text


def test_a_verified_answer_with_a_nested_debug_context_stays_verified_in_production() -> None:
    response = serve(
        lambda call: call.respond().verified().debug(legacy={"store": "ldap"}),
        OKTA_HOOKS_STRICT=False,
    )

    assert response.get_json() == {**VERIFIED, "debugContext": {"legacy": {"store": "ldap"}}}
    assert_password_verified(response)


def test_a_hand_built_verified_answer_with_a_long_debug_string_stays_verified() -> None:
    body = {**VERIFIED, "debugContext": {"note": "x" * 300, "legacy": {"store": "ldap"}}}

    response = serve(lambda call: body, OKTA_HOOKS_STRICT=False)

    assert response.get_json() == body


def test_the_password_is_refused_anywhere_in_the_debug_context() -> None:
    with pytest.raises(ResponseRuleError) as caught:
        password_call(CANARY).respond().verified().debug(legacy={"tried": ["x", CANARY]})
    assert caught.value.rules == ("secret_in_debug_context",)
    assert CANARY not in str(caught.value)


@pytest.mark.parametrize("handler", FAILING_HANDLERS)
def test_in_production_a_broken_handler_gets_an_explicit_unverified(
    handler: Callable[[PasswordImportHookRequest], Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = serve(handler, OKTA_HOOKS_STRICT=False)

    assert response.status_code == 200
    assert response.get_json() == UNVERIFIED
    assert "hook=password-import" in caplog.text
    jsonschema.validate(response.get_json(), response_schema("password-import"))


@pytest.mark.parametrize("handler", FAILING_HANDLERS)
def test_in_strict_mode_a_broken_handler_reaches_the_developer(
    handler: Callable[[PasswordImportHookRequest], Any],
) -> None:
    with pytest.raises((ResponseRuleError, HandlerResultError, ZeroDivisionError)):
        serve(handler, OKTA_HOOKS_STRICT=True)


def test_the_safe_outcome_is_unverified() -> None:
    outcome = PasswordImportHookResponse.safe_outcome(password_call())

    assert outcome.to_dict() == UNVERIFIED


@pytest.mark.parametrize(
    "handler",
    [
        lambda call: None,
        lambda call: call.respond().unverified(),
        lambda call: call.respond().error("no"),
        lambda call: call.respond().unverified().debug(rule="x"),
        lambda call: 1 / 0,
        lambda call: {"commands": [{"type": "com.okta.action.update", "value": {}}]},
    ],
)
def test_only_an_explicit_verified_lets_the_user_in(
    handler: Callable[[PasswordImportHookRequest], Any],
) -> None:
    response = serve(handler, OKTA_HOOKS_STRICT=False)

    assert b"VERIFIED" not in response.data.replace(b"UNVERIFIED", b"")
    # What Okta gets, whether the handler's answer or its failure outcome.
    assert_password_unverified(response.response)
    assert_password_verified(serve(lambda call: call.respond().verified()))


# --- the password never leaks ------------------------------------------------------------------


def leaky_handler(call: PasswordImportHookRequest) -> Any:
    """A careless handler: logs everything it has, then fails with the request in the text."""
    log = logging.getLogger("app.migration")
    log.debug("call %r credential %r %s", call, call.credential, call.credential)
    log.info("password %s / %r / %s", call.password, call.password, f"{call.password}")
    log.warning("vars %s", vars(call))
    raise ValueError(f"could not verify {call.credential!r} {call.password.reveal()}")


def test_the_password_appears_in_no_log_and_no_response(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    response = serve(leaky_handler, password_payload(CANARY), OKTA_HOOKS_STRICT=False)

    assert response.status_code == 200
    assert response.get_json() == UNVERIFIED
    assert "call <PasswordImportHookRequest" in caplog.text  # the handler's lines were logged
    assert "handler_error:ValueError" in caplog.text
    assert CANARY not in caplog.text
    assert CANARY.encode() not in response.data


def test_the_password_is_in_no_repr_of_the_request_nor_of_its_raw_payload() -> None:
    call = password_call(CANARY)

    shown = [
        repr(call),
        repr(call.credential),
        str(call.credential),
        repr(call.password),
        repr(call.payload),
        repr(call.data),
        repr(call.context),
    ]

    assert all(CANARY not in text for text in shown)
    assert call.password.reveal() == CANARY
