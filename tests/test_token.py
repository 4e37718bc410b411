"""The token inline hook end to end: Okta's samples in, Okta's samples out, Okta's rules."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from flask_okta_hooks import (
    OktaHooks,
    ResponseRuleError,
    Token,
    TokenHookRequest,
    TokenHookResponse,
)
from flask_okta_hooks.hooks.token import RESERVED_CLAIMS

from .conftest import build_app, post_json, response_schema, sample, sample_names

EMPLOYEE = {"email": "anna@company.com", "department_id": None}
AIRPORTS = ["sfo", "jfk", "ord"]


def token_payload(
    id_claims: dict[str, Any] | None = None,
    access_claims: dict[str, Any] | None = None,
    *,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Okta's token request sample, with extra claims in its tokens or tokens left out."""
    payload: dict[str, Any] = copy.deepcopy(sample("token.request.json"))
    payload["data"]["identity"]["claims"].update(id_claims or {})
    payload["data"]["access"]["claims"].update(access_claims or {})
    for member in drop:
        del payload["data"][member]
    return payload


def token_call(**kwargs: Any) -> TokenHookRequest:
    return TokenHookRequest.from_payload(token_payload(**kwargs))


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sample_names("token.request*.json"))
def test_every_request_sample_reaches_the_handler_typed(name: str) -> None:
    seen: list[TokenHookRequest] = []
    hooks = OktaHooks()

    @hooks.token
    def handler(call: TokenHookRequest) -> None:
        seen.append(call)

    response = post_json(build_app(hooks).test_client(), "/token", sample(name))

    assert response.status_code == 204
    assert response.data == b""
    (call,) = seen
    payload = sample(name)
    assert call.payload == payload
    assert call.event_id == payload["eventId"]
    assert call.id_token is not None
    assert call.id_token.claims == payload["data"]["identity"]["claims"]
    assert call.id_token.lifetime == payload["data"]["identity"]["token"]["lifetime"]["expiration"]
    assert call.access_token is not None
    assert call.access_token.claims == payload["data"]["access"]["claims"]


def test_request_sections_are_typed() -> None:
    call = token_call()

    assert call.login == "administrator1@clouditude.net"
    assert call.user is not None
    assert call.user.id == "00uq8tMo3zV0OfJON0g3"
    assert call.user.profile.first_name == "Add-Min"
    assert call.user.profile.get("timeZone") == "America/Los_Angeles"
    assert call.session is not None
    assert call.session.amr == ("PASSWORD",)
    assert call.session.idp is not None
    assert call.session.idp.type == "OKTA"
    assert call.session.mfa_active is False
    assert call.protocol.request.response_type == "token id_token"
    assert call.protocol.issuer == "https://${yourOktaDomain}/oauth2/default"
    assert call.client_id == "customClientIdNative"
    assert call.request_info is not None
    assert call.request_info.ip_address == "127.0.0.1"
    assert call.policy is not None
    assert call.policy.rule_id == "0prq8mLKuKAmavOvq0g3"
    assert call.granted_scopes == ("openid", "profile", "email")
    assert call.refresh_token_jti == "oarob4a0tckCkGcyo1d6"
    assert call.grant_type is None  # the documented sample has no grant_type


def test_no_id_token_part_when_no_id_token_is_minted() -> None:
    call = token_call(drop=("identity",))

    assert call.id_token is None
    assert call.access_token is not None
    with pytest.raises(ResponseRuleError) as caught:
        call.respond().add_id_claim("extPatientId", "1234")
    assert caught.value.rules == ("token_not_minted",)


def test_unknown_members_are_ignored_but_reachable() -> None:
    payload = token_payload()
    payload["data"]["context"]["user"]["newOktaField"] = {"x": 1}
    payload["futureMember"] = True

    call = TokenHookRequest.from_payload(payload)

    assert call.user is not None
    assert call.payload["futureMember"] is True
    assert call.context["user"]["newOktaField"] == {"x": 1}


# --- responses: every documented sample can be produced by the helper ------------------------

Builder = Callable[[TokenHookResponse], TokenHookResponse]
GUID = "F0384685-F87D-474B-848D-2058AC5655A7"

