"""The example service's event hooks through HTTP, with the test kit.

Lifecycle and password import events are kept once per ``uuid``, however often Okta
delivers them and whichever worker receives them; a legacy password is marked for
cleanup only when Okta's ``user.import.password`` event reports ``SUCCESS``.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from example_app import events as events_module
from example_app.banner import render
from example_app.events import SqlDedupeStore
from example_app.hooks import events as event_hooks
from example_app.models import EventClaim, LegacyUser, PasswordCleanup, ReceivedEvent
from example_app.services import services
from flask_okta_hooks.testing import (
    OktaClient,
    assert_events_accepted,
    assert_verification_answered,
    log_event,
)

from .conftest import REQUEST_SAMPLE
from .example_support import ERIN, ISAAC, adapted, audit_rows, legacy_user, make_app

ISAAC_OKTA_ID = "00u7isaacBrock0001x7"
PUBLISHED = datetime(2025, 3, 12, 9, 15, 30, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


def okta_user(login: str, okta_id: str = ISAAC_OKTA_ID) -> dict[str, Any]:
    return {
        "id": okta_id,
        "type": "User",
        "alternateId": login,
        "displayName": "Legacy User",
        "detailEntry": None,
    }


def password_imported(
    login: str = ISAAC, *, result: str = "SUCCESS", okta_id: str = ISAAC_OKTA_ID, **kwargs: Any
) -> dict[str, Any]:
    """Okta's record of a password import for ``login`` (the user is actor and target)."""
    return log_event(
        "user.import.password",
        outcome=result,
        published=PUBLISHED,
        actor=okta_user(login, okta_id),
        targets=[okta_user(login, okta_id)],
        displayMessage="Import password",
        **kwargs,
    )


def stored(app: Flask) -> list[ReceivedEvent]:
    with app.app_context(), services().db.session() as session:
        return list(session.scalars(select(ReceivedEvent).order_by(ReceivedEvent.id)))


def cleanups(app: Flask) -> dict[str, PasswordCleanup]:
    with app.app_context(), services().db.session() as session:
        rows = session.execute(
            select(LegacyUser.login, PasswordCleanup).join(
                PasswordCleanup, PasswordCleanup.user_id == LegacyUser.id
            )
        )
        return dict(rows.all())


def claims(app: Flask) -> list[str]:
    with app.app_context(), services().db.session() as session:
        return list(session.scalars(select(EventClaim.key).order_by(EventClaim.key)))


# --- verification and lifecycle events ------------------------------------------------------


def test_okta_can_verify_the_event_hook(okta_client: OktaClient, app: Flask) -> None:
    assert_verification_answered(okta_client.verify("challenge-from-okta"), "challenge-from-okta")
    assert "/okta/hooks/events\n" in render(app, "http://127.0.0.1:5000")


def test_lifecycle_events_are_kept_for_later(okta_client: OktaClient, app: Flask) -> None:
    created = log_event("user.lifecycle.create", uuid="e-create", published=PUBLISHED)
    suspended = log_event("user.lifecycle.suspend", uuid="e-suspend")
    deleted = log_event("user.lifecycle.delete.initiated", uuid="e-delete")
    signed_in = log_event("user.session.start", uuid="e-session")

    result = okta_client.deliver(created, signed_in, suspended, deleted)

    assert_events_accepted(result)
    # Handlers run side by side, so rows come in any order, as Okta's events do.
    rows = {row.uuid: row for row in stored(app)}
    assert {uuid: row.event_type for uuid, row in rows.items()} == {
        "e-create": "user.lifecycle.create",
        "e-suspend": "user.lifecycle.suspend",
        "e-delete": "user.lifecycle.delete.initiated",
    }
    assert rows["e-create"].payload == created
    assert rows["e-create"].published == "2025-03-12T09:15:30+00:00"
    assert all(row.processed_at is None for row in rows.values())
    assert cleanups(app) == {}


