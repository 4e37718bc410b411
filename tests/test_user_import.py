"""The user import hook end to end: Okta's samples in, Okta's samples out, Okta's rules."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from flask_okta_hooks import (
    AppUserProfile,
    HandlerResultError,
    ImportResult,
    OktaHooks,
    ResponseRuleError,
    UserImportHookRequest,
    UserImportHookResponse,
)
from flask_okta_hooks.testing import (
    HookResult,
    HookWarning,
    assert_app_user_profile_updated,
    assert_empty_response,
    assert_okta_accepts,
    assert_profile_updated,
    assert_user_created,
    assert_user_linked,
    user_import_request,
)

from .conftest import build_app, post_json, response_schema, sample, sample_names
from .conftest import serve as serve_hook

MATCHED_ID = "00garwpuyxHaWOkdV0g4"


def import_payload(*, user_id: str | None = None, result: str | None = None) -> dict[str, Any]:
    """Okta's user import sample, optionally matched to an Okta user or with another action."""
    payload: dict[str, Any] = copy.deepcopy(sample("user-import.request.json"))
    if user_id is not None:
        payload["data"]["user"]["id"] = user_id
    if result is not None:
        payload["data"]["action"]["result"] = result
    return payload


def import_call(**kwargs: Any) -> UserImportHookRequest:
    return UserImportHookRequest.from_payload(import_payload(**kwargs))


def serve(
    handler: Callable[[UserImportHookRequest], Any],
    payload: dict[str, Any] | None = None,
    **config: Any,
) -> HookResult:
    return serve_hook("user-import", handler, payload or import_payload(), **config)


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sample_names("user-import.request*.json"))
def test_every_request_sample_reaches_the_handler_typed(name: str) -> None:
    seen: list[UserImportHookRequest] = []
    hooks = OktaHooks()

    @hooks.user_import
    def handler(call: UserImportHookRequest) -> None:
        seen.append(call)

    response = post_json(build_app(hooks).test_client(), "/user-import", sample(name))

    assert response.status_code == 204  # Okta keeps its default action
    assert response.data == b""
    (call,) = seen
    payload = sample(name)
    data = payload["data"]
    assert call.payload == payload
    assert call.event_id == payload["eventId"]
    assert call.app_user_profile.attributes == data["appUser"]["profile"]
    assert call.user_profile.attributes == data["user"]["profile"]
    assert call.default_result == data["action"]["result"]
    assert call.conflicts == tuple(data["context"]["conflicts"])
    assert call.matches == tuple(data["context"]["matches"])
    assert call.policy == tuple(data["context"]["policy"])
    assert call.application.id == data["context"]["application"]["id"]
    assert call.job.type == data["context"]["job"]["type"]


def test_request_sections_are_typed() -> None:
    call = import_call()

    assert call.app_user_profile.get("userName") == "administrator2"
    assert call.app_user_profile.get("groups") == ["everyone@clouditude.net", "tech@clouditude.net"]
    assert call.app_user_profile.get("mobilePhone") is None
    assert call.user_profile.login == "sally.admin@clouditude.net"
    assert call.user_profile.first_name == "Sally2"
    assert call.user_profile.get("zipCode") is None
    assert call.matched_user_id is None
    assert call.default_result is ImportResult.CREATE_USER
    assert call.conflicts == ("login",)
    assert call.matches == ()
    assert call.policy == ("EMAIL", "FIRST_AND_LAST_NAME")
    assert call.application.name == "test_app"
    assert call.application.label == "app7ey6eU5coTOO5v0g4"
    assert call.application.status == "ACTIVE"
    assert call.job.id == "ij17ez2AWtMZRfCZ60g4"


def test_a_matched_user_and_an_unknown_result_are_readable() -> None:
    call = import_call(user_id=MATCHED_ID, result="MERGE_USER")

    assert call.matched_user_id == MATCHED_ID
    assert call.default_result == "MERGE_USER"
    assert not isinstance(call.default_result, ImportResult)


