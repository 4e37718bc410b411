"""The example service's event hooks through HTTP, with the test kit, on SQLite and
PostgreSQL.

Each delivery is committed to the library's intake table in the service's own database
before the 204, then handled from there by consumer threads (or a ``worker`` process).
Lifecycle and password import events are kept once per ``uuid``, however often Okta
delivers them and whichever worker receives them; a legacy password is marked for
cleanup only when Okta's ``user.import.password`` event reports ``SUCCESS``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from example_app.banner import render
from example_app.db import Database
from example_app.hooks import events as event_hooks
from example_app.models import LegacyUser, PasswordCleanup, ReceivedEvent
from example_app.services import services
from flask_okta_hooks.cli import cli as okta_hooks_cli
from flask_okta_hooks.testing import (
    OktaClient,
    assert_events_accepted,
    assert_verification_answered,
    event_hook_request,
    log_event,
)

from .conftest import REQUEST_SAMPLE, SECRET
from .example_support import (
    DATABASES,
    ERIN,
    ISAAC,
    adapted,
    app_on,
    audit_rows,
    close,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    database_url,
    legacy_user,
    make_app,
    on_each_database,
)

ISAAC_OKTA_ID = "00u7isaacBrock0001x7"
PUBLISHED = datetime(2025, 3, 12, 9, 15, 30, tzinfo=UTC)
EVENTS_PATH = "/okta/hooks/events"


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    yield from app_on(request, tmp_path)


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, tmp_path)


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


def intake(app: Flask) -> list[tuple[str, str, str]]:
    """The intake table's events: endpoint, uuid and status, in the order they came."""
    query = text("SELECT path, uuid, status FROM okta_hook_events ORDER BY id")
    with app.app_context(), services().db.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


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


# --- through the intake, once each ---------------------------------------------------------


