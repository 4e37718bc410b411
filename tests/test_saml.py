"""The SAML assertion inline hook end to end: Okta's samples in and out, Okta's rules."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from flask_okta_hooks import (
    AssertionSection,
    AttributeNameFormat,
    OktaHooks,
    ResponseRuleError,
    SamlHookRequest,
    SamlHookResponse,
)

from .conftest import build_app, post_json, response_schema, sample, sample_names

URI_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
URI_FOO = URI_CLAIMS + "foo"
URI_BAR = URI_CLAIMS + "bar"
UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"


def attribute(*values: str, xsi_type: str = "xs:string") -> dict[str, Any]:
    """An attribute statement as Okta sends it."""
    return {
        "attributes": {"NameFormat": UNSPECIFIED},
        "attributeValues": [{"attributes": {"xsi:type": xsi_type}, "value": v} for v in values],
    }


def saml_payload(claims: dict[str, Any] | None = None) -> dict[str, Any]:
    """Okta's SAML request sample, with extra attribute statements in its assertion."""
    payload: dict[str, Any] = copy.deepcopy(sample("saml.request.json"))
    payload["data"]["assertion"]["claims"].update(claims or {})
    return payload


def saml_call(claims: dict[str, Any] | None = None) -> SamlHookRequest:
    return SamlHookRequest.from_payload(saml_payload(claims))


