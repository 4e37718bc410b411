"""The registration inline hook end to end, in both flows: Okta's samples, Okta's rules."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from flask_okta_hooks import (
    ErrorCause,
    OktaHooks,
    RegistrationFlow,
    RegistrationHookRequest,
    RegistrationHookResponse,
    ResponseRuleError,
    field_error,
)

from .conftest import build_app, post_json, response_schema, sample, sample_names

SSR = "registration.request.ssr.json"
PP = "registration.request.progressive-profile.json"
CLASSIC = "registration.request.classic-ssr.json"
FLOW_SCHEMA = {
    RegistrationFlow.SELF_SERVICE_REGISTRATION: "registration-ssr",
    RegistrationFlow.PROGRESSIVE_PROFILE: "registration-progressive-profile",
}
SSR_MESSAGE = "There was an error creating your account. Please try registering again."
PP_MESSAGE = "There was an error updating your profile. Please try again later."


def registration_call(name: str = SSR, **data: Any) -> RegistrationHookRequest:
    payload = copy.deepcopy(sample(name))
    payload["data"].update(data)
    return RegistrationHookRequest.from_payload(payload)


def assert_valid_for(flow: RegistrationFlow, body: dict[str, Any]) -> None:
    jsonschema.validate(body, response_schema("registration"))
    jsonschema.validate(body, response_schema(FLOW_SCHEMA[flow]))


# --- requests ---------------------------------------------------------------------------------

#: The flow each documented request is for: Classic Engine sends no requestType.
REQUEST_FLOWS = {
    SSR: RegistrationFlow.SELF_SERVICE_REGISTRATION,
    PP: RegistrationFlow.PROGRESSIVE_PROFILE,
    CLASSIC: RegistrationFlow.SELF_SERVICE_REGISTRATION,
}


@pytest.mark.parametrize("name", sample_names("registration.request*.json"))
def test_every_request_sample_reaches_the_handler_typed(name: str) -> None:
    seen: list[RegistrationHookRequest] = []
    hooks = OktaHooks()

    @hooks.registration
    def handler(call: RegistrationHookRequest) -> None:
        seen.append(call)

    response = post_json(build_app(hooks).test_client(), "/registration", sample(name))

    assert response.status_code == 204  # Okta goes on without changes
    assert response.data == b""
    (call,) = seen
    payload = sample(name)
    data = payload["data"]
    assert call.payload == payload
    assert call.event_id == payload["eventId"]
    assert call.flow is REQUEST_FLOWS[name]
    assert call.action == data["action"]
    assert call.request_info is not None
    assert call.request_info.url == data["context"]["request"]["url"]["value"]
    submitted = data.get("userProfileUpdate", data.get("userProfile"))
    assert call.submitted.attributes == submitted


def test_self_service_registration_is_typed() -> None:
    call = registration_call(SSR)

    assert call.request_type == "self.service.registration"
    assert call.is_self_service_registration
    assert not call.is_progressive_profile
    assert call.user_profile is not None
    assert call.user_profile.email == "rosario.jones@example.com"
    assert call.user_profile.login == "rosario.jones@example.com"
    assert call.user_profile.first_name == "Rosario"
    assert call.submitted is call.user_profile
    assert call.profile_update is None
    assert call.user is None
    assert call.action == "ALLOW"


def test_progressive_profile_is_typed() -> None:
    call = registration_call(PP)

    assert call.is_progressive_profile
    assert not call.is_self_service_registration
    assert call.profile_update is not None
    assert call.profile_update.get("employeeNumber") == "1234"
    assert call.submitted is call.profile_update
    assert call.user is not None
    assert call.user.id == "00u48gwcu01WxvNo"
    assert call.user.profile.login == "rosario.jones@example.com"
    assert call.user.profile.locale == "en_US"
    assert call.user.password_changed is not None
    assert call.user.password_changed.year == 2022
    assert call.user_profile is None


def test_a_classic_engine_call_without_request_type_is_self_service_registration() -> None:
    call = registration_call(CLASSIC)

    assert call.request_type is None
    assert call.flow is RegistrationFlow.SELF_SERVICE_REGISTRATION
    assert call.action is None
    assert call.user_profile is not None
    assert call.user_profile.last_name == "Doe"


def test_unknown_members_are_ignored_but_reachable() -> None:
    call = registration_call(SSR, futureMember={"x": 1})

    assert call.user_profile is not None
    assert call.data["futureMember"] == {"x": 1}
    assert call.submitted.get("missing", "default") == "default"


@pytest.mark.parametrize(
    ("change", "read", "field"),
    [
        (lambda p: p["data"].update(action=1), lambda c: c.action, "data.action"),
        (
            lambda p: p["data"]["userProfile"].update(email=["a@example.com"]),
            lambda c: c.user_profile,
            "data.userProfile.email",
        ),
        (lambda p: p["data"].update(userProfile="x"), lambda c: c.submitted, "data.userProfile"),
    ],
)
def test_a_malformed_part_the_handler_reads_is_a_400(
    change: Callable[[dict[str, Any]], None],
    read: Callable[[RegistrationHookRequest], Any],
    field: str,
) -> None:
    payload = copy.deepcopy(sample(SSR))
    change(payload)
    hooks = OktaHooks()

    @hooks.registration
    def handler(call: RegistrationHookRequest) -> None:
        read(call)

    response = post_json(build_app(hooks).test_client(), "/registration", payload)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert response.get_json()["error"]["fields"] == [field]


def test_sections_the_handler_does_not_read_are_not_validated() -> None:
    payload = copy.deepcopy(sample(PP))
    payload["data"]["context"]["user"] = "not an object"
    hooks = OktaHooks()
    hooks.registration(lambda call: call.respond().update_progressive_profile(employeeNumber="1"))

    response = post_json(build_app(hooks).test_client(), "/registration", payload)

    assert response.status_code == 200


# --- responses: every documented sample can be produced by the helper ------------------------

Builder = Callable[[RegistrationHookResponse], RegistrationHookResponse]

#: For each documented response: the request flows it answers, and how to build it.
BUILDERS: dict[str, tuple[tuple[str, ...], Builder]] = {
    "registration.response.allow.json": ((SSR, PP, CLASSIC), lambda r: r.allow()),
    "registration.response.deny-no-error.json": ((SSR, PP, CLASSIC), lambda r: r.deny()),
    "registration.response.deny.json": (
        (SSR, CLASSIC),
        lambda r: r.deny(
            "Incorrect email address. Please contact your admin.",
            field_error(
                "email", "Only example.com emails can register.", reason="INVALID_EMAIL_DOMAIN"
            ),
        ),
    ),
    "registration.response.error-only.json": (
        (CLASSIC, SSR),
        lambda r: r.error(
            "Errors were found in the user profile",
            field_error(
                "login", "You specified an invalid email domain", reason="INVALID_EMAIL_DOMAIN"
            ),
        ),
    ),
    "registration.response.progressive-profile.deny.json": (
        (PP,),
        lambda r: r.deny(
            "Incorrect employee number. Enter an employee number with 4 digits.",
            field_error(
                "employeeNumber",
                "Only employee numbers with 4 digits can register.",
                reason="INVALID_EMPLOYEE_NUMBER",
            ),
        ),
    ),
    "registration.response.progressive-profile.update.json": (
        (PP,),
        lambda r: r.update_progressive_profile(employeeNumber="1234"),
    ),
    "registration.response.ssr.profile-update-multi.json": (
        (SSR, CLASSIC),
        lambda r: r.update_profile({"middleName": "Danger", "customerId": 12345}),
    ),
    "registration.response.ssr.profile-update-two-commands.json": (
        (SSR, CLASSIC),
        lambda r: r.update_profile(middleName="Danger").update_profile(customerId=12345),
    ),
    "registration.response.ssr.profile-update.json": (
        (SSR, CLASSIC),
        lambda r: r.update_profile(login="first.last@example.com"),
    ),
}

RESPONSE_NAMES = sample_names("registration.response.*.json")
RESPONSE_CASES = [
    pytest.param(name, request, id=f"{name}<-{request}")
    for name in RESPONSE_NAMES
    if isinstance(name, str)
    for request in (BUILDERS[name][0] if name in BUILDERS else (SSR,))
] or [pytest.param(None, None, marks=RESPONSE_NAMES[0].marks)]  # reference data absent


@pytest.mark.parametrize(("name", "request_name"), RESPONSE_CASES)
def test_every_response_sample_is_produced_through_http(name: str, request_name: str) -> None:
    assert name in BUILDERS, f"no builder for the documented response {name}"
    build = BUILDERS[name][1]
    hooks = OktaHooks()

    @hooks.registration
    def handler(call: RegistrationHookRequest) -> RegistrationHookResponse:
        return build(call.respond())

    response = post_json(build_app(hooks).test_client(), "/registration", sample(request_name))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    produced = response.get_json()
    assert produced == sample(name)
    assert_valid_for(REQUEST_FLOWS[request_name], produced)


#: Each invalid sample, the request it answers and the rules it breaks.
INVALID_RULES = {
    "registration.response.capital-error.json": (SSR, ["unknown_member"], "Error"),
    "registration.response.openapi-example-type.json": (SSR, ["command_type"], "commands[0]"),
    "registration.response.pp-with-profile-update.json": (PP, ["command_flow"], "commands[0]"),
    "registration.response.sets-password.json": (SSR, ["sets_password"], "commands[0].value"),
    "registration.response.wrong-action-key.json": (SSR, ["action_value"], "commands[0].value"),
}


@pytest.mark.parametrize("name", sample_names("registration.*", folder="samples/invalid"))
def test_every_invalid_sample_is_caught_by_the_rule_check(name: str) -> None:
    request_name, rules, location = INVALID_RULES[name]

    violations = RegistrationHookResponse.check(
        registration_call(request_name), sample(f"invalid/{name}")
    )

    assert [v.rule for v in violations] == rules
    assert violations[0].location == location
    assert "hunter2" not in str(violations)


@pytest.mark.parametrize("name", sample_names("registration.*", folder="samples/invalid"))
def test_a_handler_returning_an_invalid_sample_gets_the_safe_outcome(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    request_name, rules, _ = INVALID_RULES[name]
    hooks = OktaHooks()
    hooks.registration(lambda call: sample(f"invalid/{name}"))
    client = build_app(hooks, OKTA_HOOKS_STRICT=False).test_client()

    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = post_json(client, "/registration", sample(request_name))

    flow = REQUEST_FLOWS[request_name]
    message = SSR_MESSAGE if flow is RegistrationFlow.SELF_SERVICE_REGISTRATION else PP_MESSAGE
    assert response.status_code == 200
    assert response.get_json() == {"error": {"errorSummary": message}}
    assert f"rule_violation:{','.join(rules)}" in caplog.text
    assert "hunter2" not in caplog.text


# --- rules at the call site -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_name", "action", "rule"),
    [
        (PP, lambda r: r.update_profile(employeeNumber="1"), "command_flow"),
        (SSR, lambda r: r.update_profile(password="hunter2"), "sets_password"),
        (SSR, lambda r: r.update_profile({"Password": "hunter2"}), "sets_password"),
        (PP, lambda r: r.update_progressive_profile(password="hunter2"), "sets_password"),
        (SSR, lambda r: r.update_profile({"": "x"}), "invalid_name"),
        (SSR, lambda r: r.update_profile({1: "x"}), "invalid_name"),
        (SSR, lambda r: r.update_profile(nickName="Ro").error("No"), "commands_with_error"),
        (SSR, lambda r: r.allow().error("No"), "commands_with_error"),
        (SSR, lambda r: r.error("No").allow(), "commands_with_error"),
        (PP, lambda r: r.error().update_progressive_profile(a=1), "commands_with_error"),
        (SSR, lambda r: r.update_profile(nickName="Ro").deny("No"), "commands_with_error"),
    ],
)
def test_commands_okta_would_refuse_or_ignore_are_refused(
    request_name: str, action: Callable[[RegistrationHookResponse], Any], rule: str
) -> None:
    response = registration_call(request_name).respond()

    with pytest.raises(ResponseRuleError) as caught:
        action(response)

    assert caught.value.rules == (rule,)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("request_name", "action", "rule"),
    [
        (SSR, lambda r: r.update_progressive_profile(nickName="Ro"), "flow_unconfirmed"),
        (CLASSIC, lambda r: r.update_progressive_profile(nickName="Ro"), "flow_unconfirmed"),
        (SSR, lambda r: r.update_profile(), "empty_profile"),
        (PP, lambda r: r.update_progressive_profile({}), "empty_profile"),
        (SSR, lambda r: r.deny().allow(), "conflicting_actions"),
        (PP, lambda r: r.allow().deny(), "conflicting_actions"),
    ],
)
def test_precautions_are_kept_for_the_answer_not_raised_at_the_call_site(
    request_name: str, action: Callable[[RegistrationHookResponse], Any], rule: str
) -> None:
    response = action(registration_call(request_name).respond())

    assert [v.rule for v in response.violations()] == [rule]
    assert all(v.precaution for v in response.violations())


def test_a_profile_update_in_an_unknown_flow_is_sent_in_production_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = OktaHooks()
    hooks.registration(lambda call: call.respond().update_profile(nickName="Ro"))
    payload = sample(SSR)
    payload["requestType"] = "future.flow"

    client = build_app(hooks, OKTA_HOOKS_STRICT=False).test_client()
    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        response = post_json(client, "/registration", payload)

    assert response.status_code == 200
    assert response.get_json() == {
        "commands": [{"type": "com.okta.user.profile.update", "value": {"nickName": "Ro"}}]
    }
    assert "rules=unknown_flow@commands[0]" in caplog.text


def test_a_profile_update_in_an_unknown_flow_raises_in_strict_mode_saying_how_to_waive() -> None:
    payload = sample(SSR)
    payload["requestType"] = "future.flow"
    hooks = OktaHooks()
    hooks.registration(lambda call: call.respond().update_profile(nickName="Ro"))
    client = build_app(hooks).test_client()

    with pytest.raises(ResponseRuleError, match=r"waive\('unknown_flow'\)") as caught:
        post_json(client, "/registration", payload)
    assert caught.value.rules == ("unknown_flow",)

    hooks = OktaHooks()
    hooks.registration(
        lambda call: call.respond().update_profile(nickName="Ro").waive("unknown_flow")
    )
    waived = post_json(build_app(hooks).test_client(), "/registration", payload)
    assert waived.status_code == 200


def test_a_refused_denial_leaves_the_response_as_it_was() -> None:
    response = registration_call(SSR).respond().update_profile(nickName="Ro")

    with pytest.raises(ResponseRuleError):
        response.deny("No", field="nickName")

    assert response.to_dict() == {
        "commands": [{"type": "com.okta.user.profile.update", "value": {"nickName": "Ro"}}]
    }


def test_a_denial_aimed_at_a_form_field() -> None:
    body = (
        registration_call(SSR)
        .respond()
        .deny("Sign-ups from this domain are closed", field="email")
        .to_dict()
    )

    assert body == {
        "commands": [{"type": "com.okta.action.update", "value": {"registration": "DENY"}}],
        "error": {
            "errorSummary": "Sign-ups from this domain are closed",
            "errorCauses": [
                {
                    "errorSummary": "Sign-ups from this domain are closed",
                    "locationType": "body",
                    "location": "data.userProfile.email",
                    "domain": "end-user",
                }
            ],
        },
    }
    assert_valid_for(RegistrationFlow.SELF_SERVICE_REGISTRATION, body)


def test_a_field_denial_takes_a_reason_and_more_causes() -> None:
    other = ErrorCause("Try again tomorrow", reason="RATE_LIMITED")

    body = (
        registration_call(PP)
        .respond()
        .deny("Not now", other, field="employeeNumber", reason="INVALID_EMPLOYEE_NUMBER")
        .to_dict()
    )

    assert body["error"]["errorCauses"] == [
        {
            "errorSummary": "Not now",
            "reason": "INVALID_EMPLOYEE_NUMBER",
            "locationType": "body",
            "location": "data.userProfile.employeeNumber",
            "domain": "end-user",
        },
        {"errorSummary": "Try again tomorrow", "reason": "RATE_LIMITED"},
    ]
    assert_valid_for(RegistrationFlow.PROGRESSIVE_PROFILE, body)


@pytest.mark.parametrize(
    "action",
    [
        lambda r: r.deny(field="email"),
        lambda r: r.deny(None, field_error("email", "x")),
        lambda r: r.deny("No", reason="INVALID_EMAIL_DOMAIN"),
        lambda r: r.deny("No", field=""),
    ],
)
def test_denial_arguments_that_do_not_fit_together_are_refused(
    action: Callable[[RegistrationHookResponse], Any],
) -> None:
    response = registration_call(SSR).respond()

    with pytest.raises(ValueError, match=r"\w"):
        action(response)

    assert response.to_dict() == {}


def test_an_error_after_a_plain_denial_is_fine() -> None:
    body = registration_call(SSR).respond().deny().error("Closed").debug(rule="domain").to_dict()

    assert body == {
        "commands": [{"type": "com.okta.action.update", "value": {"registration": "DENY"}}],
        "error": {"errorSummary": "Closed"},
        "debugContext": {"rule": "domain"},
    }


def test_profile_changes_and_a_decision_keep_their_order() -> None:
    body = (
        registration_call(SSR)
        .respond()
        .update_profile({"a": 1}, b=[True, None])
        .allow()
        .update_profile(c="3")
        .to_dict()
    )

    assert body["commands"] == [
        {"type": "com.okta.user.profile.update", "value": {"a": 1, "b": [True, None]}},
        {"type": "com.okta.action.update", "value": {"registration": "ALLOW"}},
        {"type": "com.okta.user.profile.update", "value": {"c": "3"}},
    ]
    assert_valid_for(RegistrationFlow.SELF_SERVICE_REGISTRATION, body)


def test_a_hand_built_body_is_checked_whole() -> None:
    body = {
        "commands": [
            {"type": "com.okta.action.update", "value": {"registration": "ALLOW"}},
            {"type": "com.okta.user.progressive.profile.update", "value": {"password": "x"}},
            {"type": "com.okta.action.update", "value": {"registration": ["DENY"]}},
        ],
        "error": {},
    }

    violations = RegistrationHookResponse.check(registration_call(SSR), body)

    assert [(v.rule, v.location) for v in violations] == [
        ("flow_unconfirmed", "commands[1]"),
        ("sets_password", "commands[1].value"),
        ("action_value", "commands[2].value.registration"),
        ("commands_with_error", "commands[0]"),
        ("commands_with_error", "commands[1]"),
        ("commands_with_error", "commands[2]"),
    ]


def test_allow_and_deny_in_one_hand_built_body_conflict() -> None:
    body = {
        "commands": [
            {"type": "com.okta.action.update", "value": {"registration": "DENY"}},
            {"type": "com.okta.action.update", "value": {"registration": "ALLOW"}},
        ]
    }

    violations = RegistrationHookResponse.check(registration_call(PP), body)

    assert [v.rule for v in violations] == ["conflicting_actions"]


# --- handler outcomes through HTTP ------------------------------------------------------------


def serve(
    handler: Callable[[RegistrationHookRequest], Any], request_name: str = SSR, **config: Any
) -> Any:
    hooks = OktaHooks()
    hooks.registration(handler)
    return post_json(
        build_app(hooks, **config).test_client(), "/registration", sample(request_name)
    )


def test_no_answer_is_an_empty_204_and_okta_allows() -> None:
    response = serve(lambda call: None)

    assert response.status_code == 204
    assert response.data == b""


def test_a_violation_in_strict_mode_reaches_the_developer() -> None:
    with pytest.raises(ResponseRuleError, match="command_flow"):
        serve(lambda call: call.respond().update_profile(a=1), PP, OKTA_HOOKS_STRICT=True)


@pytest.mark.parametrize(("request_name", "message"), [(SSR, SSR_MESSAGE), (PP, PP_MESSAGE)])
@pytest.mark.parametrize(
    "handler",
    [
        lambda call: 1 / 0,
        lambda call: call.respond().update_profile(password="hunter2").update_profile(a=1),
        lambda call: call.respond().allow().error("No"),
        lambda call: {"commands": [{"type": "com.okta.action.update", "value": "DENY"}]},
        lambda call: "not a response",
        lambda call: RegistrationHookRequest.from_payload(call.payload).respond().allow(),
    ],
)
def test_in_production_a_broken_handler_gets_a_generic_denial(
    handler: Callable[[RegistrationHookRequest], Any],
    request_name: str,
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = serve(handler, request_name, OKTA_HOOKS_STRICT=False)

    assert response.status_code == 200
    body = response.get_json()
    assert body == {"error": {"errorSummary": message}}
    assert_valid_for(REQUEST_FLOWS[request_name], body)
    assert "hook=registration" in caplog.text
    assert "rosario" not in caplog.text.lower()
    assert "hunter2" not in caplog.text


def test_the_safe_outcome_of_an_unknown_flow_is_still_a_denial() -> None:
    payload = copy.deepcopy(sample(SSR))
    payload["requestType"] = "future.flow"
    call = RegistrationHookRequest.from_payload(payload)

    outcome = RegistrationHookResponse.safe_outcome(call)

    assert outcome.to_dict() == {"error": {"errorSummary": SSR_MESSAGE}}
