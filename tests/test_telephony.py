"""The telephony hook end to end: typed message profile, delivery results, a fast fallback."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from flask_okta_hooks import (
    DeliveryChannel,
    ErrorCause,
    HandlerResultError,
    OktaHooks,
    ResponseRuleError,
    Secret,
    TelephonyHookRequest,
    TelephonyHookResponse,
    TelephonyRequestType,
)
from flask_okta_hooks.hooks.telephony import FALLBACK_SUMMARY
from flask_okta_hooks.testing import (
    HookResult,
    assert_okta_accepts,
    assert_telephony_fallback,
    assert_telephony_status,
    telephony_request,
)

from .conftest import build_app, post_json, response_schema, sample, sample_names
from .conftest import serve as serve_hook

CANARY_CODE = "481516"
CANARY_TEXT = f"Your code is {CANARY_CODE}"
SAFE_OUTCOME = {"error": {"errorSummary": FALLBACK_SUMMARY}}


def telephony_payload(**message: Any) -> dict[str, Any]:
    """Okta's telephony sample, with members of ``messageProfile`` replaced (None drops)."""
    payload: dict[str, Any] = copy.deepcopy(sample("telephony.request.json"))
    profile = payload["data"]["messageProfile"]
    for name, value in message.items():
        if value is None:
            del profile[name]
        else:
            profile[name] = value
    return payload


def telephony_call(**message: Any) -> TelephonyHookRequest:
    return TelephonyHookRequest.from_payload(telephony_payload(**message))


def serve(
    handler: Callable[[TelephonyHookRequest], Any],
    payload: dict[str, Any] | None = None,
    **config: Any,
) -> HookResult:
    return serve_hook("telephony", handler, payload or telephony_payload(), **config)


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sample_names("telephony.request*.json"))
def test_every_request_sample_reaches_the_handler_typed(name: str) -> None:
    seen: list[TelephonyHookRequest] = []
    hooks = OktaHooks()

    @hooks.telephony
    def handler(call: TelephonyHookRequest) -> TelephonyHookResponse:
        seen.append(call)
        return call.respond().successful("TEST")

    response = post_json(build_app(hooks).test_client(), "/telephony", sample(name))

    assert response.status_code == 200
    (call,) = seen
    payload = sample(name)
    message = payload["data"]["messageProfile"]
    user = payload["data"]["userProfile"]
    assert call.event_id == payload["eventId"]
    assert call.request_type == payload["requestType"]
    assert isinstance(call.request_type, TelephonyRequestType)
    assert call.user_profile.user_id == user["userId"]
    assert call.user_profile.login == user["login"]
    assert call.user_profile.first_name == user["firstName"]
    assert call.user_profile.last_name == user["lastName"]
    profile = call.message_profile
    assert profile.phone_number == message["phoneNumber"]
    assert isinstance(profile.otp_code, Secret)
    assert profile.otp_code.reveal() == message["otpCode"]
    assert profile.message is not None
    assert profile.message.reveal() == message["msgTemplate"]
    assert profile.raw_delivery_channel == message["deliveryChannel"]
    assert profile.locale == message["locale"]
    assert profile.otp_expires is not None
    assert call.request_info is not None
    assert call.request_info.url == payload["data"]["context"]["request"]["url"]["value"]


def test_request_sections_are_typed() -> None:
    call = telephony_call()

    assert call.request_type is TelephonyRequestType.PRE_ENROLLMENT
    assert call.message_profile.delivery_channel is DeliveryChannel.SMS
    assert call.message_profile.otp_expires == datetime(2022, 1, 28, 21, 48, 34, 321000, UTC)
    assert call.message_profile.phone_number == "9876543210"
    assert call.user_profile.user_id == "00uyxxSknGtK8022w0g3"


@pytest.mark.parametrize("request_type", list(TelephonyRequestType))
def test_every_documented_request_type_is_an_enum_member(
    request_type: TelephonyRequestType,
) -> None:
    payload = telephony_payload()
    payload["requestType"] = request_type.value

    assert TelephonyHookRequest.from_payload(payload).request_type is request_type