#: For each documented response: the claims its request must carry, and how to build it.
BUILDERS: dict[str, tuple[dict[str, Any], dict[str, Any], Builder]] = {
    "token.response.add-array-append.json": (
        {"preferred_airports": AIRPORTS},
        {},
        lambda r: r.add_claim(Token.ID, ("preferred_airports", "-"), "lax"),
    ),
    "token.response.add-array-index.json": (
        {"preferred_airports": AIRPORTS},
        {},
        lambda r: r.add_claim(Token.ID, ("preferred_airports", 3), "lax"),
    ),
    "token.response.add-claims.json": (
        {},
        {},
        lambda r: r.add_id_claim("extPatientId", "1234").add_access_claim("external_guid", GUID),
    ),
    "token.response.add-object-member.json": (
        {"employee_profile": EMPLOYEE},
        {},
        lambda r: r.add_claim(Token.ID, ("employee_profile", "department_id"), "4947"),
    ),
    "token.response.error.json": (
        {},
        {},
        lambda r: r.error("Human-readable summary of the error"),
    ),
    "token.response.modify-lifetime.json": (
        {},
        {},
        lambda r: r.set_lifetime(Token.ID, 36000).set_lifetime(Token.ACCESS, 36000),
    ),
    "token.response.remove-array-element.json": (
        {"preferred_airports": AIRPORTS},
        {},
        lambda r: r.remove_claim(Token.ID, ("preferred_airports", 1)),
    ),
    "token.response.remove-claims.json": (
        {"birthdate": "1990-01-01"},
        {"external_guid": GUID},
        lambda r: r.remove_claim(Token.ID, "birthdate", null_value=True).remove_claim(
            Token.ACCESS, "external_guid"
        ),
    ),
    "token.response.remove-object-member.json": (
        {"employee_profile": EMPLOYEE},
        {},
        lambda r: r.remove_claim(Token.ID, ("employee_profile", "email")),
    ),
    "token.response.replace-claims.json": (
        {"extPatientId": "0001"},
        {"external_guid": "0002"},
        lambda r: r.replace_claim(Token.ID, "extPatientId", "1234").replace_claim(
            Token.ACCESS, "external_guid", GUID
        ),
    ),
    "token.response.replace-object-member.json": (
        {"employee_profile": {"email": "old@company.com"}},
        {},
        lambda r: r.replace_claim(Token.ID, ("employee_profile", "email"), "anna@company.com"),
    ),
}


@pytest.mark.parametrize("name", sample_names("token.response.*.json"))
def test_every_response_sample_is_produced_through_http(name: str) -> None:
    assert name in BUILDERS, f"no builder for the documented response {name}"
    id_claims, access_claims, build = BUILDERS[name]
    hooks = OktaHooks()

    @hooks.token
    def handler(call: TokenHookRequest) -> TokenHookResponse:
        return build(call.respond())

    client = build_app(hooks).test_client()
    response = post_json(client, "/token", token_payload(id_claims, access_claims))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    produced = response.get_json()
    assert produced == sample(name)
    jsonschema.validate(produced, response_schema("token"))


@pytest.mark.parametrize("name", sample_names("token.response.*.json"))
def test_every_response_sample_passes_the_rule_check_as_a_hand_built_body(name: str) -> None:
    id_claims, access_claims, _ = BUILDERS[name]
    call = token_call(id_claims=id_claims, access_claims=access_claims)

    assert TokenHookResponse.check(call, sample(name)) == []


# --- a patch applies in order -----------------------------------------------------------------