def compact(body: Any) -> bytes:
    """``body`` as the compact JSON the blueprint sends, keys in their given order."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sample_names("saml.request*.json"))
def test_every_request_sample_reaches_the_handler_typed(name: str) -> None:
    seen: list[SamlHookRequest] = []
    hooks = OktaHooks()

    @hooks.saml
    def handler(call: SamlHookRequest) -> None:
        seen.append(call)

    response = post_json(build_app(hooks).test_client(), "/saml", sample(name))

    assert response.status_code == 204
    assert response.data == b""
    (call,) = seen
    payload = sample(name)
    assertion = payload["data"]["assertion"]
    assert call.payload == payload
    assert call.event_id == payload["eventId"]
    assert call.subject is not None
    assert call.subject.name_id == assertion["subject"]["nameId"]
    assert call.authentication is not None
    assert call.authentication.session_index == assertion["authentication"]["sessionIndex"]
    assert list(call.claims) == list(assertion["claims"])
    assert call.lifetime == assertion["lifetime"]["expiration"]


def test_request_sections_are_typed() -> None:
    call = saml_call()

    assert call.subject is not None
    assert call.subject.name_format == "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    assert call.subject.confirmation is not None
    assert call.subject.confirmation.method == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    assert call.subject.confirmation.recipient == "http://www.example.com:7070/saml/sso"
    assert call.authentication is not None
    assert call.authentication.authn_context_class_ref == (
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    )
    assert call.conditions is not None
    assert call.conditions.audience_restriction == ("urn:example:sp",)
    assert call.lifetime == 300
    array = call.attribute("array")
    assert array is not None
    assert array.name_format == UNSPECIFIED
    assert array.plain_values == ("Array 1", "Array2", "Array3")
    patient = call.claims["extPatientId"]
    assert patient.values[0].xsi_type == "xs:integer"
    assert patient.values[0].value == "4321"
    assert call.attribute("missing") is None


def test_context_sections_are_typed() -> None:
    call = saml_call()

    assert call.login == "administrator1@example.com"
    assert call.user is not None
    assert call.user.id == "00uq8tMo3zV0OfJON0g3"
    assert call.user.profile.time_zone == "America/Los_Angeles"
    assert call.session is not None
    assert call.session.amr == ("PASSWORD",)
    assert call.session.mfa_active is False
    assert call.protocol.type == "SAML2.0"
    assert call.issuer is not None
    assert call.issuer.id == "0oath92zlO60urQOP0g3"
    assert call.issuer.name == "SAML 2.0 App"
    assert call.issuer.uri == "http://www.okta.com/exkth8lMzFm0HZOTU0g3"
    assert call.request_info is not None
    assert call.request_info.method == "GET"


def test_unknown_members_are_ignored_but_reachable() -> None:
    payload = saml_payload()
    payload["data"]["assertion"]["subject"]["newOktaField"] = [1]
    payload["data"]["assertion"]["claims"]["array"]["attributeValues"][0]["extra"] = True
    payload["futureMember"] = True

    call = SamlHookRequest.from_payload(payload)

    assert call.subject is not None
    assert call.claims["array"].plain_values[0] == "Array 1"
    assert call.payload["futureMember"] is True
    assert call.assertion["subject"]["newOktaField"] == [1]


@pytest.mark.parametrize(
    ("change", "read", "field"),
    [
        (
            lambda d: d["assertion"].update(subject=[]),
            lambda c: c.subject,
            "data.assertion.subject",
        ),
        (
            lambda d: d["assertion"]["lifetime"].update(expiration="300"),
            lambda c: c.lifetime,
            "data.assertion.lifetime.expiration",
        ),
        (
            lambda d: d["assertion"]["claims"]["array"].update(attributeValues={}),
            lambda c: c.claims,
            "data.assertion.claims",
        ),
        (
            lambda d: d["assertion"]["conditions"].update(audienceRestriction="urn:example:sp"),
            lambda c: c.conditions,
            "data.assertion.conditions.audienceRestriction",
        ),
    ],
)
def test_a_malformed_section_the_handler_reads_is_a_400(
    change: Callable[[dict[str, Any]], None], read: Callable[[SamlHookRequest], Any], field: str
) -> None:
    payload = saml_payload()
    change(payload["data"])
    hooks = OktaHooks()

    @hooks.saml
    def handler(call: SamlHookRequest) -> None:
        read(call)

    response = post_json(build_app(hooks).test_client(), "/saml", payload)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert response.get_json()["error"]["fields"] == [field]


def test_sections_the_handler_does_not_read_are_not_validated() -> None:
    payload = saml_payload()
    payload["data"]["assertion"]["claims"] = "not an object"
    hooks = OktaHooks()
    hooks.saml(lambda call: call.respond().replace("subject", "nameId", "anna@example.com"))

    response = post_json(build_app(hooks).test_client(), "/saml", payload)

    assert response.status_code == 200


# --- responses: every documented sample can be produced by the helper ------------------------

Builder = Callable[[SamlHookResponse], SamlHookResponse]

#: For each documented response: the extra claims its request must carry, and how to build it.
BUILDERS: dict[str, tuple[dict[str, Any], Builder]] = {
    "saml.response.json": (
        {},
        lambda r: (
            r.replace_attribute_value("array", 1, "replacementValue")
            .replace(
                AssertionSection.AUTHENTICATION,
                "authnContext",
                {"authnContextClassRef": "replacementValue"},
            )
            .add_attribute("extPatientId", "4321", name_format=AttributeNameFormat.BASIC)
            .set_session_lifetime(300)
            .new_command()
            .replace(AssertionSection.AUTHENTICATION, "sessionIndex", "definitelyARealSession")
        ),
    ),
    "saml.response.uri-claims.json": (
        {URI_FOO: attribute("original")},
        lambda r: (
            r.replace_attribute_value(URI_FOO, 0, "replacementValue")
            .replace(
                AssertionSection.CLAIMS,
                (URI_FOO, "attributes"),
                {"attributes": {"NameFormat": AttributeNameFormat.BASIC.value}},
            )
            .add_attribute(URI_BAR, "bearer", name_format=AttributeNameFormat.BASIC)
        ),
    ),
    "saml.response.error.json": (
        {},
        lambda r: r.error("Human-readable summary of the error"),
    ),
}


@pytest.mark.parametrize("name", sample_names("saml.response*.json"))
def test_every_response_sample_is_produced_through_http(name: str) -> None:
    assert name in BUILDERS, f"no builder for the documented response {name}"
    claims, build = BUILDERS[name]
    hooks = OktaHooks()

    @hooks.saml
    def handler(call: SamlHookRequest) -> SamlHookResponse:
        return build(call.respond())

    response = post_json(build_app(hooks).test_client(), "/saml", saml_payload(claims))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.data == compact(sample(name))  # byte for byte, member order included
    jsonschema.validate(response.get_json(), response_schema("saml"))


INVALID_RULES = {
    "saml.response.add-attribute-without-values.json": ("attribute_values", "commands[0].value[0]"),
    "saml.response.remove-op.json": ("operation", "commands[0].value[0]"),
}


@pytest.mark.parametrize("name", sample_names("saml.*", folder="samples/invalid"))
def test_every_invalid_sample_is_caught_by_the_rule_check(name: str) -> None:
    rule, location = INVALID_RULES[name]

    violations = SamlHookResponse.check(saml_call(), sample(f"invalid/{name}"))

    assert [v.rule for v in violations] == [rule]
    assert violations[0].location.startswith(location)


@pytest.mark.parametrize("name", sample_names("saml.*", folder="samples/invalid"))
def test_a_handler_returning_an_invalid_sample_gets_the_safe_outcome(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = OktaHooks()
    hooks.saml(lambda call: sample(f"invalid/{name}"))
    client = build_app(hooks, OKTA_HOOKS_STRICT=False).test_client()

    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = post_json(client, "/saml", saml_payload())

    assert response.status_code == 204  # Okta sends the original assertion, at once
    assert f"rule_violation:{INVALID_RULES[name][0]}" in caplog.text
    assert "hook=saml" in caplog.text


# --- rules at the call site -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (lambda r: r.add_attribute("groups", []), "attribute_values"),
        (lambda r: r.add_attribute("groups", "x", xsi_type=1), "attribute_shape"),  # untyped use
        (lambda r: r.set_session_lifetime(0), "session_lifetime"),
        (lambda r: r.set_session_lifetime(True), "session_lifetime"),
        (lambda r: r.set_session_lifetime(3600.0), "session_lifetime"),
        (lambda r: r.replace("authentication", "sessionLifetime", 300), "session_lifetime"),
        (lambda r: r.replace("subject", "missing", "x"), "element_not_present"),
        (lambda r: r.replace("claims", "missing", "x"), "element_not_present"),
        (lambda r: r.replace_attribute_value("array", 3, "x"), "element_not_present"),
        (lambda r: r.replace_attribute_value("missing", 0, "x"), "element_not_present"),
        (
            lambda r: r.replace("conditions", ("audienceRestriction", "-"), "x"),
            "element_not_present",
        ),
        (lambda r: r.replace("subject", "nameId", None), "value_kind"),
        (lambda r: r.replace("subject", "nameId", {"value": "x"}), "value_kind"),
        (lambda r: r.replace("authentication", "authnContext", "x"), "value_kind"),
        (lambda r: r.replace("conditions", "audienceRestriction", "urn:x"), "value_kind"),
        (lambda r: r.replace("claims", "array", {"attributes": {}}), "attribute_values"),
        (
            lambda r: r.replace(
                "claims", "array", {"attributeValues": [{"value": "x"}], "name": "array"}
            ),
            "attribute_shape",
        ),
        (lambda r: r.replace("claims", "array", attribute_with_bad_type()), "attribute_shape"),
    ],
)
def test_operations_okta_cannot_apply_are_refused(
    action: Callable[[SamlHookResponse], Any], rule: str
) -> None:
    response = saml_call().respond()

    with pytest.raises(ResponseRuleError) as caught:
        action(response)

    assert caught.value.rules == (rule,)
    assert response.to_dict() == {}


def attribute_with_bad_type() -> dict[str, Any]:
    return {"attributeValues": [{"attributes": {"xsi:type": 1}, "value": "x"}]}


def test_a_refused_operation_leaves_the_command_unchanged() -> None:
    response = saml_call().respond().add_attribute("groups", "Everyone")

    with pytest.raises(ResponseRuleError, match="element_not_present"):
        response.replace("subject", "missing", "x")

    assert len(response.to_dict()["commands"][0]["value"]) == 1


@pytest.mark.parametrize("section", list(AssertionSection))
def test_every_section_can_be_replaced_where_okta_sent_an_element(
    section: AssertionSection,
) -> None:
    call = saml_call()
    element = next(iter(call.assertion[section.value]))
    old = call.assertion[section.value][element]
    new = copy.deepcopy(old) if isinstance(old, dict | list) else "new"

    body = call.respond().replace(section, element, new).to_dict()

    assert body["commands"][0]["value"] == [
        {"op": "replace", "path": f"/{section.value}/{element}", "value": new}
    ]
    assert SamlHookResponse.check(call, body) == []


def test_an_attribute_of_the_same_name_may_be_added_over_the_one_okta_sent() -> None:
    body = saml_call().respond().add_attribute("middle", "B.").to_dict()

    assert body["commands"][0]["value"][0]["path"] == "/claims/middle"


def test_values_and_xsi_types_are_built_from_python_values() -> None:
    body = saml_call().respond().add_attribute("mixed", ["a", 42, True, 1.5]).to_dict()

    assert body["commands"][0]["value"][0]["value"] == {
        "attributes": {"NameFormat": UNSPECIFIED},
        "attributeValues": [
            {"attributes": {"xsi:type": "xs:string"}, "value": "a"},
            {"attributes": {"xsi:type": "xs:integer"}, "value": "42"},
            {"attributes": {"xsi:type": "xs:boolean"}, "value": "true"},
            {"attributes": {"xsi:type": "xs:double"}, "value": "1.5"},
        ],
    }


def test_an_explicit_xsi_type_applies_to_every_value() -> None:
    response = saml_call().respond()
    response.add_attribute(
        "groups", ("a", "b"), name_format=AttributeNameFormat.URI, xsi_type="xs:anyURI"
    )
    response.replace_attribute_value("extPatientId", 0, 1234)

    operations = response.to_dict()["commands"][0]["value"]

    assert operations[0]["value"]["attributes"] == {"NameFormat": AttributeNameFormat.URI.value}
    assert [v["attributes"]["xsi:type"] for v in operations[0]["value"]["attributeValues"]] == [
        "xs:anyURI",
        "xs:anyURI",
    ]
    assert operations[1] == {
        "op": "replace",
        "path": "/claims/extPatientId/attributeValues/0/value",
        "value": "1234",
    }


@pytest.mark.parametrize(
    ("value", "error"), [(float("nan"), ValueError), (None, TypeError), ({"a": 1}, TypeError)]
)
def test_values_without_a_text_form_are_refused(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        saml_call().respond().add_attribute("x", [value])


def test_okta_uri_claim_paths_come_out_byte_for_byte() -> None:
    call = saml_call({URI_FOO: attribute("a")})

    body = call.respond().replace_attribute_value(URI_FOO, 0, "b").add_attribute(URI_BAR, "c")

    paths = [operation["path"] for operation in body.to_dict()["commands"][0]["value"]]
    assert paths == [
        "/claims/http:~1~1schemas.xmlsoap.org~1ws~12005~105~1identity~1claims~1foo"
        "/attributeValues/0/value",
        "/claims/http:~1~1schemas.xmlsoap.org~1ws~12005~105~1identity~1claims~1bar",
    ]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("a/b", "/claims/a~1b"),
        ("~", "/claims/~0"),
        ("~1", "/claims/~01"),
        ("-", "/claims/-"),
        ("0", "/claims/0"),
        ("é👩\u200d💻", "/claims/é👩\u200d💻"),
    ],
)
def test_attribute_names_are_escaped_and_round_trip(name: str, path: str) -> None:
    call = saml_call({name: attribute("old")})

    body = call.respond().add_attribute(name, "x").replace_attribute_value(name, 0, "y").to_dict()

    operations = body["commands"][0]["value"]
    assert operations[0]["path"] == path
    assert operations[1]["path"] == path + "/attributeValues/0/value"
    assert SamlHookResponse.check(call, body) == []


@pytest.mark.parametrize(
    ("operation", "rule"),
    [
        ({"op": "add", "path": "/subject/nameId", "value": "x"}, "add_path"),
        ({"op": "add", "path": "/claims/array/attributeValues/-", "value": {}}, "add_path"),
        ({"op": "replace", "path": "/lifetime/expiration", "value": 600}, "path"),
        ({"op": "replace", "path": "/claims", "value": {}}, "path"),
        ({"op": "replace", "path": "claims/array", "value": {}}, "path"),
        ({"op": "replace", "path": "/claims/a~2b", "value": {}}, "path"),
        ({"op": "replace", "path": 1, "value": "x"}, "path"),
        ({"op": "replace", "path": "/subject/nameId"}, "missing_value"),
        ({"op": "move", "path": "/subject/nameId", "from": "/x"}, "operation_shape"),
        ({"op": "copy", "path": "/subject/nameId", "value": "x"}, "operation"),
        ("replace /subject/nameId", "operation_shape"),
    ],
)
def test_a_hand_built_operation_is_checked_like_a_helper_built_one(
    operation: Any, rule: str
) -> None:
    body = {"commands": [{"type": "com.okta.assertion.patch", "value": [operation]}]}

    violations = SamlHookResponse.check(saml_call(), body)

    assert [v.rule for v in violations] == [rule]
    assert violations[0].location == "commands[0].value[0]"


def test_a_hand_built_body_is_checked_whole() -> None:
    body = {
        "commands": [
            {"type": "com.okta.assertion.patch", "value": []},
            {"type": "com.okta.identity.patch", "value": []},
        ],
        "error": {"errorSummary": 1},
        "extra": True,
    }

    rules = sorted(v.rule for v in SamlHookResponse.check(saml_call(), body))

    assert rules == ["command_type", "error_shape", "patch_shape", "unknown_member"]


def test_operations_go_into_one_command_until_a_new_one_is_started() -> None:
    body = (
        saml_call()
        .respond()
        .add_attribute("a", "1")
        .set_session_lifetime(60)
        .new_command()
        .new_command()
        .add_attribute("b", "2")
        .debug(rule="saml-enrich")
        .to_dict()
    )

    assert [[op["path"] for op in command["value"]] for command in body["commands"]] == [
        ["/claims/a", "/authentication/sessionLifetime"],
        ["/claims/b"],
    ]
    assert body["debugContext"] == {"rule": "saml-enrich"}


# --- handler outcomes through HTTP ------------------------------------------------------------


def serve(handler: Callable[[SamlHookRequest], Any], **config: Any) -> Any:
    hooks = OktaHooks()
    hooks.saml(handler)
    return post_json(build_app(hooks, **config).test_client(), "/saml", saml_payload())


def test_no_answer_is_an_empty_204_and_okta_keeps_the_assertion() -> None:
    response = serve(lambda call: None)

    assert response.status_code == 204
    assert response.data == b""


def test_a_response_is_sent_as_json_with_200() -> None:
    response = serve(lambda call: call.respond().set_session_lifetime(3600))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {
        "commands": [
            {
                "type": "com.okta.assertion.patch",
                "value": [{"op": "add", "path": "/authentication/sessionLifetime", "value": 3600}],
            }
        ]
    }


def test_a_violation_in_strict_mode_reaches_the_developer() -> None:
    with pytest.raises(ResponseRuleError, match="element_not_present"):
        serve(
            lambda call: call.respond().replace("subject", "missing", "x"), OKTA_HOOKS_STRICT=True
        )


@pytest.mark.parametrize(
    "handler",
    [
        lambda call: call.respond().replace("subject", "missing", "x"),
        lambda call: 1 / 0,
        lambda call: call.respond().add_attribute("x", [float("inf")]),
        lambda call: {"commands": [{"type": "com.okta.assertion.patch", "value": []}]},
        lambda call: "not a response",
    ],
)
def test_in_production_a_broken_handler_gets_the_safe_outcome(
    handler: Callable[[SamlHookRequest], Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = serve(handler, OKTA_HOOKS_STRICT=False)

    assert response.status_code == 204
    assert response.data == b""
    assert "hook=saml" in caplog.text
    assert "XMFoHCM1S4Wi_SGWzL8T9A" in caplog.text  # the eventId, to find the call


def test_the_safe_outcome_is_an_empty_204() -> None:
    assert SamlHookResponse.safe_outcome(saml_call()) is None


# --- a patch applies in order -----------------------------------------------------------------

NEW_STATEMENT = {
    "attributes": {"NameFormat": AttributeNameFormat.BASIC.value},
    "attributeValues": [{"attributes": {"xsi:type": "xs:string"}, "value": "gold"}],
}


def test_an_operation_may_change_what_an_earlier_one_of_its_patch_added() -> None:
    operations = [
        {"op": "add", "path": "/claims/tier", "value": NEW_STATEMENT},
        {"op": "replace", "path": "/claims/tier/attributeValues/0/value", "value": "platinum"},
        {"op": "add", "path": "/claims/tier", "value": NEW_STATEMENT},
    ]
    body = {"commands": [{"type": "com.okta.assertion.patch", "value": operations}]}
    hooks = OktaHooks()
    hooks.saml(lambda call: body)
    payload = saml_payload()

    response = post_json(build_app(hooks).test_client(), "/saml", payload)

    assert response.status_code == 200
    assert response.get_json() == body
    assert "tier" not in payload["data"]["assertion"]["claims"]
    assert NEW_STATEMENT["attributeValues"][0]["value"] == "gold"  # type: ignore[index]


def test_the_helpers_build_on_earlier_operations_too() -> None:
    response = (
        saml_call()
        .respond()
        .add_attribute("tier", "gold")
        .replace_attribute_value("tier", 0, "platinum")
    )

    assert response.to_dict()["commands"][0]["value"][1] == {
        "op": "replace",
        "path": "/claims/tier/attributeValues/0/value",
        "value": "platinum",
    }


@pytest.mark.parametrize("name", ["", "a\nb", "x" * 1025])
def test_an_odd_attribute_name_is_a_precaution(name: str) -> None:
    response = saml_call().respond().add_attribute(name, "x")

    assert [v.rule for v in response.violations()] == ["attribute_name"]
    hooks = OktaHooks()
    hooks.saml(lambda call: call.respond().add_attribute(name, "x"))
    sent = post_json(
        build_app(hooks, OKTA_HOOKS_STRICT=False).test_client(), "/saml", saml_payload()
    )
    assert sent.status_code == 200
    with pytest.raises(ResponseRuleError, match="attribute_name"):
        post_json(build_app(hooks).test_client(), "/saml", saml_payload())