@on_each_database
def test_events_are_in_the_database_when_okta_gets_its_204(
    okta_client: OktaClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.config["OKTA_HOOKS_EVENTS_INTAKE"] == services_url(app)
    release = threading.Event()
    threads: list[str] = []
    real = event_hooks.record_event

    def held(*args: Any) -> bool:
        threads.append(threading.current_thread().name)
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(event_hooks, "record_event", held)
    created = log_event("user.lifecycle.create", uuid="e-durable")

    result = okta_client.deliver(created, password_imported(uuid="e-import"), wait=False)

    assert_events_accepted(result)
    assert intake(app) == [
        (EVENTS_PATH, "e-durable", "queued"),
        (EVENTS_PATH, "e-import", "queued"),
    ]
    assert stored(app) == []  # committed first, handled after
    release.set()
    okta_client.drain()
    assert [status for *_, status in intake(app)] == ["done", "done"]
    assert {r.uuid for r in stored(app)} == {"e-durable", "e-import"}
    assert list(cleanups(app)) == [ISAAC]
    assert threads == ["okta-hooks-consumer"] * 2  # the web process's consumer threads


def services_url(app: Flask) -> str:
    with app.app_context():
        return services().db.url


@on_each_database
def test_an_event_delivered_again_is_kept_once(okta_client: OktaClient, app: Flask) -> None:
    event = password_imported(uuid="e-twice")

    first = okta_client.deliver(event, event, event_id="d-1")  # twice in one batch
    retry = okta_client.deliver(event, event_id="d-1")  # Okta's retry
    rebatched = okta_client.deliver(log_event("user.lifecycle.activate", uuid="e-new"), event)

    for result in (first, retry, rebatched):
        assert_events_accepted(result)
    assert [r.uuid for r in stored(app)] == ["e-twice", "e-new"]
    assert list(cleanups(app)) == [ISAAC]
    assert intake(app) == [(EVENTS_PATH, "e-twice", "done"), (EVENTS_PATH, "e-new", "done")]


@on_each_database
def test_a_handler_run_twice_for_one_event_changes_nothing(
    okta_client: OktaClient, app: Flask
) -> None:
    # What happens when a consumer dies after its handler's commit and before the event
    # was marked done: the lease runs out and another consumer runs the handler again.
    event = password_imported(uuid="e-again")
    okta_client.deliver(event)
    with app.app_context():
        services().db.write(text("UPDATE okta_hook_events SET status = 'queued'"))

    okta_client.drain()

    assert [r.uuid for r in stored(app)] == ["e-again"]
    assert [(login, row.event_uuid) for login, row in cleanups(app).items()] == [(ISAAC, "e-again")]
    assert intake(app) == [(EVENTS_PATH, "e-again", "done")]


def test_workers_sharing_the_database_handle_an_event_once(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        assert results == [204] * 6
        assert runs == ["e-race"]  # one row in the shared intake, taken by one consumer
        assert [r.uuid for r in stored(workers[0])] == ["e-race"]
        assert list(cleanups(workers[2])) == [ISAAC]
    finally:
        for worker in workers:
            close(worker)


@on_each_database
def test_a_failed_handler_runs_again_from_the_intake(
    okta_client: OktaClient,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = event_hooks.confirm_password_import
    failures = [RuntimeError(f"directory down while marking {ISAAC}")]
    kept_after_failure: list[tuple[Any, ...]] = []

    def flaky(*args: Any) -> None:
        if failures:
            raise failures.pop()
        kept_after_failure.append((stored(app), intake(app)))
        real(*args)

    monkeypatch.setattr(event_hooks, "confirm_password_import", flaky)

    with caplog.at_level(logging.DEBUG):
        result = okta_client.deliver(password_imported(uuid="e-flaky"))

    assert_events_accepted(result)  # Okta had its 204 before the handler failed
    # Stored and marked together, or neither: the failed run left nothing behind.
    assert kept_after_failure == [([], [(EVENTS_PATH, "e-flaky", "queued")])]
    assert [r.uuid for r in stored(app)] == ["e-flaky"]
    assert list(cleanups(app)) == [ISAAC]
    assert intake(app) == [(EVENTS_PATH, "e-flaky", "done")]
    assert (
        "okta event handler failed: event_type='user.import.password' uuid='e-flaky' "
        "error=RuntimeError"
    ) in caplog.text
    assert ISAAC not in caplog.text


def test_an_event_failing_every_attempt_is_parked_listed_and_retried(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(tmp_path, DATABASE_URL=database, OKTA_HOOKS_EVENTS_ATTEMPTS=2)
    request.addfinalizer(lambda: close(app))  # before the database is dropped
    okta_client = OktaClient(app)
    monkeypatch.setattr(event_hooks, "confirm_password_import", directory_down)
    cli = app.test_cli_runner()

    assert_events_accepted(okta_client.deliver(password_imported(uuid="e-parked")))

    assert intake(app) == [(EVENTS_PATH, "e-parked", "failed")]
    assert stored(app) == []
    listed = cli.invoke(okta_hooks_cli, ["events", "failed"])
    assert listed.exit_code == 0, listed.output
    assert "\t/okta/hooks/events\tuuid=e-parked\tattempts=2\terror=RuntimeError\n" in listed.output
    assert listed.output.endswith("1 failed event(s)\n")
    assert ISAAC not in listed.output

    monkeypatch.undo()  # the directory is back
    retried = cli.invoke(okta_hooks_cli, ["events", "retry", "--all"])
    okta_client.drain()

    assert retried.output == "1 event(s) queued again\n"
    assert intake(app) == [(EVENTS_PATH, "e-parked", "done")]
    assert list(cleanups(app)) == [ISAAC]
    assert cli.invoke(okta_hooks_cli, ["events", "failed"]).output == "0 failed event(s)\n"


def directory_down(*args: Any) -> None:
    raise RuntimeError("the directory is down")


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


def test_an_in_memory_database_keeps_its_events_in_memory(tmp_path: Path) -> None:
    # Another engine would open another, empty in-memory database.
    app = make_app(tmp_path, DATABASE_URL="sqlite://")
    try:
        assert app.config["OKTA_HOOKS_EVENTS_INTAKE"] == "memory"
        assert_events_accepted(OktaClient(app).deliver(password_imported(uuid="e-memory")))
        assert [r.uuid for r in stored(app)] == ["e-memory"]
    finally:
        close(app)


# --- a web process without consumers and a worker process ----------------------------------

ROOT = Path(__file__).resolve().parents[1]
FLASK = [sys.executable, "-m", "flask", "--app", "example_app"]
GUNICORN = [sys.executable, "-m", "gunicorn"]


def test_a_worker_process_handles_what_the_web_process_took_on(
    tmp_path: Path, database: str
) -> None:
    close(make_app(tmp_path, DATABASE_URL=database))  # the schema and demo data
    env = {
        **os.environ,
        "FLASK_INSTANCE_PATH": str(tmp_path / "instance"),
        "FLASK_DATABASE_URL": database,
        "FLASK_OKTA_HOOKS_SECRETS": json.dumps([SECRET]),
        "FLASK_OKTA_HOOKS_EVENTS_WORKERS": "0",
    }
    deliveries = [
        [password_imported(uuid="e-import")],
        [log_event("user.lifecycle.create", uuid="e-create")],
        [log_event("user.lifecycle.suspend", uuid="e-suspend")],
    ]
    reader = Database(database)
    with serving(env) as port:
        for n, events in enumerate(deliveries, 1):
            assert post(port, event_hook_request(events)) == 204
            # Answered only once the delivery's events were committed.
            assert len(intake_rows(reader)) == n
    # The web process is gone, with no consumer of its own: nothing was handled.
    assert [status for *_, status in intake_rows(reader)] == ["queued"] * 3

    worker = subprocess.Popen(  # noqa: S603
        [*FLASK, "okta-hooks", "worker", "--progress", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while intake_rows(reader) != [
            (EVENTS_PATH, uuid, "done") for uuid in ("e-import", "e-create", "e-suspend")
        ]:
            assert time.monotonic() < deadline, "the worker handled nothing in 30 s"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    reader.dispose()

    assert worker.returncode == 0, output
    assert "okta-hooks worker: handled=3 retried=0 parked=0\n" in output
    assert output.endswith("okta-hooks worker stopped: handled=3 retried=0 parked=0\n")
    with Database(database).session() as session:
        assert set(session.scalars(select(ReceivedEvent.uuid))) == {
            "e-import",
            "e-create",
            "e-suspend",
        }


def intake_rows(db: Database) -> list[tuple[str, str, str]]:
    with db.connect() as connection:
        rows = connection.execute(
            text("SELECT path, uuid, status FROM okta_hook_events ORDER BY id")
        )
        return [tuple(row) for row in rows]


@contextlib.contextmanager
def serving(env: dict[str, str]) -> Iterator[int]:
    """The example under gunicorn (one worker) until the block ends; yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen(  # noqa: S603
        [*GUNICORN, "--workers", "1", "--bind", f"127.0.0.1:{port}", "example_app:create_app()"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "gunicorn did not start"
                assert time.monotonic() < deadline, "gunicorn did not listen in 30 s"
                time.sleep(0.1)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def post(port: int, delivery: dict[str, Any]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": SECRET, "Content-Type": "application/json"}
        connection.request("POST", EVENTS_PATH, json.dumps(delivery), headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