def test_missing_sections_read_as_empty() -> None:
    payload = import_payload()
    for member in ("appUser", "user", "action"):
        del payload["data"][member]
    payload["data"]["context"] = {}

    call = UserImportHookRequest.from_payload(payload)

    assert call.app_user_profile == AppUserProfile()
    assert call.user_profile.attributes == {}
    assert call.matched_user_id is None
    assert call.default_result is None
    assert call.conflicts == ()
    assert call.application.id is None


def test_profiles_keep_personal_data_out_of_repr() -> None:
    call = import_call()

    shown = repr(call.app_user_profile) + repr(call.user)

    assert "sally" not in shown.lower()


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        (("context", "conflicts"), "login", "data.context.conflicts"),
        (("context", "application"), [], "data.context.application"),
        (("user", "profile", "login"), 7, "data.user.profile"),
        (("user", "id"), 7, "data.user.id"),
    ],
)
def test_a_handler_reading_a_malformed_section_gets_a_400(
    where: tuple[str, ...], value: Any, field: str
) -> None:
    payload = import_payload()
    node = payload["data"]
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value

    def handler(call: UserImportHookRequest) -> None:
        read = (call.conflicts, call.application, call.user)
        pytest.fail(f"a malformed section was read: {read}")

    response = serve(handler, payload)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert response.get_json()["error"]["fields"] == [field]


def test_unknown_members_are_ignored_but_reachable() -> None:
    payload = import_payload()
    payload["data"]["context"]["job"]["started"] = "now"
    payload["data"]["newSection"] = {"x": 1}

    call = UserImportHookRequest.from_payload(payload)

    assert call.job.id == "ij17ez2AWtMZRfCZ60g4"
    assert call.data["newSection"] == {"x": 1}


# --- responses: every documented sample can be produced by the helper ------------------------

BUILDERS: dict[str, Callable[[UserImportHookResponse], UserImportHookResponse]] = {
    "user-import.response.app-user-profile-update.json": lambda r: r.update_app_user_profile(
        firstName="Stan", lastName="Lee"
    ),
    "user-import.response.create-user.json": lambda r: r.create_user(),
    "user-import.response.error.json": lambda r: r.error(
        "Error at third-party service. Please contact your admin."
    ),
    "user-import.response.link-user.json": lambda r: r.link_user(MATCHED_ID),
    # An untouched response is {}: Okta keeps its default action (as with a 204).
    "user-import.response.no-change.json": lambda r: r,
    "user-import.response.user-profile-update.json": lambda r: r.update_user_profile(
        firstName="Stan"
    ),
}


@pytest.mark.parametrize("name", sample_names("user-import.response.*.json"))
def test_every_response_sample_is_produced_through_http(name: str) -> None:
    assert name in BUILDERS, f"no builder for the documented response {name}"

    response = serve(lambda call: BUILDERS[name](call.respond()))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    produced = response.get_json()
    assert produced == sample(name)
    jsonschema.validate(produced, response_schema("user-import"))


INVALID_RULES = {"user-import.response.link-without-id.json": ["link_user_pairing"]}


@pytest.mark.parametrize("name", sample_names("user-import.*", folder="samples/invalid"))
def test_every_invalid_sample_is_caught_by_the_rule_check(name: str) -> None:
    violations = UserImportHookResponse.check(import_call(), sample(f"invalid/{name}"))

    assert [v.rule for v in violations] == INVALID_RULES[name]
    assert violations[0].location == "commands[0]"
    assert "com.okta.user.update" in str(violations[0])


# --- rules at the call site -------------------------------------------------------------------


