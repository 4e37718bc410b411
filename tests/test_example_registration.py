"""The example service's registration hook through HTTP: allowed domains, required attributes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .example_support import (
    ISAAC,
    adapted,
    app_on,
    audit_rows,
    call_hook,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    make_app,
    on_each_database,
)

SSR = "registration.request.ssr.json"
PP = "registration.request.progressive-profile.json"
CLASSIC = "registration.request.classic-ssr.json"
ALLOW = {"type": "com.okta.action.update", "value": {"registration": "ALLOW"}}
DENY = {"type": "com.okta.action.update", "value": {"registration": "DENY"}}


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    yield from app_on(request, tmp_path)


def sign_up(**profile: Any) -> dict[str, Any]:
    payload = adapted(SSR)
    payload["data"]["userProfile"].update(profile)
    return payload


def profile_update(
    login: str = ISAAC, current: dict[str, Any] | None = None, **update: Any
) -> dict[str, Any]:
    payload = adapted(PP)
    payload["data"]["context"]["user"]["profile"]["login"] = login
    payload["data"]["context"]["user"]["profile"].update(current or {})
    payload["data"]["userProfileUpdate"] = update
    return payload


def field_cause(attribute: str, message: str, reason: str) -> dict[str, str]:
    return {
        "errorSummary": message,
        "reason": reason,
        "locationType": "body",
        "location": f"data.userProfile.{attribute}",
        "domain": "end-user",
    }


# --- self-service registration ---------------------------------------------------------------


@on_each_database
def test_a_sign_up_from_an_allowed_domain_gets_its_organization(client: FlaskClient) -> None:
    response = call_hook(client, "registration", adapted(SSR))

    assert response.status_code == 200
    assert response.json == {
        "commands": [
            {"type": "com.okta.user.profile.update", "value": {"organization": "Example Corp"}},
            ALLOW,
        ]
    }


def test_a_sign_up_is_normalised(client: FlaskClient) -> None:
    payload = sign_up(
        email="  Rosario.Jones@Example.ORG ",
        login="Rosario.Jones@Example.ORG",
        firstName=" Rosario  Maria ",
        lastName="Jones",
    )

    response = call_hook(client, "registration", payload)

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.user.profile.update",
                "value": {
                    "email": "rosario.jones@example.org",
                    "login": "rosario.jones@example.org",
                    "firstName": "Rosario Maria",
                    "organization": "Example Foundation",
                },
            },
            ALLOW,
        ]
    }


@pytest.mark.parametrize(
    "email",
    [
        "rosario@gmail.test",
        "rosario@sub.example.com",  # subdomains are not the domain
        "rosario@example.com.evil.test",
        "not-an-email",
        "two@at@example.com",
        "",
    ],
)
def test_a_sign_up_from_another_domain_is_denied_at_the_email_field(
    client: FlaskClient, email: str
) -> None:
    response = call_hook(client, "registration", sign_up(email=email, login=email))

    message = "Sign-ups are open to Example Corp email addresses only."
    assert response.status_code == 200
    assert response.json == {
        "commands": [DENY],
        "error": {
            "errorSummary": message,
            "errorCauses": [field_cause("email", message, "INVALID_EMAIL_DOMAIN")],
        },
    }


def test_a_classic_engine_sign_up_is_screened_the_same_way(client: FlaskClient) -> None:
    payload = adapted(CLASSIC)
    payload["data"]["userProfile"]["email"] = "someone@gmail.test"

    response = call_hook(client, "registration", payload)

    assert response.json is not None
    assert response.json["commands"] == [DENY]


# --- progressive profile ---------------------------------------------------------------------


def test_attributes_the_directory_knows_are_filled_in(client: FlaskClient) -> None:
    response = call_hook(client, "registration", profile_update(employeeNumber=" 1001 "))

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.user.progressive.profile.update",
                "value": {"employeeNumber": "1001", "department": "Engineering"},
            },
            ALLOW,
        ]
    }


def test_a_complete_profile_is_allowed_without_changes(client: FlaskClient) -> None:
    payload = profile_update(current={"department": "Engineering"}, employeeNumber="1001")

    response = call_hook(client, "registration", payload)

    assert response.json == {"commands": [ALLOW]}


@on_each_database
def test_missing_attributes_are_asked_for_at_their_fields(client: FlaskClient) -> None:
    response = call_hook(client, "registration", profile_update("newcomer@example.com"))

    assert response.json == {
        "commands": [DENY],
        "error": {
            "errorSummary": "Please complete your profile.",
            "errorCauses": [
                field_cause("employeeNumber", "Employee number is required.", "REQUIRED"),
                field_cause("department", "Department is required.", "REQUIRED"),
            ],
        },
    }


def test_an_unknown_user_may_supply_the_attributes(client: FlaskClient) -> None:
    payload = profile_update("newcomer@example.com", employeeNumber="2001", department=" Legal ")

    response = call_hook(client, "registration", payload)

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.user.progressive.profile.update",
                "value": {"department": "Legal"},
            },
            ALLOW,
        ]
    }


@pytest.mark.parametrize(
    ("number", "message", "reason"),
    [
        ("12a4", "Employee numbers are 1 to 10 digits.", "INVALID_FORMAT"),
        ("12345678901", "Employee numbers are 1 to 10 digits.", "INVALID_FORMAT"),
        ("9999", "This employee number does not match our records.", "MISMATCH"),
    ],
)
def test_a_wrong_employee_number_is_refused_at_its_field(
    client: FlaskClient, number: str, message: str, reason: str
) -> None:
    response = call_hook(client, "registration", profile_update(employeeNumber=number))

    assert response.json is not None
    assert response.json["error"]["errorCauses"] == [field_cause("employeeNumber", message, reason)]
    assert response.json["commands"] == [DENY]


def test_the_required_attributes_are_configurable(tmp_path: Path) -> None:
    app = make_app(tmp_path, REQUIRED_PROFILE_ATTRIBUTES="title, employeeNumber")

    response = call_hook(app.test_client(), "registration", profile_update())

    assert response.json is not None
    assert response.json["error"]["errorCauses"] == [
        field_cause("title", "Job title is required.", "REQUIRED")
    ]


@on_each_database
def test_registration_calls_are_audited(app: Flask, client: FlaskClient) -> None:
    call_hook(client, "registration", adapted(SSR))
    call_hook(client, "registration", sign_up(email="x@gmail.test"))
    call_hook(client, "registration", profile_update("newcomer@example.com"))

    assert [(r.hook, r.event_id, r.outcome) for r in audit_rows(app)] == [
        ("registration", "04Dmt8BcT_aEgM", "allowed"),
        ("registration", "04Dmt8BcT_aEgM", "denied:email_domain"),
        ("registration", "vzYp_zMwQu2htIWRbNJdfw", "denied:profile"),
    ]
