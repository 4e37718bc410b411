"""The Celery intake against real brokers (Redis and RabbitMQ) and real Celery workers:
a worker thread for most tests, ``celery worker`` processes killed with SIGKILL for the
redelivery ones. Each test has its own queue (and, on Redis, its own keys).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app

from flask_okta_hooks import (
    CeleryIntake,
    ConfigurationError,
    LogEvent,
    OktaHooks,
    RedisDedupeStore,
)
from flask_okta_hooks.events.redis_ledger import RedisLedger
from flask_okta_hooks.testing import HookWarning, OktaClient, log_event

from .conftest import REDIS_URL
from .docs_pages import page, section
from .test_event_backends import wait_for

pytest.importorskip("celery", reason="the 'celery' extra is not installed")

from celery.contrib.testing.worker import start_worker
from kombu import Connection, Queue

from .celery_support import SECRET, create_app

ROOT = Path(__file__).resolve().parents[1]
#: A database of the Redis server for these tests' brokers.
REDIS_BROKER = REDIS_URL.rsplit("/", 1)[0] + "/11"
BROKERS = [
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
]


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A worker sets the root logger's level and handlers (and captures warnings) for the
    whole process; the tests after this one must find them as they were."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    logging.captureWarnings(False)


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_prefix")  # skips when no server answers
        return REDIS_BROKER
    url: str = request.getfixturevalue("rabbitmq_url")
    return url


@pytest.fixture
def queue(broker: str) -> Iterator[str]:
    """A queue of this test alone, deleted (with its Redis keys) after it."""
    name = f"okta-hooks-test-{os.urandom(6).hex()}"
    yield name
    if broker.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker)
        keys = list(client.scan_iter(match=f"{name}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    else:
        connection = Connection(broker)
        with connection, contextlib.suppress(*connection.channel_errors):  # never declared
            connection.default_channel.queue_delete(name)


def worker_thread(app: Flask) -> Any:
    """A Celery worker in a thread of this process; on RabbitMQ it took about 10 s to stop
    in some runs (its event loop polls between looks at the stop flag), hence 30 s."""
    return start_worker(app.extensions["celery"], perform_ping_check=False, shutdown_timeout=30)


def waiting(app: Flask, queue: str) -> int:
    """Messages the broker holds in ``queue`` and has given to no worker."""
    broker = app.extensions["celery"].conf.broker_url
    if broker.startswith("redis"):  # the queue is a list, below the test's key prefix
        import redis

        client = redis.Redis.from_url(broker)
        try:
            return int(client.llen(f"{queue}:{queue}"))
        finally:
            client.close()
    with app.extensions["celery"].connection_for_read() as connection:
        try:
            return int(connection.default_channel.queue_declare(queue, passive=True).message_count)
        except connection.channel_errors:  # not declared yet: nothing was published
            return 0


class Recorder:
    """A handler recording each event's uuid and the app whose context it ran in."""

    def __init__(self, failing: bool = False) -> None:
        self.seen: list[tuple[str | None, Any]] = []
        self.failing = failing
        self._lock = threading.Lock()

    def __call__(self, event: LogEvent) -> None:
        with self._lock:
            self.seen.append((event.uuid, current_app._get_current_object()))
        if self.failing:
            raise RuntimeError("the handler failed")


def test_events_are_on_the_broker_before_the_204_and_run_once_in_the_app_context(
    broker: str, queue: str
) -> None:
    recorder = Recorder()
    app = create_app(broker, queue, recorder)

    result = OktaClient(app).deliver(log_event(uuid="c1"), log_event(uuid="c2"))

    assert result.status_code == 204
    assert waiting(app, queue) == 2  # no worker yet: the broker has them
    with worker_thread(app):
        wait_for(lambda: len(recorder.seen) == 2)
    assert sorted(uuid for uuid, _ in recorder.seen) == ["c1", "c2"]
    assert all(context is app for _, context in recorder.seen)
    assert waiting(app, queue) == 0


def test_a_duplicate_delivery_runs_once(broker: str, queue: str) -> None:
    recorder = Recorder()
    app = create_app(broker, queue, recorder)
    client = OktaClient(app)

    first = client.deliver(log_event(uuid="d1"))
    again = client.deliver(log_event(uuid="d1"), log_event(uuid="d2"))

    assert (first.status_code, again.status_code) == (204, 204)
    assert waiting(app, queue) == 3  # every event is published; the task skips a duplicate
    with worker_thread(app):
        wait_for(lambda: len(recorder.seen) == 2)
        wait_for(lambda: waiting(app, queue) == 0)
    assert sorted(uuid for uuid, _ in recorder.seen) == ["d1", "d2"]