def test_link_user_defaults_to_the_matched_user() -> None:
    body = import_call(user_id=MATCHED_ID).respond().link_user().to_dict()

    assert body == sample("user-import.response.link-user.json")


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (lambda r: r.link_user(), "user_id"),  # the sample matched no Okta user
        (lambda r: r.link_user(""), "user_id"),
        (lambda r: r.link_user("  "), "user_id"),
        (lambda r: r.link_user(1234), "user_id"),
        (lambda r: r.update_user_profile({1: "x"}), "invalid_name"),
        (lambda r: r.update_app_user_profile({"": "x"}), "invalid_name"),
        (lambda r: r.update_app_user_profile(a=1).update_app_user_profile({"": 2}), "invalid_name"),
    ],
)
def test_changes_okta_would_refuse_are_refused(
    action: Callable[[UserImportHookResponse], Any], rule: str
) -> None:
    response = import_call().respond()

    with pytest.raises(ResponseRuleError) as caught:
        action(response)

    assert caught.value.rules == (rule,)


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (lambda r: r.create_user().create_user(), "action_repeated"),
        (lambda r: r.create_user().link_user(MATCHED_ID), "action_repeated"),
        (lambda r: r.link_user(MATCHED_ID).create_user(), "action_repeated"),
        (lambda r: r.update_app_user_profile({}), "empty_profile"),
        (lambda r: r.update_user_profile(), "empty_profile"),
    ],
)
def test_precautions_are_kept_for_the_answer_not_raised_at_the_call_site(
    action: Callable[[UserImportHookResponse], Any], rule: str
) -> None:
    response = action(import_call().respond())

    assert rule in {v.rule for v in response.violations()}
    assert all(v.precaution for v in response.violations())


def test_a_user_update_alone_links_when_the_request_already_links() -> None:
    # Okta's default action is LINK_USER already: naming the user is all the answer needs.
    body = {"commands": [USER_UPDATE]}
    payload = import_payload(user_id=MATCHED_ID, result="LINK_USER")

    assert (
        UserImportHookResponse.check(import_call(user_id=MATCHED_ID, result="LINK_USER"), body)
        == []
    )
    response = serve(lambda call: body, payload, OKTA_HOOKS_STRICT=True)
    assert response.status_code == 200
    assert response.get_json() == body


def test_a_user_update_without_any_link_is_a_precaution(caplog: pytest.LogCaptureFixture) -> None:
    body = {"commands": [USER_UPDATE]}

    with (
        caplog.at_level(logging.WARNING, logger="flask_okta_hooks"),
        pytest.warns(HookWarning, match="user_update_without_link"),
    ):
        response = serve(lambda call: body, OKTA_HOOKS_STRICT=False)

    assert response.get_json() == body
    assert "rules=user_update_without_link@commands[0]" in caplog.text
    with pytest.raises(ResponseRuleError, match="user_update_without_link"):
        serve(lambda call: body, OKTA_HOOKS_STRICT=True)


def test_a_refused_link_leaves_no_lone_action() -> None:
    response = import_call().respond()

    with pytest.raises(ResponseRuleError):
        response.link_user("")

    assert response.to_dict() == {}
    assert response.result is None


def test_profile_updates_merge_into_one_command_per_profile() -> None:
    response = (
        import_call()
        .respond()
        .update_user_profile({"custom:tier": "gold"}, firstName="Stan")
        .update_app_user_profile(groups=["a", "b"], mobilePhone=None)
        .update_user_profile(firstName="Stanley", level=3)
        .create_user()
    )

    assert response.result is ImportResult.CREATE_USER
    body = response.to_dict()
    assert body == {
        "commands": [
            {
                "type": "com.okta.user.profile.update",
                "value": {"custom:tier": "gold", "firstName": "Stanley", "level": 3},
            },
            {
                "type": "com.okta.appUser.profile.update",
                "value": {"groups": ["a", "b"], "mobilePhone": None},
            },
            {"type": "com.okta.action.update", "value": {"result": "CREATE_USER"}},
        ]
    }
    assert UserImportHookResponse.check(import_call(), body) == []
    jsonschema.validate(body, response_schema("user-import"))


ACTION_LINK = {"type": "com.okta.action.update", "value": {"result": "LINK_USER"}}
USER_UPDATE = {"type": "com.okta.user.update", "value": {"id": MATCHED_ID}}