def test_the_shipped_delivery_keeps_its_lifecycle_event(
    okta_client: OktaClient, app: Flask
) -> None:
    assert_events_accepted(okta_client.deliver())

    assert [r.event_type for r in stored(app)] == ["user.lifecycle.deactivate"]


def test_okta_s_own_sample_delivery_is_accepted(okta_client: OktaClient, app: Flask) -> None:
    result = okta_client.post("events", adapted(REQUEST_SAMPLE["events"]))
    okta_client.drain()

    assert_events_accepted(result)
    assert stored(app) == []  # a sign-in: not an event this service keeps


# --- password imports -----------------------------------------------------------------------


def test_a_successful_import_marks_the_legacy_password_for_cleanup(
    okta_client: OktaClient, app: Flask
) -> None:
    event = password_imported(uuid="e-import")

    assert_events_accepted(okta_client.deliver(event))

    (cleanup,) = cleanups(app).items()
    login, row = cleanup
    assert login == ISAAC
    assert row.event_uuid == "e-import"
    assert row.confirmed_at is not None
    assert row.confirmed_at.replace(tzinfo=UTC) == PUBLISHED
    (kept,) = stored(app)
    assert (kept.uuid, kept.event_type) == ("e-import", "user.import.password")
    assert kept.processed_at is not None
    # The legacy account now knows which Okta user it became.
    assert legacy_user(app, ISAAC).okta_user_id == ISAAC_OKTA_ID
    assert legacy_user(app, ISAAC).password_hash is None  # marked, not deleted


@pytest.mark.parametrize("result", ["FAILURE", "UNKNOWN", "SKIPPED"])
def test_an_import_that_did_not_succeed_marks_nothing(
    okta_client: OktaClient, app: Flask, result: str
) -> None:
    assert_events_accepted(okta_client.deliver(password_imported(result=result, uuid="e-f")))

    assert cleanups(app) == {}
    (kept,) = stored(app)
    assert kept.uuid == "e-f"


def test_an_import_without_an_outcome_marks_nothing(okta_client: OktaClient, app: Flask) -> None:
    assert_events_accepted(okta_client.deliver(password_imported(drop=("outcome",))))

    assert cleanups(app) == {}
    assert len(stored(app)) == 1


def test_the_account_is_found_by_its_okta_user_id_first(
    okta_client: OktaClient, app: Flask
) -> None:
    with app.app_context(), services().db.session() as session:
        erin = session.scalars(select(LegacyUser).where(LegacyUser.login == ERIN)).one()
        erin.okta_user_id = "00u5erinOrtiz0001x7"

    # Erin's Okta login differs from her legacy one: the Okta user id still finds her.
    event = password_imported("erin@corp.example", okta_id="00u5erinOrtiz0001x7")
    assert_events_accepted(okta_client.deliver(event))

    assert list(cleanups(app)) == [ERIN]


def test_an_unknown_user_s_import_is_kept_but_marks_nothing(
    okta_client: OktaClient, app: Flask
) -> None:
    event = password_imported("nobody@example.com", okta_id="00u0nobody000000x7")

    assert_events_accepted(okta_client.deliver(event))

    assert cleanups(app) == {}
    assert len(stored(app)) == 1


def test_a_new_legacy_password_clears_the_confirmation(okta_client: OktaClient, app: Flask) -> None:
    okta_client.deliver(password_imported())
    assert list(cleanups(app)) == [ISAAC]

    result = app.test_cli_runner().invoke(args=["add-user", ISAAC, "--password", "n3w-legacy"])

    assert result.exit_code == 0, result.output
    assert cleanups(app) == {}


# --- once each ------------------------------------------------------------------------------


