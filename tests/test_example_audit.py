"""The example's audit writer: off the call's path, retried, flushed at exit, never silent.

A held SQLite write lock is the real fault here: another connection keeps ``BEGIN
EXCLUSIVE`` open for longer than the database's busy timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from example_app.audit_writer import AuditWriter
from example_app.db import LOCK_TIMEOUT, Database
from example_app.models import OutboxMessage
from example_app.services import services
from flask_okta_hooks.testing import telephony_request, token_request

from .conftest import SECRET
from .example_support import (
    ISAAC,
    audit_rows,
    call_hook,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    make_app,
)

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def write_lock(database: Path, seconds: float) -> Iterator[None]:
    """Hold SQLite's write lock on ``database`` for ``seconds`` from another connection."""
    holder = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    timer = threading.Timer(seconds, holder.execute, ("COMMIT",))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        holder.close()


def test_calls_are_answered_while_the_audit_waits_out_a_lock_and_every_row_is_written(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    call_hook(client, "token", token_request(login=ISAAC))  # warm: the directory is read
    slowest = 0.0

    with write_lock(tmp_path / "example.sqlite3", LOCK_TIMEOUT * 1.5):
        for _ in range(20):
            started = time.monotonic()
            response = call_hook(client, "token", token_request(login=ISAAC))
            slowest = max(slowest, time.monotonic() - started)
            assert response.status_code == 200

    rows = audit_rows(app)
    assert len(rows) == 21
    assert {row.outcome for row in rows} == {"enriched"}
    assert slowest < LOCK_TIMEOUT / 2  # the lock never held a call up
    with app.app_context():
        assert services().audit.lost == 0


def test_rows_queued_when_the_process_exits_are_written(tmp_path: Path) -> None:
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from flask_okta_hooks.testing import token_request
from tests.example_support import ISAAC, call_hook, make_app
from pathlib import Path
app = make_app(Path({str(tmp_path)!r}))
client = app.test_client()
for _ in range(200):
    assert call_hook(client, "token", token_request(login=ISAAC)).status_code == 200
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, cwd=ROOT)  # noqa: S603

    with sqlite3.connect(tmp_path / "example.sqlite3") as connection:
        (count,) = connection.execute("SELECT count(*) FROM hook_calls").fetchone()
    assert count == 200


def test_rows_it_cannot_write_after_its_retries_are_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")  # hook_calls does not exist
    writer = AuditWriter(db, attempts=3, first_pause=0.01)
    caplog.set_level(logging.ERROR, logger="example_app.audit_writer")

    for n in range(5):
        writer.submit({"hook": "token", "outcome": "enriched", "status": 200, "latency_ms": n})
    assert writer.flush(timeout=10)

    assert (writer.written, writer.lost) == (0, 5)
    # The thread may take the first row before the others are queued: one batch or more.
    failed = [r.args for r in caplog.records if r.msg.startswith("hook audit write failed")]
    lost = [r.args for r in caplog.records if r.msg.startswith("hook audit rows lost")]
    assert {(attempts, error) for _, attempts, error in failed} == {(3, "OperationalError")}
    assert sum(rows for rows, *_ in failed) == 5
    assert [(reason, total) for _, reason, total in lost][-1] == ("write_failed", 5)
    assert sum(rows for rows, *_ in lost) == 5
    db.dispose()


def outbox_count(app_db: Database) -> int:
    with app_db.session() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_the_outbox_write_is_retried_while_the_deadline_leaves_time(tmp_path: Path) -> None:
    app = make_app(tmp_path, HOOK_DEADLINE=2.5, TESTING=False)
    payload = telephony_request(phone_number="+15551234567")

    # The first attempt gives up after the busy timeout; the second finds the lock free.
    with write_lock(tmp_path / "example.sqlite3", LOCK_TIMEOUT * 1.3):
        response = call_hook(app.test_client(), "telephony", payload)

    assert response.json is not None
    assert response.json["commands"][0]["value"][0]["status"] == "SUCCESSFUL"
    with app.app_context():
        assert outbox_count(services().db) == 1


def test_the_outbox_gives_up_in_time_for_okta_to_send_the_code_itself(tmp_path: Path) -> None:
    app = make_app(tmp_path, HOOK_DEADLINE=2.0, TESTING=False)
    payload = telephony_request(phone_number="+15551234567")

    with write_lock(tmp_path / "example.sqlite3", 3.0):
        started = time.monotonic()
        response = call_hook(app.test_client(), "telephony", payload)
        took = time.monotonic() - started

    assert response.json is not None
    assert response.json["commands"][0]["value"][0]["status"] == "FAILED"
    assert took < 2.0
    assert audit_rows(app)[-1].outcome == "FAILED:provider_error"
    with app.app_context():
        assert outbox_count(services().db) == 0


def test_gunicorn_workers_write_out_their_queue_when_stopped(tmp_path: Path) -> None:
    database = tmp_path / "example.sqlite3"
    env = {
        **os.environ,
        "FLASK_INSTANCE_PATH": str(tmp_path / "instance"),
        "FLASK_DATABASE_URL": f"sqlite:///{database}",
        "FLASK_OKTA_HOOKS_SECRETS": json.dumps([SECRET]),
    }
    flask = [sys.executable, "-m", "flask", "--app", "example_app"]
    for command in ("init-db", "seed"):
        subprocess.run([*flask, command], env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "example_app:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(100):  # until a worker answers
            try:
                connection.request("GET", "/")
                connection.getresponse().read()
                break
            except OSError:
                connection.close()
                time.sleep(0.1)
        body = json.dumps(token_request(login=ISAAC))
        headers = {"Authorization": SECRET, "Content-Type": "application/json"}
        for _ in range(50):
            connection.request("POST", "/okta/hooks/token", body, headers)
            assert connection.getresponse().read()
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)  # at once: the last rows are still queued
        server.wait(30)

    with sqlite3.connect(database) as stored:
        (count,) = stored.execute("SELECT count(*) FROM hook_calls").fetchone()
    assert count == 50
