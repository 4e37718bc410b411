"""Event intakes and de-duplication stores: one contract over every backend.

Memory and SQLite run everywhere; PostgreSQL and Redis are real servers (markers
``postgres`` and ``redis``, see conftest). Worker processes are real ``flask okta-hooks
worker`` processes, stopped with SIGTERM or killed with SIGKILL.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from flask import Flask

from flask_okta_hooks import (
    ConfigurationError,
    LogEvent,
    MemoryDedupeStore,
    OktaHooks,
    SqlIntake,
)
from flask_okta_hooks.cli import cli
from flask_okta_hooks.testing import HookWarning, OktaClient, log_event

from .conftest import REDIS_URL, build_app
from .dedupe_race import store_for

ROOT = Path(__file__).resolve().parents[1]
WORKER_SECRET = "worker-test-secret-0123456789"

INTAKES = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
SQL_INTAKES = INTAKES[1:]
STORES = [*INTAKES, pytest.param("redis", id="redis", marks=pytest.mark.redis)]


@pytest.fixture
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The backend URL of the test's parameter."""
    kind: str = request.param
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    if kind == "postgres":
        postgres_url: str = request.getfixturevalue("postgres_url")
        return postgres_url
    if kind == "redis":
        request.getfixturevalue("redis_prefix")
        return REDIS_URL
    return kind


class Recorder:
    """A handler recording the uuids it ran, failing while ``failing`` is set."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []
        self.failing = False
        self._lock = threading.Lock()

    def __call__(self, event: LogEvent) -> None:
        with self._lock:
            self.seen.append(event.uuid)
        if self.failing:
            raise RuntimeError("the handler failed")


@pytest.fixture
def apps() -> Iterator[Callable[..., Flask]]:
    """Make apps serving one catch-all event handler; their consumers stop after the test."""
    made: list[Flask] = []

    def make(intake: str, handler: Callable[[LogEvent], None], **config: Any) -> Flask:
        hooks = OktaHooks()
        hooks.event()(handler)
        config.setdefault("OKTA_HOOKS_EVENTS_RETRY_DELAY", 0.05)
        app = build_app(hooks, OKTA_HOOKS_EVENTS_INTAKE=intake, **config)
        made.append(app)
        return app

    yield make
    for app in made:
        intake = app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake
        if isinstance(intake, SqlIntake):
            intake.close()


def intake_of(app: Flask) -> Any:
    return app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake


def drain(app: Flask) -> None:
    assert app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.drain(timeout=20)


def rows(url: str) -> list[Any]:
    """The intake's table as another connection sees it."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            query = "SELECT uuid, status, attempts FROM okta_hook_events ORDER BY id"
            return list(connection.execute(sqlalchemy.text(query)))
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- the intake contract ----------------------------------------------------------------------


