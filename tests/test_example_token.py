"""The example service's token hook through HTTP: directory claims, lifetimes per client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from example_app.models import ClientTokenPolicy
from example_app.services import services

from .example_support import (
    ISAAC,
    SALLY,
    VICTOR,
    adapted,
    app_on,
    audit_rows,
    call_hook,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    legacy_user,
    on_each_database,
)

OKTA_USER_ID = "00uq8tMo3zV0OfJON0g3"
ISAAC_ACCESS = [
    {"op": "add", "path": "/claims/roles", "value": ["employee", "engineer"]},
    {
        "op": "add",
        "path": "/claims/entitlements",
        "value": ["ci:run", "expenses:submit", "git:write", "intranet:read", "prod:read"],
    },
    {"op": "add", "path": "/claims/department", "value": "Engineering"},
]
ISAAC_ID = [{"op": "add", "path": "/claims/department", "value": "Engineering"}]
#: The seeded policy for every client: access tokens live 30 minutes.
ACCESS_LIFETIME = {"op": "replace", "path": "/token/lifetime/expiration", "value": 1800}


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    yield from app_on(request, tmp_path)


def token_request(login: str | None = ISAAC, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Okta's token sample, for ``login`` (no user at all when ``None``)."""
    payload = adapted("token.request.json")
    context = payload["data"]["context"]
    if login is None:
        del context["user"], context["session"]
    else:
        context["user"]["profile"]["login"] = login
        context["session"]["login"] = login
    for member in drop:
        del payload["data"][member]
    return payload


def set_policy(app: Flask, client_id: str, access: int | None, identity: int | None) -> None:
    with app.app_context(), services().db.session() as session:
        session.merge(
            ClientTokenPolicy(
                client_id=client_id, access_token_lifetime=access, id_token_lifetime=identity
            )
        )


@on_each_database
def test_both_tokens_get_the_users_claims_and_the_client_lifetime(client: FlaskClient) -> None:
    response = call_hook(client, "token", token_request())

    assert response.status_code == 200
    assert response.json == {
        "commands": [
            {"type": "com.okta.access.patch", "value": [*ISAAC_ACCESS, ACCESS_LIFETIME]},
            {"type": "com.okta.identity.patch", "value": ISAAC_ID},
        ]
    }


def test_only_the_id_token_is_patched_when_only_it_is_minted(client: FlaskClient) -> None:
    response = call_hook(client, "token", token_request(drop=("access",)))

    assert response.json == {"commands": [{"type": "com.okta.identity.patch", "value": ISAAC_ID}]}


def test_only_the_access_token_is_patched_when_only_it_is_minted(client: FlaskClient) -> None:
    response = call_hook(client, "token", token_request(drop=("identity",)))

    assert response.json == {
        "commands": [{"type": "com.okta.access.patch", "value": [*ISAAC_ACCESS, ACCESS_LIFETIME]}]
    }


def test_a_claim_the_server_already_emits_is_replaced(client: FlaskClient) -> None:
    payload = token_request(drop=("access",))
    payload["data"]["identity"]["claims"]["department"] = "Old Department"

    response = call_hook(client, "token", payload)

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.identity.patch",
                "value": [{"op": "replace", "path": "/claims/department", "value": "Engineering"}],
            }
        ]
    }


def test_a_claim_with_the_right_value_is_left_alone(app: Flask, client: FlaskClient) -> None:
    set_policy(app, "*", None, None)
    payload = token_request(drop=("access",))
    payload["data"]["identity"]["claims"]["department"] = "Engineering"

    response = call_hook(client, "token", payload)

    assert response.status_code == 204


def test_a_suspended_account_gets_no_roles(client: FlaskClient) -> None:
    response = call_hook(client, "token", token_request(VICTOR, drop=("identity",)))

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.access.patch",
                "value": [
                    {"op": "add", "path": "/claims/roles", "value": []},
                    {"op": "add", "path": "/claims/entitlements", "value": []},
                    {"op": "add", "path": "/claims/department", "value": "Sales"},
                    ACCESS_LIFETIME,
                ],
            }
        ]
    }


def test_unknown_users_get_only_the_lifetime_policy(client: FlaskClient) -> None:
    response = call_hook(client, "token", token_request("nobody@example.com"))

    assert response.json == {
        "commands": [{"type": "com.okta.access.patch", "value": [ACCESS_LIFETIME]}]
    }


def test_client_credentials_tokens_get_the_lifetime_policy(client: FlaskClient) -> None:
    response = call_hook(client, "token", token_request(None, drop=("identity",)))

    assert response.json == {
        "commands": [{"type": "com.okta.access.patch", "value": [ACCESS_LIFETIME]}]
    }


@on_each_database
def test_a_client_with_its_own_policy_gets_its_lifetimes(app: Flask, client: FlaskClient) -> None:
    set_policy(app, "customClientIdNative", None, 7200)

    response = call_hook(client, "token", token_request("nobody@example.com"))

    assert response.json == {
        "commands": [
            {
                "type": "com.okta.identity.patch",
                "value": [{"op": "replace", "path": "/token/lifetime/expiration", "value": 7200}],
            }
        ]
    }


def test_nothing_to_change_is_an_empty_answer(app: Flask, client: FlaskClient) -> None:
    set_policy(app, "*", 3600, 3600)  # the sample's own lifetimes

    response = call_hook(client, "token", token_request("nobody@example.com"))

    assert response.status_code == 204
    assert response.data == b""


def test_the_okta_user_id_is_remembered_once(app: Flask, client: FlaskClient) -> None:
    call_hook(client, "token", token_request(ISAAC))
    call_hook(client, "token", token_request(SALLY))  # same Okta id in the sample: not taken

    assert legacy_user(app, ISAAC).okta_user_id == OKTA_USER_ID
    assert legacy_user(app, SALLY).okta_user_id is None


def test_every_call_is_audited(app: Flask, client: FlaskClient) -> None:
    call_hook(client, "token", token_request())
    call_hook(client, "token", token_request("nobody@example.com"))
    call_hook(client, "token", token_request(), Authorization="wrong secret")

    rows = [(r.hook, r.event_id, r.outcome, r.status) for r in audit_rows(app)]
    assert rows == [
        ("token", "3OWo4oo-QQ-rBWfRyTmQYw", "enriched", 200),
        ("token", "3OWo4oo-QQ-rBWfRyTmQYw", "lifetime_only", 200),
        ("token", None, "rejected:401", 401),
    ]
    assert all(row.latency_ms >= 0 for row in audit_rows(app))
