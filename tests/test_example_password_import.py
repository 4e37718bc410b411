"""The example service's password import hook through HTTP, against real legacy hashes.

VERIFIED must come only from the right password checked against a usable hash of an
active account; everything else, however odd, is UNVERIFIED and never a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from example_app import password_check
from example_app.passwords import Scheme
from example_app.services import services

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
    make_app,
    on_each_database,
    set_hash,
    set_password,
)

VERIFIED = {"commands": [{"type": "com.okta.action.update", "value": {"credential": "VERIFIED"}}]}
UNVERIFIED = {
    "commands": [{"type": "com.okta.action.update", "value": {"credential": "UNVERIFIED"}}]
}
PASSWORD = "Tr0ub4dor&3-legacy"


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    yield from app_on(request, tmp_path)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes each password check ran against, in order."""
    seen: list[str] = []
    real = password_check.verify_password

    def spy(password: bytes | str, stored: str) -> bool:
        seen.append(stored)
        return real(password, stored)

    monkeypatch.setattr(password_check, "verify_password", spy)
    return seen


def sign_in(
    username: str, password: str, sample_name: str = "password-import.request.json"
) -> dict[str, Any]:
    payload = adapted(sample_name)
    payload["data"]["context"]["credential"] = {"username": username, "password": password}
    return payload


@on_each_database
@pytest.mark.parametrize("scheme", list(Scheme))
def test_the_right_password_is_verified_and_the_account_migrated(
    app: Flask, client: FlaskClient, scheme: Scheme
) -> None:
    set_password(app, ISAAC, PASSWORD, scheme)

    response = call_hook(client, "password-import", sign_in(ISAAC, PASSWORD))

    assert response.status_code == 200
    assert response.json == VERIFIED
    account = legacy_user(app, ISAAC)
    assert account.migrated
    assert account.migrated_at is not None


@pytest.mark.parametrize("scheme", list(Scheme))
@pytest.mark.parametrize(
    "attempt", ["wrong", PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD, PASSWORD[:-1], "ü"]
)
def test_a_wrong_password_is_unverified(
    app: Flask, client: FlaskClient, scheme: Scheme, attempt: str
) -> None:
    set_password(app, ISAAC, PASSWORD, scheme)

    response = call_hook(client, "password-import", sign_in(ISAAC, attempt))

    assert response.json == UNVERIFIED
    assert not legacy_user(app, ISAAC).migrated


@pytest.mark.parametrize(
    "sample_name", ["password-import.request.json", "password-import.request.oie.json"]
)
def test_both_engines_requests_are_served(
    app: Flask, client: FlaskClient, sample_name: str
) -> None:
    set_password(app, ISAAC, PASSWORD)

    response = call_hook(client, "password-import", sign_in(ISAAC, PASSWORD, sample_name))

    assert response.json == VERIFIED


def test_the_okta_sample_as_sent_is_unverified(app: Flask, client: FlaskClient) -> None:
    set_password(app, ISAAC, PASSWORD)  # the sample's user, typing "Okta"

    response = call_hook(client, "password-import", adapted("password-import.request.json"))

    assert response.json == UNVERIFIED


def test_the_username_is_matched_without_case_or_spaces(app: Flask, client: FlaskClient) -> None:
    set_password(app, ISAAC, PASSWORD)

    response = call_hook(client, "password-import", sign_in(" Isaac.Brock@EXAMPLE.com ", PASSWORD))

    assert response.json == VERIFIED


def test_unknown_users_cost_one_dummy_check(client: FlaskClient, checks: list[str]) -> None:
    response = call_hook(client, "password-import", sign_in("nobody@example.com", PASSWORD))

    assert response.json == UNVERIFIED
    assert len(checks) == 1


def test_accounts_without_a_password_cost_one_dummy_check(
    client: FlaskClient, checks: list[str]
) -> None:
    response = call_hook(client, "password-import", sign_in(ERIN, PASSWORD))  # seeded, no hash

    assert response.json == UNVERIFIED
    assert len(checks) == 1


def test_a_suspended_account_is_unverified_even_with_the_right_password(
    app: Flask, client: FlaskClient
) -> None:
    set_password(app, VICTOR, PASSWORD)

    response = call_hook(client, "password-import", sign_in(VICTOR, PASSWORD))

    assert response.json == UNVERIFIED
    assert not legacy_user(app, VICTOR).migrated


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "$2b$04$tooShort",
        "$2b$04$" + "*" * 53,
        "$2b$99$" + "a" * 53,
        "$argon2id$v=19$m=8,t=1,p=1$garbage$garbage",
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "pbkdf2_sha256$0$salt$" + "A" * 43 + "=",
        "pbkdf2_sha256$999999999$salt$" + "A" * 43 + "=",
        "pbkdf2_sha256$1000$salt$" + "!" * 44,
    ],
)
def test_malformed_stored_hashes_are_unverified_after_one_dummy_check(
    app: Flask, client: FlaskClient, checks: list[str], stored: str
) -> None:
    set_hash(app, ISAAC, stored)

    response = call_hook(client, "password-import", sign_in(ISAAC, PASSWORD))

    assert response.status_code == 200
    assert response.json == UNVERIFIED
    assert len(checks) == 1
    assert checks[0] != stored


def test_bcrypt_passwords_over_72_bytes_are_never_verified(
    app: Flask, client: FlaskClient, checks: list[str]
) -> None:
    # A legacy bcrypt that truncated would accept any password sharing these 72 bytes.
    set_password(app, ISAAC, "x" * 72)

    response = call_hook(client, "password-import", sign_in(ISAAC, "x" * 72 + "anything"))

    assert response.json == UNVERIFIED
    assert len(checks) == 1  # the dummy check: same cost as a real one
    assert call_hook(client, "password-import", sign_in(ISAAC, "x" * 72)).json == VERIFIED