#: Operations that build on earlier ones of the same patch (RFC 6902 applies them in order).
ORDERED_PATCHES: list[list[dict[str, Any]]] = [
    [
        {"op": "add", "path": "/claims/employee", "value": {}},
        {"op": "add", "path": "/claims/employee/department", "value": "R&D"},
    ],
    [
        {"op": "add", "path": "/claims/tier", "value": "silver"},
        {"op": "replace", "path": "/claims/tier", "value": "gold"},
    ],
    [
        {"op": "remove", "path": "/claims/preferred_airports"},
        {"op": "add", "path": "/claims/preferred_airports", "value": ["lax"]},
    ],
    [
        {"op": "add", "path": "/claims/codes", "value": []},
        {"op": "add", "path": "/claims/codes/-", "value": 1},
        {"op": "add", "path": "/claims/codes/0", "value": 0},
        {"op": "replace", "path": "/claims/codes/1", "value": 2},
        {"op": "remove", "path": "/claims/codes/0"},
    ],
    [
        {"op": "remove", "path": "/claims/preferred_airports/0"},
        {"op": "remove", "path": "/claims/preferred_airports/1"},
    ],
]


@pytest.mark.parametrize("operations", ORDERED_PATCHES)
def test_an_operation_may_build_on_an_earlier_one_of_its_patch(
    operations: list[dict[str, Any]],
) -> None:
    body = {"commands": [{"type": "com.okta.identity.patch", "value": operations}]}
    payload = token_payload(id_claims={"preferred_airports": AIRPORTS})
    hooks = OktaHooks()
    hooks.token(lambda call: body)

    response = post_json(build_app(hooks, OKTA_HOOKS_STRICT=False).test_client(), "/token", payload)

    assert response.status_code == 200
    assert response.get_json() == body
    assert payload["data"]["identity"]["claims"]["preferred_airports"] == AIRPORTS


def test_the_helpers_build_on_earlier_operations_too() -> None:
    call = token_call(id_claims={"preferred_airports": AIRPORTS})

    response = (
        call.respond()
        .set_lifetime(Token.ID, 3600)
        .add_id_claim("employee", {})
        .add_claim(Token.ID, ("employee", "department"), "R&D")
        .add_id_claim("tier", "silver")
        .replace_claim(Token.ID, "tier", "gold")
        .remove_claim(Token.ID, ("preferred_airports", 0))
        .remove_claim(Token.ID, ("preferred_airports", 1))
    )

    assert response.to_dict()["commands"][0]["value"][2] == {
        "op": "add",
        "path": "/claims/employee/department",
        "value": "R&D",
    }
    # The request's claims and the handler's values are left as they were.
    assert call.id_token is not None
    assert call.id_token.claims["preferred_airports"] == AIRPORTS
    assert "employee" not in call.id_token.claims
    assert response.to_dict()["commands"][0]["value"][1]["value"] == {}


@pytest.mark.parametrize(
    ("operations", "rule"),
    [
        (
            [
                {"op": "remove", "path": "/claims/preferred_airports"},
                {"op": "replace", "path": "/claims/preferred_airports/0", "value": "x"},
            ],
            "claim_not_present",
        ),
        (
            [
                {"op": "remove", "path": "/claims/preferred_airports/0"},
                {"op": "remove", "path": "/claims/preferred_airports/2"},
            ],
            "claim_not_present",
        ),
        (
            [
                {"op": "add", "path": "/claims/tier", "value": "gold"},
                {"op": "add", "path": "/claims/tier/level", "value": 1},
            ],
            "parent_not_present",
        ),
    ],
)
def test_an_operation_is_checked_against_what_the_earlier_ones_left(
    operations: list[dict[str, Any]], rule: str
) -> None:
    body = {"commands": [{"type": "com.okta.identity.patch", "value": operations}]}
    call = token_call(id_claims={"preferred_airports": AIRPORTS})

    assert [v.rule for v in TokenHookResponse.check(call, body)] == [rule]


def test_a_refused_operation_does_not_count_for_the_next_ones() -> None:
    body = {
        "commands": [
            {
                "type": "com.okta.identity.patch",
                "value": [
                    {"op": "add", "path": "/claims/iss", "value": {}},
                    {"op": "add", "path": "/claims/iss/x", "value": 1},
                ],
            }
        ]
    }

    rules = [v.rule for v in TokenHookResponse.check(token_call(), body)]

    assert rules == ["reserved_claim", "reserved_claim"]


# --- debugContext and precautions -------------------------------------------------------------


