"""The example service's SAML hook through HTTP: attribute statements from the directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .example_support import (
    ERIN,
    ISAAC,
    VICTOR,
    adapted,
    app_on,
    audit_rows,
    call_hook,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    legacy_user,
    on_each_database,
)

UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    yield from app_on(request, tmp_path)


def assertion_for(login: str, **claims: Any) -> dict[str, Any]:
    payload = adapted("saml.request.json")
    payload["data"]["context"]["user"]["profile"]["login"] = login
    payload["data"]["context"]["session"]["login"] = login
    payload["data"]["assertion"]["claims"].update(claims)
    return payload


def statement(values: list[str], name_format: str = UNSPECIFIED) -> dict[str, Any]:
    return {
        "attributes": {"NameFormat": name_format},
        "attributeValues": [{"attributes": {"xsi:type": "xs:string"}, "value": v} for v in values],
    }


def add(name: str, values: list[str], name_format: str = UNSPECIFIED) -> dict[str, Any]:
    return {"op": "add", "path": f"/claims/{name}", "value": statement(values, name_format)}


@on_each_database
def test_a_known_user_gets_the_directorys_attributes(client: FlaskClient) -> None:
    response = call_hook(client, "saml", assertion_for(ERIN))

    assert response.status_code == 200
    assert response.json == {
        "commands": [
            {
                "type": "com.okta.assertion.patch",
                "value": [
                    add("department", ["Finance"]),
                    add("employeeNumber", ["1002"]),
                    add("roles", ["employee", "finance"]),
                    add(
                        "entitlements",
                        [
                            "expenses:approve",
                            "expenses:submit",
                            "intranet:read",
                            "ledger:read",
                            "ledger:write",
                        ],
                    ),
                ],
            }
        ]
    }


def test_an_attribute_the_app_emits_keeps_its_name_format(client: FlaskClient) -> None:
    payload = assertion_for(ISAAC, department=statement(["Old"], BASIC))

    response = call_hook(client, "saml", payload)

    assert response.json is not None
    assert response.json["commands"][0]["value"][0] == add("department", ["Engineering"], BASIC)


def test_attributes_already_right_are_left_alone(client: FlaskClient) -> None:
    payload = assertion_for(
        VICTOR, department=statement(["Sales"]), employeeNumber=statement(["1004"])
    )

    response = call_hook(client, "saml", payload)

    # A suspended account has no roles, so nothing is left to add.
    assert response.status_code == 204


def test_an_unknown_user_gets_the_assertion_unchanged(client: FlaskClient) -> None:
    response = call_hook(client, "saml", adapted("saml.request.json"))

    assert response.status_code == 204
    assert response.data == b""


@on_each_database
def test_saml_calls_are_audited_and_remember_the_okta_user(app: Flask, client: FlaskClient) -> None:
    call_hook(client, "saml", assertion_for(ISAAC))
    call_hook(client, "saml", adapted("saml.request.json"))

    assert [(r.hook, r.event_id, r.outcome, r.status) for r in audit_rows(app)] == [
        ("saml", "XMFoHCM1S4Wi_SGWzL8T9A", "enriched", 200),
        ("saml", "XMFoHCM1S4Wi_SGWzL8T9A", "unknown_user", 204),
    ]
    assert legacy_user(app, ISAAC).okta_user_id == "00uq8tMo3zV0OfJON0g3"