def test_an_unknown_or_missing_request_type_stays_readable() -> None:
    payload = telephony_payload()
    payload["requestType"] = "com.okta.user.telephony.future-flow"
    unknown = TelephonyHookRequest.from_payload(payload)
    del payload["requestType"]
    missing = TelephonyHookRequest.from_payload(payload)

    assert unknown.request_type == "com.okta.user.telephony.future-flow"
    assert not isinstance(unknown.request_type, TelephonyRequestType)
    assert missing.request_type is None


@pytest.mark.parametrize(
    ("sent", "channel"),
    [
        ("SMS", DeliveryChannel.SMS),
        ("sms", DeliveryChannel.SMS),
        (" Sms ", DeliveryChannel.SMS),
        ("voice call", DeliveryChannel.VOICE),
        ("Voice Call", DeliveryChannel.VOICE),
        ("CALL", DeliveryChannel.VOICE),
        ("VOICE", DeliveryChannel.VOICE),
        (None, None),
    ],
)
def test_the_delivery_channel_ignores_case_and_anything_but_sms_is_voice(
    sent: str | None, channel: DeliveryChannel | None
) -> None:
    profile = telephony_call(deliveryChannel=sent).message_profile

    assert profile.delivery_channel is channel
    assert profile.raw_delivery_channel == sent


def test_numbers_where_okta_documents_strings_are_read_as_text() -> None:
    profile = telephony_call(phoneNumber=9876543210, otpCode=11111).message_profile

    assert profile.phone_number == "9876543210"
    assert profile.otp_code.reveal() == "11111"