def test_a_long_debug_string_keeps_the_claims_in_production() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: call.respond().add_access_claim("tier", "gold").debug(note="x" * 300))

    response = post_json(
        build_app(hooks, OKTA_HOOKS_STRICT=False).test_client(), "/token", token_payload()
    )

    assert response.status_code == 200
    assert response.get_json()["commands"][0]["value"][0]["path"] == "/claims/tier"
    assert response.get_json()["debugContext"] == {"note": "x" * 300}


@pytest.mark.parametrize("claim", ["", "a\nb", "x" * 1025])
def test_an_odd_claim_name_is_a_precaution(claim: str, caplog: pytest.LogCaptureFixture) -> None:
    response = token_call().respond().add_id_claim(claim, 1)
    assert [v.rule for v in response.violations()] == ["claim_name"]

    hooks = OktaHooks()
    hooks.token(lambda call: call.respond().add_id_claim(claim, 1))
    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        sent = post_json(
            build_app(hooks, OKTA_HOOKS_STRICT=False).test_client(), "/token", token_payload()
        )
    assert sent.status_code == 200
    assert "rules=claim_name@commands[0].value[0]" in caplog.text
    with pytest.raises(ResponseRuleError, match="claim_name"):
        post_json(build_app(hooks).test_client(), "/token", token_payload())


INVALID_RULES = {
    "token.response.bad-command-type.json": "command_type",
    "token.response.bad-path.json": "path",
    "token.response.lifetime-add-op.json": "lifetime_op",
    "token.response.lifetime-too-short.json": "lifetime_range",
    "token.response.remove-with-value.json": "remove_value",
    "token.response.reserved-claim-access.json": "reserved_claim",
    "token.response.reserved-claim-id.json": "reserved_claim",
}


@pytest.mark.parametrize("name", sample_names("token.*", folder="samples/invalid"))
def test_every_invalid_sample_is_caught_by_the_rule_check(name: str) -> None:
    body = sample(f"invalid/{name}")
    # A request carrying the claims the sample touches, so only the sample's own fault counts.
    call = token_call(id_claims={"birthdate": "1990-01-01"})

    violations = TokenHookResponse.check(call, body)

    assert [v.rule for v in violations] == [INVALID_RULES[name]]
    assert violations[0].location.startswith("commands[0]")


@pytest.mark.parametrize("name", sample_names("token.*", folder="samples/invalid"))
def test_a_handler_returning_an_invalid_sample_gets_the_safe_outcome(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: sample(f"invalid/{name}"))
    client = build_app(hooks, OKTA_HOOKS_STRICT=False).test_client()

    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = post_json(client, "/token", token_payload(id_claims={"birthdate": "x"}))

    assert response.status_code == 204  # Okta mints the tokens unchanged, at once
    assert f"rule_violation:{INVALID_RULES[name]}" in caplog.text
    assert "hook=token" in caplog.text


# --- rules at the call site -------------------------------------------------------------------


@pytest.mark.parametrize("token", list(Token))
def test_every_reserved_claim_is_refused_at_the_call_site(token: Token) -> None:
    response = token_call().respond()
    for claim in sorted(RESERVED_CLAIMS[token]):
        for attempt in (
            lambda c=claim: response.add_claim(token, c, "x"),
            lambda c=claim: response.replace_claim(token, c, "x"),
            lambda c=claim: response.remove_claim(token, c),
        ):
            with pytest.raises(ResponseRuleError) as caught:
                attempt()
            assert caught.value.rules == ("reserved_claim",)
            assert repr(claim) in str(caught.value)
    assert response.to_dict() == {}