@pytest.mark.parametrize("url", INTAKES, indirect=True)
def test_each_event_is_handled_once(url: str, apps: Callable[..., Flask]) -> None:
    recorder = Recorder()
    client = OktaClient(apps(url, recorder))

    first = client.deliver(log_event(uuid="e1"), log_event(uuid="e2"), wait=False)
    again = client.deliver(log_event(uuid="e2"), log_event(uuid="e3"), wait=False)
    drain(client.app)

    assert (first.status_code, again.status_code) == (204, 204)
    assert sorted(recorder.seen) == ["e1", "e2", "e3"]  # type: ignore[type-var]


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_web_processes_sharing_the_intake_queue_an_event_once(
    url: str, apps: Callable[..., Flask]
) -> None:
    recorder = Recorder()
    first, second = apps(url, recorder), apps(url, recorder)  # two processes' apps

    assert OktaClient(first).deliver(log_event(uuid="s1"), wait=False).status_code == 204
    assert OktaClient(second).deliver(log_event(uuid="s1"), wait=False).status_code == 204
    drain(first)

    assert recorder.seen == ["s1"]
    assert [(r.uuid, r.status) for r in rows(url)] == [("s1", "done")]


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_a_claim_left_by_a_killed_process_does_not_lose_the_event(
    url: str, apps: Callable[..., Flask]
) -> None:
    # A process killed between claiming an event and committing it leaves the claim and
    # no row; Okta's retry must still get the event queued.
    store = MemoryDedupeStore()
    assert store.claim("/okta/hooks/events#x1")
    recorder = Recorder()
    app = apps(url, recorder, OKTA_HOOKS_EVENTS_DEDUPE=store)

    assert OktaClient(app).deliver(log_event(uuid="x1"), wait=False).status_code == 204
    drain(app)

    assert recorder.seen == ["x1"]


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_events_are_committed_before_the_204(url: str, apps: Callable[..., Flask]) -> None:
    recorder = Recorder()
    app = apps(url, recorder, OKTA_HOOKS_EVENTS_WORKERS=0)  # nothing takes them here

    result = OktaClient(app).deliver(log_event(uuid="c1"), log_event(uuid="c2"), wait=False)

    assert result.status_code == 204
    assert [(r.uuid, r.status) for r in rows(url)] == [("c1", "queued"), ("c2", "queued")]
    assert recorder.seen == []