def test_optional_members_may_be_absent() -> None:
    call = telephony_call(msgTemplate=None, otpExpires=None, locale=None)
    del call.data["userProfile"]

    assert call.message_profile.message is None
    assert call.message_profile.otp_expires is None
    assert call.message_profile.locale is None
    assert call.user_profile.user_id is None


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"otpCode": None}, "data.messageProfile.otpCode"),
        ({"phoneNumber": None}, "data.messageProfile.phoneNumber"),
        ({"phoneNumber": ["1"]}, "data.messageProfile.phoneNumber"),
        ({"otpCode": 1.5}, "data.messageProfile.otpCode"),
        ({"otpExpires": "soon"}, "data.messageProfile.otpExpires"),
    ],
)
def test_a_handler_reading_a_malformed_message_profile_gets_a_400(
    message: dict[str, Any], field: str
) -> None:
    response = serve(
        lambda call: call.respond().successful(str(call.message_profile)),
        telephony_payload(**message),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert response.get_json()["error"]["fields"] == [field]


def test_a_missing_message_profile_is_a_400_when_read() -> None:
    payload = telephony_payload()
    del payload["data"]["messageProfile"]

    response = serve(lambda call: call.respond().successful(str(call.message_profile)), payload)

    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == ["data.messageProfile"]


def test_unknown_members_are_ignored_but_reachable() -> None:
    payload = telephony_payload(carrier="ACME")
    payload["data"]["userProfile"]["middleName"] = "Q"

    call = TelephonyHookRequest.from_payload(payload)

    assert call.message_profile.phone_number == "9876543210"
    assert call.data["messageProfile"]["carrier"] == "ACME"
    assert call.data["userProfile"]["middleName"] == "Q"


# --- responses: every documented sample can be produced by the helper ------------------------

BUILDERS: dict[str, Callable[[TelephonyHookResponse], TelephonyHookResponse]] = {
    "telephony.response.json": lambda r: r.successful(
        "VONAGE", transaction_id="SM49a8ece2822d44e4adaccd7ed268f954", metadata="Duration=300ms"
    ),
    "telephony.response.error.json": lambda r: r.error(
        "Failed to deliver SMS OTP to test.user@okta.com",
        ErrorCause(
            "Provider could not deliver OTP",
            reason="The content of the message is not supported",
            location="South Africa",
        ),
    ),
}


@pytest.mark.parametrize("name", sample_names("telephony.response*.json"))
def test_every_response_sample_is_produced_through_http(name: str) -> None:
    assert name in BUILDERS, f"no builder for the documented response {name}"

    response = serve(lambda call: BUILDERS[name](call.respond()))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    produced = response.get_json()
    assert produced == sample(name)
    jsonschema.validate(produced, response_schema("telephony"))


INVALID_RULES = {
    "telephony.response.bad-status.json": [("status_value", "commands[0].value[0].status")],
    "telephony.response.openapi-failure-example.json": [("error_shape", "error")],
    "telephony.response.value-object.json": [("results_shape", "commands[0].value")],
}


@pytest.mark.parametrize("name", sample_names("telephony.*", folder="samples/invalid"))
def test_every_invalid_sample_is_caught_by_the_rule_check(name: str) -> None:
    violations = TelephonyHookResponse.check(telephony_call(), sample(f"invalid/{name}"))

    assert [(v.rule, v.location) for v in violations] == INVALID_RULES[name]


# --- rules at the call site -------------------------------------------------------------------


def test_every_status_goes_into_one_command_whose_value_is_an_array() -> None:
    response = (
        telephony_call()
        .respond()
        .pending("TWILIO", transaction_id="t1")
        .failed(metadata="carrier rejected")
        .successful()
    )

    body = response.to_dict()

    assert body == {
        "commands": [
            {
                "type": "com.okta.telephony.action",
                "value": [
                    {"status": "PENDING", "provider": "TWILIO", "transactionId": "t1"},
                    {"status": "FAILED", "transactionMetadata": "carrier rejected"},
                    {"status": "SUCCESSFUL"},
                ],
            }
        ]
    }
    assert TelephonyHookResponse.check(telephony_call(), body) == []
    jsonschema.validate(body, response_schema("telephony"))


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (lambda r: r.successful().error("too late"), "error_with_result"),
        (lambda r: r.error("gave up").pending(), "error_with_result"),
        (lambda r: r.successful(42), "result_member"),
        (lambda r: r.successful().failed(transaction_id=7), "result_member"),
        (lambda r: r.pending(metadata={"ms": 300}), "result_member"),
    ],
)
def test_answers_okta_would_misread_are_refused(
    action: Callable[[TelephonyHookResponse], Any], rule: str
) -> None:
    with pytest.raises(ResponseRuleError) as caught:
        action(telephony_call().respond())

    assert caught.value.rules == (rule,)


RESULT = {"type": "com.okta.telephony.action", "value": [{"status": "SUCCESSFUL"}]}


@pytest.mark.parametrize(
    ("body", "rules"),
    [
        ({}, ["no_outcome"]),
        ({"debugContext": {"ms": 3}}, ["no_outcome"]),
        ({"commands": []}, ["no_outcome"]),
        ({"commands": [RESULT, RESULT]}, ["action_repeated"]),
        ({"commands": [RESULT], "error": {"errorSummary": "x"}}, ["error_with_result"]),
        ({"commands": [{**RESULT, "value": []}]}, ["results_shape"]),
        ({"commands": [{**RESULT, "value": [{}]}]}, ["result_shape"]),
        ({"commands": [{**RESULT, "value": ["SUCCESSFUL"]}]}, ["result_shape"]),
        (
            {"commands": [{**RESULT, "value": [{"status": "SUCCESSFUL", "cost": "1"}]}]},
            ["result_shape"],
        ),
        ({"commands": [{**RESULT, "value": [{"status": "successful"}]}]}, ["status_value"]),
        ({"commands": [{**RESULT, "value": [{"status": ["FAILED"]}]}]}, ["status_value"]),
        (
            {"commands": [{**RESULT, "value": [{"status": "FAILED", "provider": None}]}]},
            ["result_member"],
        ),
        ({"commands": [{"type": "com.okta.action.update", "value": {}}]}, ["command_type"]),
        ({"error": {}}, []),
    ],
)
def test_hand_built_bodies_are_checked(body: dict[str, Any], rules: list[str]) -> None:
    assert [v.rule for v in TelephonyHookResponse.check(telephony_call(), body)] == rules