@pytest.mark.parametrize("claim", ["aud", "sub"])
def test_aud_and_sub_can_change_in_access_tokens_only(claim: str) -> None:
    response = token_call().respond()

    response.replace_claim(Token.ACCESS, claim, "changed")
    with pytest.raises(ResponseRuleError, match="reserved"):
        response.replace_claim(Token.ID, claim, "changed")

    assert response.to_dict()["commands"] == [
        {
            "type": "com.okta.access.patch",
            "value": [{"op": "replace", "path": f"/claims/{claim}", "value": "changed"}],
        }
    ]


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (lambda r: r.replace_claim(Token.ID, "missing", 1), "claim_not_present"),
        (lambda r: r.remove_claim(Token.ACCESS, "missing"), "claim_not_present"),
        (lambda r: r.remove_claim(Token.ID, ("preferred_airports", 3)), "claim_not_present"),
        (lambda r: r.replace_claim(Token.ID, ("preferred_airports", "-"), 1), "claim_not_present"),
        (lambda r: r.add_claim(Token.ID, ("missing", "member"), 1), "parent_not_present"),
        (lambda r: r.add_claim(Token.ID, ("preferred_airports", 4), "x"), "array_position"),
        (lambda r: r.add_claim(Token.ID, ("email", "member"), 1), "parent_not_present"),
        (lambda r: r.set_lifetime(Token.ACCESS, 299), "lifetime_range"),
        (lambda r: r.set_lifetime(Token.ACCESS, 86_401), "lifetime_range"),
        (lambda r: r.set_lifetime(Token.ACCESS, True), "lifetime_range"),
        (lambda r: r.set_lifetime(Token.ID, 3600.0), "lifetime_range"),
    ],
)
def test_patches_okta_would_drop_are_refused(
    action: Callable[[TokenHookResponse], Any], rule: str
) -> None:
    response = token_call(id_claims={"preferred_airports": AIRPORTS}).respond()

    with pytest.raises(ResponseRuleError) as caught:
        action(response)

    assert caught.value.rules == (rule,)
    assert response.to_dict() == {}


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("-inf"),
        {"scores": [1.5, float("inf")]},
        [{"deep": [[float("nan")]]}],
        ("tuple", float("nan")),
    ],
)
@pytest.mark.parametrize("earlier", [0, 2], ids=["first op", "third op"])
def test_non_finite_numbers_are_refused_wherever_they_sit(value: Any, earlier: int) -> None:
    response = token_call().respond()
    for index in range(earlier):
        response.add_access_claim(f"fine{index}", {"n": [1.5, 2]})

    with pytest.raises(ResponseRuleError) as caught:
        response.add_access_claim("scores", value)

    assert caught.value.rules == ("non_finite_number",)
    assert caught.value.violations[0].location == f"commands[0].value[{earlier}]"
    kept = [
        op["path"] for command in response.to_dict().get("commands", []) for op in command["value"]
    ]
    assert kept == [f"/claims/fine{index}" for index in range(earlier)]  # the refused one left out


def test_lifetime_bounds_are_inclusive() -> None:
    body = token_call().respond().set_lifetime(Token.ID, 300).set_lifetime(Token.ACCESS, 86_400)

    assert [c["value"][0]["value"] for c in body.to_dict()["commands"]] == [300, 86_400]


@pytest.mark.parametrize(
    ("claim", "path"),
    [
        ("http://example.com/claims/x", "/claims/http:~1~1example.com~1claims~1x"),
        ("a/b", "/claims/a~1b"),
        ("~", "/claims/~0"),
        ("~1", "/claims/~01"),
        ("-", "/claims/-"),
        ("0", "/claims/0"),
        ("é👩\u200d💻\u200f", "/claims/é👩\u200d💻\u200f"),
    ],
)
def test_claim_names_are_escaped_and_round_trip(claim: str, path: str) -> None:
    call = token_call(id_claims={claim: "old"})
    response = call.respond().add_access_claim(claim, 1).replace_claim(Token.ID, claim, "new")

    body = response.to_dict()

    assert body["commands"][0]["value"][0]["path"] == path
    assert body["commands"][1]["value"][0]["path"] == path
    assert TokenHookResponse.check(call, body) == []


def test_a_hand_built_body_is_checked_like_a_helper_built_one() -> None:
    call = token_call()
    body = {
        "commands": [
            {"type": "com.okta.access.patch", "value": [{"op": "add", "path": "/claims/a/b"}]},
            {"type": "com.okta.identity.patch", "value": []},
        ],
        "error": {"errorSummary": 1},
        "debugContext": "text",
        "extra": True,
    }

    rules = sorted(v.rule for v in TokenHookResponse.check(call, body))

    assert rules == [
        "debug_context",
        "error_shape",
        "missing_value",
        "patch_shape",
        "unknown_member",
    ]