def test_taking_an_event_reads_the_ready_index_without_sorting(tmp_path: Path) -> None:
    intake = SqlIntake(f"sqlite:///{tmp_path / 'events.db'}")
    statement = intake.take_statement("owner").compile(
        dialect=intake.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    try:
        with intake.engine.connect() as connection:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
    finally:
        intake.close()

    details = " / ".join(row[-1] for row in plan)
    assert "okta_hook_events_ready" in details
    # A sort would read every waiting event each time one is taken.
    assert "TEMP B-TREE" not in details


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_a_failing_handler_is_retried_then_parked_and_retried_by_hand(
    url: str, apps: Callable[..., Flask]
) -> None:
    recorder = Recorder()
    recorder.failing = True
    app = apps(url, recorder, OKTA_HOOKS_EVENTS_ATTEMPTS=3)
    runner = app.test_cli_runner()

    assert OktaClient(app).deliver(log_event(uuid="p1"), wait=False).status_code == 204
    drain(app)  # parked events do not wait

    assert recorder.seen == ["p1", "p1", "p1"]
    assert [(r.uuid, r.status, r.attempts) for r in rows(url)] == [("p1", "failed", 3)]
    listed = runner.invoke(cli, ["events", "failed"])
    assert listed.exit_code == 0, listed.output
    assert "uuid=p1\tattempts=3\terror=RuntimeError" in listed.output
    assert "1 failed event(s)" in listed.output

    recorder.failing = False
    retried = runner.invoke(cli, ["events", "retry", "--all"])
    assert retried.exit_code == 0, retried.output
    assert "1 event(s) queued again" in retried.output
    drain(app)
    assert recorder.seen == ["p1"] * 4
    assert [(r.uuid, r.status) for r in rows(url)] == [("p1", "done")]
    assert "0 failed event(s)" in runner.invoke(cli, ["events", "failed"]).output


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_retry_needs_ids_or_all(url: str, apps: Callable[..., Flask]) -> None:
    runner = apps(url, Recorder()).test_cli_runner()

    assert "give the ids" in runner.invoke(cli, ["events", "retry"]).output
    assert "0 event(s) queued again" in runner.invoke(cli, ["events", "retry", "7"]).output


def test_the_event_commands_need_a_database_intake(apps: Callable[..., Flask]) -> None:
    result = apps("memory", Recorder()).test_cli_runner().invoke(cli, ["events", "failed"])

    assert result.exit_code == 2
    assert "OKTA_HOOKS_EVENTS_INTAKE is not a database URL" in result.output


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_an_unreachable_intake_answers_503_and_okta_s_retry_is_taken(
    url: str, apps: Callable[..., Flask]
) -> None:
    recorder = Recorder()
    app = apps(url, recorder)
    intake = intake_of(app)
    intake.table.drop(intake.engine)

    with pytest.warns(HookWarning, match="SQL event intake failed"):
        refused = OktaClient(app).deliver(log_event(uuid="u1"), wait=False)
    intake.table.create(intake.engine)
    retried = OktaClient(app).deliver(log_event(uuid="u1"), wait=False)
    drain(app)

    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "intake_unavailable"
    assert retried.status_code == 204
    assert recorder.seen == ["u1"]


def test_start_up_warns_that_the_memory_intake_loses_events(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, apps: Callable[..., Flask]
) -> None:
    warning = "OKTA_HOOKS_EVENTS_INTAKE is 'memory'"
    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        apps("memory", Recorder(), TESTING=False)
    assert warning in caplog.text
    assert "lost when the process stops" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        apps("memory", Recorder())  # testing
        apps(f"sqlite:///{tmp_path / 'e.db'}", Recorder(), TESTING=False)
    assert warning not in caplog.text


def test_a_bad_intake_url_fails_at_start_up(apps: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigurationError, match="not a usable SQLAlchemy database URL"):
        apps("nosuchdatabase://somewhere/db", Recorder())
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_EVENTS_INTAKE must be"):
        apps("okta-events.db", Recorder())


def test_importing_the_package_needs_no_driver() -> None:
    code = (
        "import sys, flask_okta_hooks\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'redis', 'psycopg', 'celery', 'kombu')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


# --- worker processes -------------------------------------------------------------------------


class Worker:
    """A ``flask okta-hooks worker`` process running tests/event_worker_app.py."""

    started: list[Worker] = []  # noqa: RUF012 (killed after each test by the fixture below)

    def __init__(self, url: str, marks: Path, *args: str, sleep: float = 0, lease: float = 60):
        env = dict(
            os.environ,
            OKTA_HOOKS_TEST_INTAKE=url,
            OKTA_HOOKS_TEST_MARKS=str(marks),
            OKTA_HOOKS_TEST_SLEEP=str(sleep),
            OKTA_HOOKS_TEST_LEASE=str(lease),
            PYTHONUNBUFFERED="1",
        )
        command = [sys.executable, "-m", "flask", "--app", "tests.event_worker_app"]
        self.process = subprocess.Popen(  # noqa: S603
            [*command, "okta-hooks", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        Worker.started.append(self)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
        self.process.send_signal(sig)
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output


@pytest.fixture(autouse=True)
def no_worker_left() -> Iterator[None]:
    """A test that failed half-way leaves no worker process running."""
    yield
    while Worker.started:
        process = Worker.started.pop().process
        if process.poll() is None:
            process.kill()
            process.communicate()


def marks(folder: Path, kind: str) -> list[str]:
    return sorted(p.name for p in folder.glob(f"{kind}.*"))


@pytest.fixture
def web(apps: Callable[..., Flask]) -> Callable[[str], OktaClient]:
    """An app that takes events in (no consumer threads), as the web process would."""

    def make(url: str) -> OktaClient:
        app = apps(url, Recorder(), OKTA_HOOKS_EVENTS_WORKERS=0, OKTA_HOOKS_SECRETS=[WORKER_SECRET])
        return OktaClient(app)

    return make


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_an_event_of_a_killed_worker_runs_again_after_its_lease(
    url: str, tmp_path: Path, web: Callable[[str], OktaClient]
) -> None:
    client = web(url)
    assert client.deliver(log_event(uuid="k1"), wait=False).status_code == 204

    doomed = Worker(url, tmp_path, sleep=60, lease=2)
    wait_for(lambda: bool(marks(tmp_path, "start")))
    time.sleep(3)  # the heartbeat keeps the lease past its 2 s
    doomed.stop(signal.SIGKILL)  # mid-handler: the lease is still held
    killed = time.monotonic()
    assert marks(tmp_path, "done") == []

    survivor = Worker(url, tmp_path, lease=2)
    wait_for(lambda: bool(marks(tmp_path, "done")))
    # The killed worker renews no more: its lease runs out at most 2 s after the kill.
    assert time.monotonic() - killed < 2 + 5
    status, output = survivor.stop()

    assert marks(tmp_path, "start") == sorted(
        [f"start.k1.{doomed.process.pid}", f"start.k1.{survivor.process.pid}"]
    )
    assert marks(tmp_path, "done") == [f"done.k1.{survivor.process.pid}"]
    assert status == 0, output
    assert "stopped: handled=1 " in output
    assert [(r.uuid, r.status) for r in rows(url)] == [("k1", "done")]


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_a_handler_running_longer_than_its_lease_runs_once(
    url: str, tmp_path: Path, web: Callable[[str], OktaClient]
) -> None:
    client = web(url)
    assert client.deliver(log_event(uuid="slow"), wait=False).status_code == 204

    # Each worker would take the other's event once a 1 s lease ran out unrenewed.
    workers = [Worker(url, tmp_path, sleep=4, lease=1) for _ in range(2)]
    wait_for(lambda: bool(marks(tmp_path, "done")))
    time.sleep(1.5)  # a second take would have started by now
    outputs = [worker.stop() for worker in workers]

    assert len(marks(tmp_path, "start")) == 1, outputs
    assert len(marks(tmp_path, "done")) == 1
    assert [(r.uuid, r.status, r.attempts) for r in rows(url)] == [("slow", "done", 1)]


@pytest.mark.parametrize("url", SQL_INTAKES, indirect=True)
def test_sigterm_lets_the_worker_finish_its_event_and_reports_progress(
    url: str, tmp_path: Path, web: Callable[[str], OktaClient]
) -> None:
    client = web(url)
    events = [log_event(uuid=f"t{i}") for i in range(4)]
    assert client.deliver(*events, wait=False).status_code == 204

    worker = Worker(url, tmp_path, "--progress", "2", sleep=0.3)
    wait_for(lambda: len(marks(tmp_path, "start")) == 4)
    status, output = worker.stop()  # during the last handler

    assert status == 0, output
    assert len(marks(tmp_path, "done")) == 4
    assert "okta-hooks worker: handled=2 " in output
    assert "okta-hooks worker: handled=4 " in output
    assert "stopped: handled=4 retried=0 parked=0" in output
    assert {r.status for r in rows(url)} == {"done"}


# --- de-duplication stores --------------------------------------------------------------------


@pytest.fixture
def store(request: pytest.FixtureRequest, url: str) -> Any:
    kind = request.node.callspec.params["url"]
    if kind == "memory":
        return MemoryDedupeStore()
    prefix = request.getfixturevalue("redis_prefix") if kind == "redis" else ""
    return store_for(kind, url, prefix)


@pytest.mark.parametrize("url", STORES, indirect=True)
def test_a_store_claims_once_until_released(store: Any) -> None:
    store.check()
    assert store.claim("/okta/hooks/events#a")
    assert not store.claim("/okta/hooks/events#a")
    assert store.claim("/okta/hooks/events#b")
    store.release("/okta/hooks/events#a")
    assert store.claim("/okta/hooks/events#a")


@pytest.mark.parametrize("url", STORES[1:], indirect=True)
def test_processes_racing_for_the_same_keys_win_each_once(
    request: pytest.FixtureRequest, url: str, store: Any
) -> None:
    kind = request.node.callspec.params["url"]
    prefix = getattr(store, "prefix", "")
    context = multiprocessing.get_context("spawn")
    racers: list[int] = []
    # On a loaded machine one process can take every key before the others run (SQLite's
    # lock can starve them): race again, with new keys, until several processes won some.
    for attempt in range(3):
        # Redis answers so fast that a few keys could all go to the first process started.
        count = 2000 if kind == "redis" else 80
        keys = [f"/okta/hooks/events#race-{attempt}-{i}" for i in range(count)]
        with context.Manager() as manager, context.Pool(4) as pool:
            start = manager.Barrier(4)
            results = [
                pool.apply_async(claim_all_in_child, (kind, url, prefix, keys, start))
                for _ in range(4)
            ]
            won = [result.get(timeout=120) for result in results]

        winners = sorted(key for keys_won in won for key in keys_won)
        assert winners == sorted(keys)  # every key won, none twice
        racers.append(sum(1 for keys_won in won if keys_won))
        if racers[-1] > 1:
            break
    assert racers[-1] > 1, racers  # a real race, not one process


def claim_all_in_child(*args: Any) -> list[str]:
    from tests.dedupe_race import claim_all

    return claim_all(*args)


@pytest.mark.parametrize("url", STORES[1:], indirect=True)
def test_events_dedupe_takes_a_url(url: str, apps: Callable[..., Flask]) -> None:
    recorder = Recorder()
    client = OktaClient(apps("memory", recorder, OKTA_HOOKS_EVENTS_DEDUPE=url))
    uuid = f"d-{os.urandom(6).hex()}"  # the URL form keeps the default key prefix

    try:
        client.deliver(log_event(uuid=uuid))
        client.deliver(log_event(uuid=uuid))
    finally:
        store = app_store(client.app)
        store.release(f"/okta/hooks/events#{uuid}")

    assert recorder.seen == [uuid]
    assert type(store).__name__ == ("RedisDedupeStore" if "redis" in url else "SqlDedupeStore")


def app_store(app: Flask) -> Any:
    events = app.extensions["okta_hooks"]["OKTA_HOOKS_"].events
    return events.store(app.config["OKTA_HOOKS_EVENTS_DEDUPE"])


# --- the service markers ----------------------------------------------------------------------


def test_a_skipped_service_test_fails_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest("from tests.conftest import pytest_configure, pytest_runtest_makereport")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.postgres
        def test_needs_a_server():
            pytest.skip("PostgreSQL is not reachable: start it, or run .ci/run")
        """
    )

    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=1)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CI=true and a service test was skipped (postgres)*run .ci/run*"])


def consumer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "okta-hooks-consumer"}


def test_consumers_start_with_the_first_call_served_not_in_a_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    handled: list[str | None] = []
    hooks = OktaHooks()
    hooks.event()(lambda event: handled.append(event.uuid))
    before = consumer_threads()  # other tests' threads may still be ending
    # An event left by another process, and an app loaded by a command that lists them.
    OktaClient(build_app(hooks, OKTA_HOOKS_EVENTS_INTAKE=url, OKTA_HOOKS_EVENTS_WORKERS=0)).deliver(
        log_event(uuid="left"), wait=False
    )
    app = build_app(hooks, OKTA_HOOKS_EVENTS_INTAKE=url)
    listed = app.test_cli_runner().invoke(cli, ["events", "failed"])

    assert listed.exit_code == 0, listed.output
    assert consumer_threads() - before == set()
    assert handled == []
    # Served, the app handles what waits (a verification GET is a call too).
    OktaClient(app).verify("c-1")
    assert consumer_threads() - before
    assert hooks.drain(app, timeout=10)
    assert handled == ["left"]


def test_the_consumer_threads_of_a_discarded_app_end(tmp_path: Path) -> None:
    hooks = OktaHooks()
    hooks.event()(lambda event: None)
    before = consumer_threads()  # other tests' threads may still be ending
    app = build_app(hooks, OKTA_HOOKS_EVENTS_INTAKE=f"sqlite:///{tmp_path / 'events.db'}")
    OktaClient(app).verify("c-1")
    started = consumer_threads() - before
    assert started
    del app
    gc.collect()
    deadline = time.monotonic() + 5
    while any(t.is_alive() for t in started) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not any(t.is_alive() for t in started)