# --- handler outcomes through HTTP ------------------------------------------------------------


@pytest.mark.parametrize("request_type", list(TelephonyRequestType))
def test_every_flow_gets_its_delivery_result(request_type: TelephonyRequestType) -> None:
    def deliver(call: TelephonyHookRequest) -> TelephonyHookResponse:
        flow = str(call.request_type).rsplit(".", 1)[-1]
        return call.respond().successful("ACME-SMS", transaction_id=f"tx-{flow}")

    response = serve(deliver, telephony_request(request_type=request_type))

    flow = request_type.value.rsplit(".", 1)[-1]
    assert_telephony_status(
        response, "SUCCESSFUL", provider="ACME-SMS", transaction_id=f"tx-{flow}"
    )
    assert_okta_accepts(response)


def test_a_handler_returning_none_is_a_mistake_in_strict_mode() -> None:
    with pytest.raises(HandlerResultError, match="empty answer"):
        serve(lambda call: None, OKTA_HOOKS_STRICT=True)


@pytest.mark.parametrize(
    "handler",
    [
        lambda call: None,
        lambda call: 1 / 0,
        lambda call: call.respond(),
        lambda call: call.respond().successful().error("x"),
        lambda call: sample("invalid/telephony.response.value-object.json"),
        lambda call: {"commands": [RESULT], "error": {}},
    ],
)
def test_in_production_a_broken_handler_hands_delivery_back_to_okta_at_once(
    handler: Callable[[TelephonyHookRequest], Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = serve(handler, OKTA_HOOKS_STRICT=False)

    assert response.status_code == 200
    assert response.get_json() == SAFE_OUTCOME
    # The failure outcome itself, not the handler's answer: the HTTP answer alone.
    assert_telephony_fallback(response.response)
    assert_okta_accepts(response.response, response.request)
    assert "hook=telephony" in caplog.text
    jsonschema.validate(response.get_json(), response_schema("telephony"))


def test_the_safe_outcome_is_a_generic_error() -> None:
    outcome = TelephonyHookResponse.safe_outcome(telephony_call())

    assert outcome.to_dict() == SAFE_OUTCOME
    assert TelephonyHookResponse.check(telephony_call(), outcome.to_dict()) == []


# --- the code never leaks ---------------------------------------------------------------------


def leaky_handler(call: TelephonyHookRequest) -> Any:
    """A careless handler: logs everything it has, then fails with the code in the text."""
    log = logging.getLogger("app.sms")
    profile = call.message_profile
    log.debug("call %r payload %s profile %r", call, call.payload, profile)
    log.info("code %s text %s / %r", profile.otp_code, profile.message, vars(call))
    raise RuntimeError(f"provider refused {profile.otp_code.reveal()} to {profile.phone_number}")


def test_the_code_and_message_appear_in_no_log_and_no_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = telephony_payload(otpCode=CANARY_CODE, msgTemplate=CANARY_TEXT)

    response = serve(leaky_handler, payload, OKTA_HOOKS_STRICT=False)

    assert response.get_json() == SAFE_OUTCOME
    assert "payload {'eventId'" in caplog.text  # the handler's lines were logged
    assert "handler_error:RuntimeError" in caplog.text
    assert CANARY_CODE not in caplog.text
    assert CANARY_CODE.encode() not in response.data


def test_the_code_is_in_no_repr_of_the_request() -> None:
    call = telephony_call(otpCode=CANARY_CODE, msgTemplate=CANARY_TEXT)

    shown = repr(call) + repr(call.message_profile) + repr(call.payload) + repr(call.user_profile)

    assert CANARY_CODE not in shown
    assert "9876543210" not in repr(call.message_profile)
    assert "test.user" not in repr(call.user_profile)