def test_commands_for_both_tokens_keep_the_order_they_were_first_touched() -> None:
    response = (
        token_call()
        .respond()
        .add_access_claim("a", 1)
        .add_id_claim("b", 2)
        .add_access_claim("c", [1, {"d": None}])
        .debug(decision="gold", version=3)
    )

    assert response.to_dict() == {
        "commands": [
            {
                "type": "com.okta.access.patch",
                "value": [
                    {"op": "add", "path": "/claims/a", "value": 1},
                    {"op": "add", "path": "/claims/c", "value": [1, {"d": None}]},
                ],
            },
            {
                "type": "com.okta.identity.patch",
                "value": [{"op": "add", "path": "/claims/b", "value": 2}],
            },
        ],
        "debugContext": {"decision": "gold", "version": 3},
    }


# --- handler outcomes through HTTP ------------------------------------------------------------


def serve(handler: Callable[[TokenHookRequest], Any], **config: Any) -> Any:
    hooks = OktaHooks()
    hooks.token(handler)
    return post_json(build_app(hooks, **config).test_client(), "/token", token_payload())


def test_a_violation_in_strict_mode_reaches_the_developer() -> None:
    with pytest.raises(ResponseRuleError, match="reserved_claim"):
        serve(
            lambda call: call.respond().add_access_claim("scp", ["admin"]), OKTA_HOOKS_STRICT=True
        )


def test_testing_apps_are_strict_by_default() -> None:
    with pytest.raises(ResponseRuleError):
        serve(lambda call: call.respond().set_lifetime(Token.ID, 10))


@pytest.mark.parametrize(
    "handler",
    [
        lambda call: call.respond().add_access_claim("scp", ["admin"]),
        lambda call: 1 / 0,
        lambda call: "not a response",
        lambda call: call.respond().add_access_claim("tier", float("nan")),
        lambda call: call.respond().add_access_claim("tier", {1, 2}),
        lambda call: call.respond().add_access_claim("big", "x" * 300_000),
        lambda call: TokenHookRequest.from_payload(token_payload()).respond(),
    ],
)
def test_in_production_a_broken_handler_gets_the_safe_outcome(
    handler: Callable[[TokenHookRequest], Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = serve(handler, OKTA_HOOKS_STRICT=False)

    assert response.status_code == 204
    assert "outcome=fallback" in caplog.text
    assert "3OWo4oo-QQ-rBWfRyTmQYw" in caplog.text  # the eventId, to find the call


def test_a_response_is_sent_as_compact_json_with_200() -> None:
    response = serve(lambda call: call.respond().add_access_claim("tier", "gold"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.data) == {
        "commands": [
            {
                "type": "com.okta.access.patch",
                "value": [{"op": "add", "path": "/claims/tier", "value": "gold"}],
            }
        ]
    }


def test_validation_can_be_switched_off_for_hand_built_bodies() -> None:
    body = {"commands": [{"type": "com.okta.example", "value": 1}]}

    response = serve(lambda call: body, OKTA_HOOKS_VALIDATE_RESPONSES=False)

    assert response.status_code == 200
    assert response.get_json() == body


def test_a_second_token_hook_takes_its_own_path() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: call.respond().add_access_claim("who", "default"))
    hooks.token("/token/partners")(lambda call: call.respond().add_access_claim("who", "partner"))
    client = build_app(hooks).test_client()

    default = post_json(client, "/token", token_payload()).get_json()
    partner = post_json(client, "/token/partners", token_payload()).get_json()

    assert default["commands"][0]["value"][0]["value"] == "default"
    assert partner["commands"][0]["value"][0]["value"] == "partner"


def test_two_handlers_cannot_share_a_path() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)

    with pytest.raises(ValueError, match="own path"):
        hooks.token(lambda call: None)


def test_handlers_cannot_be_added_after_registration() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)
    build_app(hooks)

    with pytest.raises(AssertionError, match="registered"):
        hooks.token("/token/late")(lambda call: None)