def test_an_event_delivered_again_is_kept_once(okta_client: OktaClient, app: Flask) -> None:
    event = password_imported(uuid="e-twice")

    first = okta_client.deliver(event, event, event_id="d-1")  # twice in one batch
    retry = okta_client.deliver(event, event_id="d-1")  # Okta's retry
    rebatched = okta_client.deliver(log_event("user.lifecycle.activate", uuid="e-new"), event)

    for result in (first, retry, rebatched):
        assert_events_accepted(result)
    assert [r.uuid for r in stored(app)] == ["e-twice", "e-new"]
    assert list(cleanups(app)) == [ISAAC]
    assert claims(app) == ["/okta/hooks/events#e-new", "/okta/hooks/events#e-twice"]


def test_workers_sharing_the_database_handle_an_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    workers = [make_app(tmp_path / f"worker-{n}", DATABASE_URL=database) for n in range(3)]
    runs: list[str | None] = []
    real = event_hooks.record_event

    def counting(*args: Any) -> bool:
        runs.append(args[1].uuid)
        return real(*args)

    monkeypatch.setattr(event_hooks, "record_event", counting)
    event = password_imported(uuid="e-race")
    start = threading.Barrier(6)
    results: list[int] = []

    def deliver(worker: Flask) -> None:
        client = OktaClient(worker)
        start.wait(5)
        results.append(client.deliver(event).status_code)

    threads = [threading.Thread(target=deliver, args=(workers[n % 3],)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert results == [204] * 6
    assert runs == ["e-race"]  # the shared claim let one worker run the handler
    assert [r.uuid for r in stored(workers[0])] == ["e-race"]
    assert list(cleanups(workers[2])) == [ISAAC]


def test_a_failed_handler_gives_the_event_back_for_a_redelivery(
    okta_client: OktaClient,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = event_hooks.confirm_password_import
    failures = [RuntimeError(f"directory down while marking {ISAAC}")]

    def flaky(*args: Any) -> None:
        if failures:
            raise failures.pop()
        real(*args)

    monkeypatch.setattr(event_hooks, "confirm_password_import", flaky)
    event = password_imported(uuid="e-flaky")

    with caplog.at_level(logging.DEBUG):
        failed = okta_client.deliver(event)
        kept_nothing = (stored(app), cleanups(app), claims(app))
        redelivered = okta_client.deliver(event)

    assert_events_accepted(failed)  # Okta already had its 204 when the handler failed
    assert kept_nothing == ([], {}, [])  # stored and marked together, or neither
    assert_events_accepted(redelivered)
    assert [r.uuid for r in stored(app)] == ["e-flaky"]
    assert list(cleanups(app)) == [ISAAC]
    assert (
        "okta event handler failed: event_type='user.import.password' uuid='e-flaky' "
        "error=RuntimeError"
    ) in caplog.text
    assert ISAAC not in caplog.text


def test_an_event_without_a_uuid_is_not_kept(
    okta_client: OktaClient, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="example_app.events"):
        result = okta_client.deliver(
            log_event("user.lifecycle.create", drop=("uuid",)),
            log_event("user.lifecycle.create", uuid="u" * 65),
        )

    assert_events_accepted(result)
    assert stored(app) == []
    assert caplog.text.count("okta event not stored, no usable uuid") == 2


def test_deliveries_and_verifications_are_audited(okta_client: OktaClient, app: Flask) -> None:
    okta_client.verify("c-audit")
    okta_client.deliver(password_imported())
    okta_client.verify("c", authenticated=False)

    assert [(r.hook, r.status) for r in audit_rows(app)] == [
        ("events", 200),
        ("events", 204),
        ("events", 401),
    ]


def test_old_claims_can_be_forgotten(okta_client: OktaClient, app: Flask) -> None:
    okta_client.deliver(log_event("user.lifecycle.create", uuid="e-old"))
    with app.app_context():
        store = events_module.SqlDedupeStore(services().db)

    assert store.forget_before(datetime.now(UTC) - timedelta(days=1)) == 0
    assert store.forget_before(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert claims(app) == []
    assert isinstance(app.config["OKTA_HOOKS_EVENTS_DEDUPE"], SqlDedupeStore)