class Killed(BaseException):
    """The web process dies here."""


def test_a_web_process_killed_before_publishing_leaves_no_claim_behind(
    broker: str, queue: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Okta's retry of a delivery whose web process died before publishing it reaches
    another web process sharing the store, and is run."""
    recorder = Recorder()
    store = RedisDedupeStore(REDIS_URL, prefix=redis_prefix)
    doomed, survivor = (
        create_app(broker, queue, recorder, OKTA_HOOKS_EVENTS_DEDUPE=store) for _ in range(2)
    )
    intake = doomed.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake

    def killed(*args: object) -> None:
        raise Killed

    monkeypatch.setattr(intake, "_publish", killed)
    first = OktaClient(doomed).deliver(log_event(uuid="w1"))
    retried = OktaClient(survivor).deliver(log_event(uuid="w1"))

    assert (first.status_code, retried.status_code) == (503, 204)
    with worker_thread(survivor):
        wait_for(lambda: len(recorder.seen) == 1)
        wait_for(lambda: waiting(survivor, queue) == 0)
    assert [uuid for uuid, _ in recorder.seen] == ["w1"]


def test_a_failing_handler_is_retried_then_given_up(
    broker: str, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(failing=True)
    app = create_app(broker, queue, recorder, OKTA_HOOKS_EVENTS_ATTEMPTS=3)
    store = app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.store("memory")

    caplog.set_level(logging.INFO, logger="flask_okta_hooks")
    assert OktaClient(app).deliver(log_event(uuid="f1")).status_code == 204
    with worker_thread(app):
        wait_for(lambda: "given up after 3 attempts" in caplog.text)
        wait_for(lambda: waiting(app, queue) == 0)

    assert [uuid for uuid, _ in recorder.seen] == ["f1", "f1", "f1"]
    failures = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert len(failures) == 3
    assert "the handler failed" not in caplog.text  # by exception type only
    # Given up: its claim is returned, so a redelivery would run it again.
    assert store is not None
    assert store.claim("/okta/hooks/events#f1")


@pytest.mark.rabbitmq
def test_a_publish_the_broker_refuses_answers_503(rabbitmq_url: str) -> None:
    # A queue that takes nothing: RabbitMQ nacks every publish to it (publisher confirms).
    queue = f"okta-hooks-test-{os.urandom(6).hex()}"
    refusing = Queue(
        queue,
        routing_key=queue,
        queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
    )
    app = create_app(rabbitmq_url, queue, Recorder(), celery={"task_queues": [refusing]})
    client = OktaClient(app)

    try:
        with pytest.warns(HookWarning, match="delivery refused"):
            first = client.deliver(log_event(uuid="n1"))
        with pytest.warns(HookWarning, match="delivery refused"):
            again = client.deliver(log_event(uuid="n1"))
    finally:
        with Connection(rabbitmq_url) as connection:
            connection.default_channel.queue_delete(queue)

    assert first.status_code == 503
    assert first.get_json()["error"]["code"] == "intake_unavailable"
    assert again.status_code == 503  # the claim was given back: the retry is tried again


def test_start_up_fails_when_the_broker_does_not_answer() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConfigurationError, match="Celery event intake failed"):
        create_app(f"redis://127.0.0.1:{port}/11", "okta-hooks-unused", Recorder())


def test_the_celery_instance_is_required_and_checked() -> None:
    app = Flask("okta_hooks_celery_config")
    app.config.update(
        TESTING=True, OKTA_HOOKS_SECRETS=["s" * 20], OKTA_HOOKS_EVENTS_INTAKE="celery"
    )
    hooks = OktaHooks()
    hooks.event()(Recorder())
    with pytest.raises(ConfigurationError, match="set OKTA_HOOKS_EVENTS_CELERY"):
        app.register_blueprint(hooks)
    for bad, message in [
        (42, "must be the app's Celery instance"),
        ("tests.nowhere:celery_app", "cannot import 'tests.nowhere:celery_app'"),
        ("tests.celery_support:SECRET", "is not a celery.Celery instance"),
    ]:
        app.config["OKTA_HOOKS_EVENTS_CELERY"] = bad
        hooks = OktaHooks()
        hooks.event()(Recorder())
        with pytest.raises(ConfigurationError, match=message):
            app.register_blueprint(hooks, name=f"okta_{os.urandom(3).hex()}")


def start_worker_process(
    broker: str,
    queue: str,
    marks: Path,
    pool: str,
    sleep: float,
    store: str = "",
    sweep: float | None = None,
) -> Any:
    """A ``celery worker`` process of tests/celery_worker_app.py; ``store``: the key prefix
    of a Redis de-duplication store shared with the test's app ("": the memory store);
    ``sweep``: seconds between its sweeps for lost tasks, and their ``sweep_after``."""
    env = {
        **os.environ,
        "OKTA_HOOKS_TEST_BROKER": broker,
        "OKTA_HOOKS_TEST_QUEUE": queue,
        "OKTA_HOOKS_TEST_MARKS": str(marks),
        "OKTA_HOOKS_TEST_SLEEP": str(sleep),
        "OKTA_HOOKS_TEST_STORE_PREFIX": store,
        "OKTA_HOOKS_TEST_SWEEP": "" if sweep is None else str(sweep),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.celery_worker_app:celery_app",
        "worker",
        f"--pool={pool}",
        "--concurrency=1",
        "--loglevel=WARNING",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        f"--hostname={queue}-{os.urandom(3).hex()}@%h",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603


@pytest.mark.parametrize(
    ("pool", "shared"),
    [("solo", False), ("prefork", False), pytest.param("solo", True, marks=pytest.mark.redis)],
    ids=["solo", "prefork", "solo-shared-store"],
)
def test_a_task_whose_worker_is_killed_runs_again(
    broker: str, queue: str, tmp_path: Path, pool: str, shared: bool, request: pytest.FixtureRequest
) -> None:
    """SIGKILL the process running the handler: the whole worker (solo pool, the broker
    gets the task back when the connection drops, or on Redis after the visibility
    timeout) or the pool's child process (prefork, ``reject_on_worker_lost``). With a
    shared store the killed task's claim stays: the task run again is still run."""
    prefix = request.getfixturevalue("redis_prefix") if shared else ""
    config = (
        {"OKTA_HOOKS_EVENTS_DEDUPE": RedisDedupeStore(REDIS_URL, prefix=prefix)} if shared else {}
    )
    app = create_app(broker, queue, Recorder(), **config)

    def worker_process(*args: Any, sleep: float) -> Any:
        return start_worker_process(*args, sleep=sleep, store=prefix)

    workers = [worker_process(broker, queue, tmp_path, pool, sleep=60)]
    try:
        assert OktaClient(app).deliver(log_event(uuid="k1")).status_code == 204
        wait_for(lambda: any(tmp_path.glob("start.k1.*")), timeout=60)
        (started,) = tmp_path.glob("start.k1.*")
        victim = int(started.name.rsplit(".", 1)[1])
        os.kill(victim, signal.SIGKILL)
        if pool == "solo":
            workers[0].wait(timeout=10)
            workers.append(worker_process(broker, queue, tmp_path, pool, sleep=60))
        wait_for(lambda: any(tmp_path.glob("done.k1.*")), timeout=60)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
    done = [p.name for p in tmp_path.glob("done.k1.*")]
    assert len(done) == 1
    assert f"done.k1.{victim}" not in done


@pytest.mark.rabbitmq
def test_the_documented_celery_set_up_publishes_events(rabbitmq_url: str) -> None:
    text = section(page("events.md"), "Events on Celery")
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match
    hooks = OktaHooks()
    hooks.event()(Recorder())
    namespace: dict[str, Any] = {"__name__": "readme_celery", "hooks": hooks}
    exec(compile(match.group(1), "docs/events.md celery", "exec"), namespace)  # noqa: S102
    queue = f"okta-hooks-test-{os.urandom(6).hex()}"

    app = namespace["create_app"]()
    celery_app = app.extensions["celery"]
    celery_app.conf.update(task_default_queue=queue)
    app.config.update(TESTING=True, OKTA_HOOKS_SECRETS=[SECRET])
    try:
        assert OktaClient(app).deliver(log_event(uuid="r1")).status_code == 204
        assert waiting(app, queue) == 1
    finally:
        connection = Connection(rabbitmq_url)
        with connection, contextlib.suppress(*connection.channel_errors):
            connection.default_channel.queue_delete(queue)
    assert isinstance(app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake, CeleryIntake)
    assert "flask_okta_hooks.event:OKTA_HOOKS_" in celery_app.tasks


# --- Redis: tasks the transport drops are found and published again ----------------------


#: The ``broker`` (and ``queue``) of a test on a Redis broker only.
REDIS_ONLY = pytest.mark.parametrize(
    "broker", [pytest.param("redis", id="redis", marks=pytest.mark.redis)], indirect=True
)


def intake_of(app: Flask) -> CeleryIntake:
    intake = app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake
    assert isinstance(intake, CeleryIntake)
    return intake


def ledger_of(intake: CeleryIntake) -> RedisLedger:
    """The intake's ledger, which a Redis broker always has."""
    assert intake.ledger is not None
    return intake.ledger


def take_off_queue(queue: str) -> bytes:
    """Take the oldest message off a Redis queue the way a worker does (``BRPOP``), and
    drop it: what a worker killed before recording it as unacknowledged leaves."""
    import redis

    client = redis.Redis.from_url(REDIS_BROKER)
    try:
        message = client.rpop(f"{queue}:{queue}")
    finally:
        client.close()
    assert message is not None
    return bytes(message)


def put_back(queue: str, message: bytes) -> None:
    """Put a message back on a Redis queue, to be taken next."""
    import redis

    client = redis.Redis.from_url(REDIS_BROKER)
    try:
        client.rpush(f"{queue}:{queue}", message)
    finally:
        client.close()


@REDIS_ONLY
def test_a_task_the_redis_broker_dropped_is_published_again(
    queue: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    store = RedisDedupeStore(REDIS_URL, prefix=redis_prefix)
    app = create_app(REDIS_BROKER, queue, recorder, OKTA_HOOKS_EVENTS_DEDUPE=store)
    intake = intake_of(app)
    assert intake.ledger is not None
    intake.sweep_after = 0.0

    assert OktaClient(app).deliver(log_event(uuid="l1"), log_event(uuid="l2")).status_code == 204
    assert len(intake.ledger) == 2
    take_off_queue(queue)  # l1, taken by a worker that died
    assert intake.sweep() == 0  # l2 is still queued: nothing is judged yet
    with worker_thread(app):
        wait_for(lambda: [uuid for uuid, _ in recorder.seen] == ["l2"])
        wait_for(lambda: waiting(app, queue) == 0)
        assert len(intake.ledger) == 1  # l2 started, l1 never did
        caplog.set_level(logging.WARNING, logger="flask_okta_hooks")
        assert intake.sweep() == 1
        wait_for(lambda: len(recorder.seen) == 2)
        wait_for(lambda: len(intake.ledger) == 0)
    assert sorted(uuid for uuid, _ in recorder.seen) == ["l1", "l2"]
    assert "okta event published again" in caplog.text
    assert "uuid='l1'" in caplog.text
    assert intake.sweep() == 0  # nothing left to find


@REDIS_ONLY
def test_a_task_a_worker_holds_or_that_is_recent_is_not_published_again(queue: str) -> None:
    import redis

    app = create_app(REDIS_BROKER, queue, Recorder())
    intake = intake_of(app)
    assert intake.ledger is not None
    assert OktaClient(app).deliver(log_event(uuid="h1")).status_code == 204
    message = take_off_queue(queue)
    assert intake.sweep() == 0  # published less than sweep_after seconds ago

    intake.sweep_after = 0.0
    client = redis.Redis.from_url(REDIS_BROKER)
    try:  # taken by a worker that recorded it, as kombu records it: not lost
        client.hset(f"{queue}:unacked", "tag-1", b'[%s, "", "%s"]' % (message, queue.encode()))
        assert intake.sweep() == 0
        client.hdel(f"{queue}:unacked", "tag-1")
    finally:
        client.close()
    assert intake.sweep() == 1


@REDIS_ONLY
def test_a_retried_task_is_recorded_until_it_starts_again(queue: str) -> None:
    recorder = Recorder(failing=True)
    app = create_app(
        REDIS_BROKER, queue, recorder, OKTA_HOOKS_EVENTS_ATTEMPTS=2, OKTA_HOOKS_EVENTS_RETRY_DELAY=1
    )
    intake = intake_of(app)
    assert intake.ledger is not None
    assert OktaClient(app).deliver(log_event(uuid="t1")).status_code == 204
    with worker_thread(app):
        wait_for(lambda: len(recorder.seen) == 1)
        wait_for(lambda: len(intake.ledger) == 1)  # its retry, due in a second
        wait_for(lambda: len(recorder.seen) == 2)
        wait_for(lambda: waiting(app, queue) == 0)
    assert len(intake.ledger) == 0


@REDIS_ONLY
def test_a_task_published_again_that_was_not_lost_runs_once(queue: str) -> None:
    """A worker had it in the very instant of the sweep's look: the sweep's copy is a new
    task, and the event's claim lets one of the two run."""
    recorder = Recorder()
    app = create_app(REDIS_BROKER, queue, recorder)
    intake = intake_of(app)
    intake.sweep_after = 0.0
    assert OktaClient(app).deliver(log_event(uuid="o1")).status_code == 204
    message = take_off_queue(queue)
    assert intake.sweep() == 1
    put_back(queue, message)
    with worker_thread(app):
        wait_for(lambda: waiting(app, queue) == 0)
        wait_for(lambda: len(ledger_of(intake)) == 0)
    assert [uuid for uuid, _ in recorder.seen] == ["o1"]


@REDIS_ONLY
def test_a_task_that_never_starts_is_given_up_after_its_attempts(
    queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(REDIS_BROKER, queue, Recorder(), OKTA_HOOKS_EVENTS_ATTEMPTS=2)
    intake = intake_of(app)
    intake.sweep_after = 0.0
    assert OktaClient(app).deliver(log_event(uuid="g1")).status_code == 204
    caplog.set_level(logging.WARNING, logger="flask_okta_hooks")
    for _ in range(2):  # taken each time by a worker that drops it
        take_off_queue(queue)
        assert intake.sweep() == 1
    take_off_queue(queue)
    assert intake.sweep() == 0
    assert "given up, published 3 times and never started" in caplog.text
    assert len(ledger_of(intake)) == 0


class FailingOnce(Recorder):
    """A handler whose first run fails."""

    def __call__(self, event: LogEvent) -> None:
        super().__call__(event)
        self.failing = False
        if len(self.seen) == 1:
            raise RuntimeError("the first run failed")


@REDIS_ONLY
def test_a_retry_the_redis_broker_dropped_is_published_again_and_runs(queue: str) -> None:
    """The task had claimed its event before it failed: published again, it is still the
    event's own task, and runs it."""
    recorder = FailingOnce()
    app = create_app(REDIS_BROKER, queue, recorder, OKTA_HOOKS_EVENTS_RETRY_DELAY=0.5)
    intake = intake_of(app)
    assert intake.ledger is not None
    intake.sweep_after = 0.0
    assert OktaClient(app).deliver(log_event(uuid="r1")).status_code == 204
    with worker_thread(app):  # runs it, fails, and takes its retry (due in 0.5 s)
        wait_for(lambda: len(recorder.seen) == 1)
        wait_for(lambda: len(intake.ledger) == 1)
    take_off_queue(queue)  # the stopped worker gave the retry back: drop it
    wait_for(lambda: intake.sweep() == 1)
    with worker_thread(app):
        wait_for(lambda: len(recorder.seen) == 2)
        wait_for(lambda: waiting(app, queue) == 0)
    assert [uuid for uuid, _ in recorder.seen] == ["r1", "r1"]
    assert len(intake.ledger) == 0


@REDIS_ONLY
def test_a_celery_worker_sweeps_for_dropped_tasks(queue: str, tmp_path: Path) -> None:
    app = create_app(REDIS_BROKER, queue, Recorder())
    assert OktaClient(app).deliver(log_event(uuid="s1")).status_code == 204
    assert len(ledger_of(intake_of(app))) == 1
    take_off_queue(queue)
    worker = start_worker_process(REDIS_BROKER, queue, tmp_path, "prefork", sleep=0, sweep=0.2)
    try:
        wait_for(lambda: any(tmp_path.glob("done.s1.*")), timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert len(ledger_of(intake_of(app))) == 0
