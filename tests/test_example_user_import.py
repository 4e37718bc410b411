"""The example service's user import hook through HTTP: link what the directory knows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from example_app.services import services

from .example_support import (
    ERIN,
    ISAAC,
    adapted,
    app_on,
    audit_rows,
    call_hook,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    on_each_database,
)

CREATE = {"type": "com.okta.action.update", "value": {"result": "CREATE_USER"}}
LINK = {"type": "com.okta.action.update", "value": {"result": "LINK_USER"}}
OKTA_ID = "00u1legacyIsaac0g4"


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    yield from app_on(request, tmp_path)


def app_user(
    email: str | None = None, user_id: str | None = None, **profile: Any
) -> dict[str, Any]:
    payload = adapted("user-import.request.json")
    if email is not None:
        payload["data"]["appUser"]["profile"]["email"] = email
        payload["data"]["user"]["profile"]["email"] = email.strip().lower()
    payload["data"]["appUser"]["profile"].update(profile)
    if user_id is not None:
        payload["data"]["user"]["id"] = user_id
    return payload


def link_isaac(app: Flask) -> None:
    from sqlalchemy import update

    from example_app.models import LegacyUser

    with app.app_context(), services().db.session() as session:
        session.execute(
            update(LegacyUser).where(LegacyUser.login == ISAAC).values(okta_user_id=OKTA_ID)
        )


def test_an_app_user_the_directory_does_not_know_becomes_a_new_okta_user(
    client: FlaskClient,
) -> None:
    response = call_hook(client, "user-import", adapted("user-import.request.json"))

    assert response.status_code == 200
    assert response.json == {"commands": [CREATE]}


@on_each_database
def test_an_app_user_whose_account_is_in_okta_is_linked_to_it(
    app: Flask, client: FlaskClient
) -> None:
    link_isaac(app)

    response = call_hook(client, "user-import", app_user(ISAAC))

    assert response.json == {
        "commands": [LINK, {"type": "com.okta.user.update", "value": {"id": OKTA_ID}}]
    }


def test_the_okta_id_learned_at_sign_in_is_used_for_linking(
    app: Flask, client: FlaskClient
) -> None:
    token = adapted("token.request.json")
    token["data"]["context"]["user"]["profile"]["login"] = ISAAC

    call_hook(client, "token", token)
    response = call_hook(client, "user-import", app_user(ISAAC.upper()))

    assert response.json is not None
    assert response.json["commands"][-2:] == [
        LINK,
        {"type": "com.okta.user.update", "value": {"id": "00uq8tMo3zV0OfJON0g3"}},
    ]


@on_each_database
def test_a_known_account_not_yet_in_okta_is_created_with_directory_data(
    client: FlaskClient,
) -> None:
    response = call_hook(client, "user-import", app_user(ERIN))

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.user.profile.update",
                "value": {"department": "Finance", "employeeNumber": "1002"},
            },
            CREATE,
        ]
    }


def test_okta_s_own_match_stands_for_accounts_the_directory_does_not_link(
    client: FlaskClient,
) -> None:
    response = call_hook(client, "user-import", app_user(user_id="00uOktaMatched0g4"))

    assert response.status_code == 200
    assert response.json == {}


def test_the_app_user_profile_is_normalised(app: Flask, client: FlaskClient) -> None:
    link_isaac(app)
    payload = app_user(" Isaac.Brock@Example.COM ", firstName="  Isaac ", lastName="Brock  Jr")

    response = call_hook(client, "user-import", payload)

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.appUser.profile.update",
                "value": {
                    "email": "isaac.brock@example.com",
                    "firstName": "Isaac",
                    "lastName": "Brock Jr",
                },
            },
            LINK,
            {"type": "com.okta.user.update", "value": {"id": OKTA_ID}},
        ]
    }


def test_user_imports_are_audited(app: Flask, client: FlaskClient) -> None:
    link_isaac(app)
    call_hook(client, "user-import", app_user(ISAAC))
    call_hook(client, "user-import", adapted("user-import.request.json"))
    call_hook(client, "user-import", app_user(user_id="00uOktaMatched0g4"))

    assert [(r.hook, r.event_id, r.outcome) for r in audit_rows(app)] == [
        ("user-import", "JUGOUiYZTaKPmH6db0nDag", "linked"),
        ("user-import", "JUGOUiYZTaKPmH6db0nDag", "created"),
        ("user-import", "JUGOUiYZTaKPmH6db0nDag", "okta_match"),
    ]