@pytest.mark.parametrize(
    ("commands", "rules"),
    [
        ([USER_UPDATE], ["user_update_without_link"]),
        ([ACTION_LINK], ["link_user_pairing"]),
        ([USER_UPDATE, ACTION_LINK], ["link_user_order"]),
        ([ACTION_LINK, USER_UPDATE, USER_UPDATE], ["user_update_repeated"]),
        ([ACTION_LINK, ACTION_LINK, USER_UPDATE], ["action_repeated"]),
        (
            [{"type": "com.okta.action.update", "value": {"result": "CREATE_USER"}}, USER_UPDATE],
            ["user_update_without_link"],
        ),
        ([{"type": "com.okta.action.update", "value": {"result": "MERGE"}}], ["result_value"]),
        ([{"type": "com.okta.action.update", "value": {"result": ["x"]}}], ["result_value"]),
        ([{"type": "com.okta.action.update", "value": "CREATE_USER"}], ["result_shape"]),
        (
            [{"type": "com.okta.action.update", "value": {"result": "CREATE_USER", "id": "x"}}],
            ["result_shape"],
        ),
        ([ACTION_LINK, {"type": "com.okta.user.update", "value": {"id": ""}}], ["user_id"]),
        ([ACTION_LINK, {"type": "com.okta.user.update", "value": MATCHED_ID}], ["user_id"]),
        ([{"type": "com.okta.user.profile.update", "value": ["x"]}], ["profile_shape"]),
        ([{"type": "com.okta.appUser.profile.update", "value": {}}], ["empty_profile"]),
        ([{"type": "com.okta.user.progressive.profile.update", "value": {}}], ["command_type"]),
    ],
)
def test_hand_built_bodies_are_checked(commands: list[Any], rules: list[str]) -> None:
    body = {"commands": commands}

    assert [v.rule for v in UserImportHookResponse.check(import_call(), body)] == rules


# --- handler outcomes through HTTP ------------------------------------------------------------


def test_none_is_a_204_and_an_untouched_response_is_an_empty_object() -> None:
    empty = serve(lambda call: None)
    untouched = serve(lambda call: call.respond())

    assert_empty_response(empty)
    assert untouched.status_code == 200
    assert untouched.get_json() == {}
    for answer in (empty, untouched):
        assert_okta_accepts(answer)
        assert_user_created(answer)  # the call's default action stands


def test_a_matched_user_is_linked_over_http() -> None:
    matched = user_import_request(matched_user_id=MATCHED_ID)

    linked = serve(lambda call: call.respond().link_user(), matched)
    forced = serve(lambda call: call.respond().create_user(), matched)

    assert_user_linked(linked, MATCHED_ID)
    assert_okta_accepts(linked)
    assert_user_created(forced)
    with pytest.raises(AssertionError, match="LINK_USER"):
        assert_user_linked(forced)


def test_profile_updates_over_http() -> None:
    response = serve(
        lambda call: (
            call.respond()
            .update_app_user_profile(department=None)
            .update_user_profile(login=call.app_user_profile.get("email"))
        ),
        user_import_request(app_user={"email": "m.hamilton@example.com"}),
    )

    assert_app_user_profile_updated(response, department=None)
    assert_profile_updated(response, login="m.hamilton@example.com")
    assert_okta_accepts(response)


@pytest.mark.parametrize(
    "handler",
    [
        lambda call: 1 / 0,
        lambda call: call.respond().link_user(),
        lambda call: sample("invalid/user-import.response.link-without-id.json"),
        lambda call: ["not", "a", "response"],
    ],
)
def test_in_production_a_broken_handler_gets_the_safe_outcome(
    handler: Callable[[UserImportHookRequest], Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = serve(handler, OKTA_HOOKS_STRICT=False)

    assert response.status_code == 204  # Okta goes on with its default action, at once
    assert "hook=user-import" in caplog.text
    assert UserImportHookResponse.safe_outcome(import_call()) is None


def test_in_strict_mode_a_broken_result_reaches_the_developer() -> None:
    with pytest.raises(ResponseRuleError, match="link_user_pairing"):
        serve(lambda call: sample("invalid/user-import.response.link-without-id.json"))
    with pytest.raises(HandlerResultError):
        serve(lambda call: ["not", "a", "response"])