@pytest.mark.parametrize("scheme", [Scheme.ARGON2, Scheme.PBKDF2])
def test_long_passwords_are_verified_by_formats_that_read_them_whole(
    app: Flask, client: FlaskClient, scheme: Scheme
) -> None:
    long_password = "é" * 300  # 600 bytes
    set_password(app, ISAAC, long_password, scheme)

    assert call_hook(client, "password-import", sign_in(ISAAC, long_password)).json == VERIFIED
    assert call_hook(client, "password-import", sign_in(ISAAC, "é" * 299)).json == UNVERIFIED


@pytest.mark.parametrize("scheme", list(Scheme))
@pytest.mark.parametrize("attempt", [PASSWORD + "\x00", PASSWORD + "\x00tail", "\x00" + PASSWORD])
def test_passwords_with_nul_bytes_are_unverified(
    app: Flask, client: FlaskClient, scheme: Scheme, attempt: str
) -> None:
    set_password(app, ISAAC, PASSWORD, scheme)

    response = call_hook(client, "password-import", sign_in(ISAAC, attempt))

    assert response.status_code == 200
    assert response.json == UNVERIFIED


@pytest.mark.parametrize("password", ["", "p" * 1025, "é" * 513])
def test_empty_and_huge_passwords_are_unverified_without_hashing(
    app: Flask, client: FlaskClient, checks: list[str], password: str
) -> None:
    set_password(app, ISAAC, PASSWORD)

    response = call_hook(client, "password-import", sign_in(ISAAC, password))

    assert response.json == UNVERIFIED
    assert checks == []


def test_an_empty_username_is_unverified_without_hashing(
    client: FlaskClient, checks: list[str]
) -> None:
    assert call_hook(client, "password-import", sign_in("", PASSWORD)).json == UNVERIFIED
    assert checks == []


def test_a_verifier_error_is_unverified(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_password(app, ISAAC, PASSWORD)

    def broken(password: bytes | str, stored: str) -> bool:
        raise RuntimeError("verifier crashed")

    monkeypatch.setattr(password_check, "verify_password", broken)

    assert call_hook(client, "password-import", sign_in(ISAAC, PASSWORD)).json == UNVERIFIED
    assert audit_rows(app)[-1].outcome == "UNVERIFIED:verifier_error"


def test_a_directory_failure_is_unverified(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: Any) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(password_check, "find_user", unreachable)

    assert call_hook(client, "password-import", sign_in(ISAAC, PASSWORD)).json == UNVERIFIED
    assert audit_rows(app)[-1].outcome == "UNVERIFIED:directory_error"


def test_a_check_that_cannot_meet_the_deadline_is_shed_at_once(
    tmp_path: Path, checks: list[str]
) -> None:
    app = make_app(tmp_path, HOOK_DEADLINE=1.0)
    set_password(app, ISAAC, PASSWORD)
    with app.app_context():
        services().passwords.admission.learn(Scheme.BCRYPT, 5.0)  # far beyond the deadline

    started = time.perf_counter()
    response = call_hook(app.test_client(), "password-import", sign_in(ISAAC, PASSWORD))

    assert response.json == UNVERIFIED
    assert time.perf_counter() - started < 0.5
    assert checks == []
    assert audit_rows(app)[-1].outcome == "UNVERIFIED:shed"


def test_a_check_waits_for_a_busy_slot_only_while_it_can_still_finish(tmp_path: Path) -> None:
    app = make_app(tmp_path, HOOK_DEADLINE=0.5, PASSWORD_CONCURRENCY=1)
    set_password(app, ISAAC, PASSWORD)
    with app.app_context():
        admission = services().passwords.admission
    release = _hold_the_only_slot(admission)
    try:
        started = time.perf_counter()
        response = call_hook(app.test_client(), "password-import", sign_in(ISAAC, PASSWORD))
        elapsed = time.perf_counter() - started
    finally:
        release()

    assert response.json == UNVERIFIED
    # It waited for the slot while it could still finish, and answered by the deadline
    # (plus the test client's own overhead), not after Okta's timeout.
    assert 0.3 < elapsed < 0.65


def _hold_the_only_slot(admission: password_check.Admission) -> Callable[[], None]:
    import threading

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        release.wait(5)

    thread = threading.Thread(
        target=admission.run, args=("holder", time.monotonic() + 10, hold), daemon=True
    )
    thread.start()
    held.wait(5)

    def done() -> None:
        release.set()
        thread.join(5)

    return done


@on_each_database
def test_the_audit_records_verdicts_and_never_the_password(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    canary = "canary-Pa55w0rd-7f3c1e"
    caplog.set_level(logging.DEBUG)
    set_password(app, ISAAC, canary)

    call_hook(client, "password-import", sign_in(ISAAC, canary))
    call_hook(client, "password-import", sign_in(ISAAC, canary + "x"))
    call_hook(client, "password-import", sign_in("nobody@example.com", canary))

    assert [(r.hook, r.event_id, r.outcome, r.status) for r in audit_rows(app)] == [
        ("password-import", "3o9jBzq1SmOGmmsDsqyyeQ", "VERIFIED", 200),
        ("password-import", "3o9jBzq1SmOGmmsDsqyyeQ", "UNVERIFIED:wrong_password", 200),
        ("password-import", "3o9jBzq1SmOGmmsDsqyyeQ", "UNVERIFIED:unknown_user", 200),
    ]
    assert canary not in caplog.text
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("example.sqlite3*"))
    assert canary.encode() not in stored
