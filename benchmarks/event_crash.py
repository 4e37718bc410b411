"""Acknowledged events under crashes: how many got Okta's 204 and were never handled.

Serves an app with gunicorn (gthread, 2 workers x 4 threads) whose one event handler
records each event's uuid in a table. ``--callers`` callers (6) send ``--events`` events
in deliveries of 30, each delivery sent once more when it gets no 2xx (Okta's one retry),
while a killer SIGKILLs a web worker, and with a durable intake an event worker
(``flask okta-hooks worker``, or a ``celery worker`` with the Celery intake;
restarted at once), every ``--kill-every`` seconds (0: no kills) until the last delivery
was answered (``--kill-during-drain``: until the drain ends too). Then it
waits for the intake to drain and prints sent, acknowledged, handled, lost (acknowledged
and never handled), duplicates (handled more than once) and, for Celery on Redis, the
tasks the sweeps published again (logged by the workers); events a database intake
still holds when ``--drain-timeout`` passes are counted apart (kept, not lost). It also
prints the 50th and 99th percentiles of the time to a 204; ``--callers 32 --kill-every
0`` measures them under load without crashes.

    python benchmarks/event_crash.py [--intake memory|sqlite|postgres|celery]
        [--events 20000] [--callers 6] [--kill-every 0.7] [--kill-during-drain]
        [--drain-timeout 180] [--redis URL] [--broker URL]

PostgreSQL runs on 127.0.0.1:5432 (trust auth), in a database made for the run and
dropped after it. The Celery runs keep their de-duplication store, shared by every web
and worker process, in Redis (``--redis``, database 11 by default) below keys made for
the run and deleted after it. Celery's broker is that Redis too, with its queue and keys
below the same prefix, or ``--broker`` (RabbitMQ: ``amqp://guest:guest@127.0.0.1:5672//``)
with a durable queue made for the run and deleted after it. Exits 1 when an event was
lost with a durable intake.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
from _server import HERE, free_port, gunicorn_command
from flask import Flask

from flask_okta_hooks import LogEvent, OktaHooks, RedisDedupeStore
from flask_okta_hooks.samples import event_hook_request, log_event

SECRET = "crash-check-secret-8d3e1a7f5c2b"
PATH = "/okta/hooks/events"
BATCH = 30
INTAKE_ENV = "EVENT_CRASH_INTAKE"
RECORD_ENV = "EVENT_CRASH_RECORD"
BROKER_ENV = "EVENT_CRASH_BROKER"
DEDUPE_ENV = "EVENT_CRASH_DEDUPE"
QUEUE_ENV = "EVENT_CRASH_QUEUE"
#: Okta waits 3 s for an answer.
OKTA_TIMEOUT = 3.0


# --- the app ------------------------------------------------------------------------------------


def create_app() -> Flask:
    """The served app (and the worker's): its handler records each event it handles."""
    record = sqlalchemy.create_engine(os.environ[RECORD_ENV])
    handled = sqlalchemy.table("crash_handled", sqlalchemy.column("uuid"))
    hooks = OktaHooks()

    @hooks.event()
    def remember(event: LogEvent) -> None:
        with record.begin() as connection:
            connection.execute(handled.insert().values(uuid=event.uuid))

    intake = os.environ[INTAKE_ENV]
    app = Flask(__name__)
    if intake == "celery":
        app.config.update(
            OKTA_HOOKS_EVENTS_CELERY=celery_for(app),
            OKTA_HOOKS_EVENTS_DEDUPE=RedisDedupeStore(
                os.environ[DEDUPE_ENV], prefix=f"{os.environ[QUEUE_ENV]}:dedupe:"
            ),
        )
    app.config.update(
        OKTA_HOOKS_SECRETS=[SECRET],
        OKTA_HOOKS_EVENTS_INTAKE=intake,
        # Web processes only take events in; `flask okta-hooks worker` processes run them.
        OKTA_HOOKS_EVENTS_WORKERS=4 if intake == "memory" else 0,
        OKTA_HOOKS_EVENTS_LEASE=3.0,
        OKTA_HOOKS_EVENTS_RETRY_DELAY=0.2,
        OKTA_HOOKS_EVENTS_EXIT_WAIT=0.0,
    )
    app.register_blueprint(hooks)
    return app


def celery_for(app: Flask) -> Any:
    """The Celery app of the run, made the way Flask documents (tasks in the app context)."""
    from celery import Celery, Task

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    queue = os.environ[QUEUE_ENV]
    broker = os.environ[BROKER_ENV]
    celery_app = Celery(app.name, task_cls=FlaskTask, set_as_current=False)
    celery_app.conf.update(
        broker_url=broker,
        task_default_queue=queue,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    if is_redis(broker):
        # A killed worker's task comes back after 3 s, as a database lease does (RabbitMQ
        # gives it back when the worker's connection drops).
        celery_app.conf.broker_transport_options = {
            "global_keyprefix": f"{queue}:",
            "visibility_timeout": 3,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
    app.extensions["celery"] = celery_app
    return celery_app


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


def __getattr__(name: str) -> Any:
    # ``celery -A event_crash:celery_app worker`` loads the app as the web processes do.
    if name == "celery_app":
        return create_app().extensions["celery"]
    raise AttributeError(name)


# --- the run ------------------------------------------------------------------------------------


class Database:
    """Where the handled uuids (and a database intake's rows) go for one run."""

    def __init__(self, kind: str, folder: Path, broker: str) -> None:
        self.kind = kind
        self.broker = broker
        self.name = f"okta_hooks_crash_{os.urandom(5).hex()}"
        if kind == "postgres":
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"
            self._admin("CREATE DATABASE")
        else:
            self.url = f"sqlite:///{folder / 'crash.db'}"
        self.engine = sqlalchemy.create_engine(self.url)
        with self.engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE crash_handled (uuid VARCHAR(64))"))

    def _admin(self, verb: str) -> None:
        admin = sqlalchemy.create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
        )
        suffix = " WITH (FORCE)" if verb.startswith("DROP") else ""
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'{verb} "{self.name}"{suffix}'))
        admin.dispose()

    def handled(self) -> list[str]:
        with self.engine.connect() as connection:
            query = sqlalchemy.text("SELECT uuid FROM crash_handled")
            return [row[0] for row in connection.execute(query)]

    def waiting(self) -> int:
        if self.broker and not is_redis(self.broker):  # the messages ready in the queue
            with amqp_channel(self.broker) as channel:
                declared = channel.queue_declare(os.environ[QUEUE_ENV], passive=True)
                return int(declared.message_count)
        if self.broker:  # the queue, the tasks taken by a worker not yet acknowledged,
            import redis  # and the intake's record of tasks not started (lost ones too)

            client = redis.Redis.from_url(self.broker)
            queue = os.environ[QUEUE_ENV]
            ledger = f"{queue}:flask_okta_hooks.event:OKTA_HOOKS_:times"
            try:
                return sum(
                    int(count)
                    for count in (
                        client.llen(f"{queue}:{queue}"),
                        client.hlen(f"{queue}:unacked"),
                        client.zcard(ledger),
                    )
                )
            finally:
                client.close()
        with self.engine.connect() as connection:
            query = "SELECT count(*) FROM okta_hook_events WHERE status = 'queued'"
            return int(connection.execute(sqlalchemy.text(query)).scalar_one())

    def queued(self) -> set[str]:
        """The uuids a database intake still holds."""
        if self.broker:
            return set()
        with self.engine.connect() as connection:
            query = "SELECT uuid FROM okta_hook_events WHERE status = 'queued'"
            return {row[0] for row in connection.execute(sqlalchemy.text(query))}

    def close(self) -> None:
        self.engine.dispose()
        if self.kind == "postgres":
            self._admin("DROP DATABASE IF EXISTS")
        if self.broker and not is_redis(self.broker):
            queue = os.environ[QUEUE_ENV]
            with amqp_channel(self.broker) as channel:
                channel.queue_delete(queue)
                channel.exchange_delete(queue)  # Celery's exchange of the default queue
        if self.broker:  # the Redis de-duplication keys, and a Redis broker's queue
            import redis

            client = redis.Redis.from_url(os.environ[DEDUPE_ENV])
            keys = list(client.scan_iter(match=f"{os.environ[QUEUE_ENV]}:*"))
            if keys:
                client.delete(*keys)
            client.close()


@contextmanager
def amqp_channel(url: str) -> Iterator[Any]:
    """A channel on the RabbitMQ broker at ``url``, closed after use."""
    import kombu

    with kombu.Connection(url) as connection:  # type: ignore[attr-defined,no-untyped-call]
        yield connection.default_channel


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


class Fleet:
    """gunicorn and, for a database intake, two event worker processes."""

    def __init__(self, intake: str, record: str, folder: Path) -> None:
        self.env = {**os.environ, INTAKE_ENV: intake, RECORD_ENV: record}
        self.port = free_port()
        command = gunicorn_command(
            "event_crash:create_app()",
            self.port,
            workers=2,
            threads=4,
            graceful_timeout=3,
            options=["--error-logfile", str(folder / "gunicorn.log")],
        )
        self.log = (folder / "processes.log").open("w")
        self.web = subprocess.Popen(
            command, env=self.env, start_new_session=True, stdout=self.log, stderr=self.log
        )
        self.workers = [self._worker() for _ in range(2)] if intake != "memory" else []

    def _worker(self) -> subprocess.Popen[bytes]:
        if self.env[INTAKE_ENV] == "celery":
            command = [sys.executable, "-m", "celery", "-A", "event_crash:celery_app", "worker"]
            command += ["--pool=solo", "--loglevel=WARNING", "--without-mingle", "--without-gossip"]
            command += [f"--hostname=crash-{os.urandom(3).hex()}@%h"]
        else:
            command = [sys.executable, "-m", "flask", "--app", "event_crash:create_app"]
            command += ["okta-hooks", "worker", "--progress", "0"]
        return subprocess.Popen(
            command,
            cwd=HERE,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill_one(self, turn: int) -> None:
        """SIGKILL a web worker, or (every other turn) an event worker, restarted at once."""
        if self.workers and turn % 2:
            index = random.randrange(len(self.workers))
            self.workers[index].kill()
            self.workers[index].wait()
            self.workers[index] = self._worker()
            return
        web_workers = children(self.web.pid)
        if web_workers:
            os.kill(random.choice(web_workers), signal.SIGKILL)

    def stop(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.wait(timeout=60)
        os.killpg(self.web.pid, signal.SIGTERM)
        self.web.wait(timeout=30)
        self.log.close()


def post(port: int, body: bytes) -> int:
    """POST one delivery; 0 when the connection broke or timed out."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=OKTA_TIMEOUT)
    headers = {"Content-Type": "application/json", "Authorization": SECRET}
    try:
        connection.request("POST", PATH, body, headers)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    probe = json.dumps(event_hook_request(events=[])).encode()
    while post(port, probe) != 204:
        if time.monotonic() > deadline:
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)


def send_all(port: int, count: int, callers: int) -> tuple[list[str], set[str], list[float]]:
    """Send ``count`` events; the uuids sent, those acknowledged (204 to some attempt) and
    the seconds each 204 took."""
    uuids = [f"crash-{i:06d}" for i in range(count)]
    batches: queue.Queue[list[str]] = queue.Queue()
    for start in range(0, count, BATCH):
        batches.put(uuids[start : start + BATCH])
    acknowledged: set[str] = set()
    latencies: list[float] = []
    lock = threading.Lock()

    def answered(body: bytes) -> bool:
        started = time.perf_counter()
        if post(port, body) != 204:
            return False
        with lock:
            latencies.append(time.perf_counter() - started)
        return True

    def caller() -> None:
        while True:
            try:
                batch = batches.get_nowait()
            except queue.Empty:
                return
            events = [log_event("user.session.start", uuid=uuid) for uuid in batch]
            body = json.dumps(event_hook_request(events=events)).encode()
            if answered(body) or answered(body):  # Okta retries once
                with lock:
                    acknowledged.update(batch)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return uuids, acknowledged, latencies


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile of ``values`` (nearest rank), 0 when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run(
    kind: str,
    count: int,
    callers: int,
    kill_every: float,
    drain_timeout: float,
    redis_url: str,
    kill_during_drain: bool = False,
    broker_url: str = "",
) -> int:
    os.environ[QUEUE_ENV] = f"okta-hooks-crash-{os.urandom(5).hex()}"
    os.environ[BROKER_ENV] = broker_url or redis_url
    os.environ[DEDUPE_ENV] = redis_url
    with tempfile.TemporaryDirectory() as folder:
        broker = os.environ[BROKER_ENV] if kind == "celery" else ""
        database = Database("postgres" if kind == "postgres" else "sqlite", Path(folder), broker)
        intake = kind if kind in ("memory", "celery") else database.url
        fleet = Fleet(intake, database.url, Path(folder))
        try:
            wait_ready(fleet.port)
            stop = threading.Event()

            def killer() -> None:
                turn = 0
                while kill_every > 0 and not stop.wait(kill_every):
                    fleet.kill_one(turn)
                    turn += 1

            started = time.monotonic()
            killing = threading.Thread(target=killer)
            killing.start()
            sent, acknowledged, latencies = send_all(fleet.port, count, callers)
            if not kill_during_drain:
                stop.set()
                killing.join()
            took = time.monotonic() - started
            handled_sending = len(set(database.handled()))
            settle(database, kind, drain_timeout)
            drained = time.monotonic() - started - took
            stop.set()
            killing.join()
            # Read before the handled ones: an event handled in between is then in both
            # (a database intake's uuids), or counted twice (Celery's count of messages).
            kept = set() if kind == "memory" else database.queued()
            waiting = 0 if kind == "memory" else database.waiting()
            handled = database.handled()
            missing = sorted(acknowledged - set(handled) - kept)
            if missing and kind != "memory":
                show_log_lines(Path(folder) / "processes.log", missing[:5])
        finally:
            fleet.stop()
            database.close()
        log = (Path(folder) / "processes.log").read_text(errors="replace")
        # Celery on Redis: tasks the broker dropped, found by a sweep and published again.
        republished = log.count("okta event published again")
    unique = set(handled)
    # Events still queued when the drain timeout passed are not lost: they are kept.
    # A broker's messages carry no uuid here: an undrained Celery run cannot tell lost
    # events from waiting ones.
    lost = "?" if kind == "celery" and waiting else str(len(missing))
    print(
        f"{kind}: sent={len(sent)} acknowledged={len(acknowledged)} "
        f"({100 * len(acknowledged) / len(sent):.1f} %) handled={len(unique)} lost={lost} "
        f"duplicates={len(handled) - len(unique)} republished={republished} "
        f"still_queued={waiting} sending_s={took:.1f} "
        f"handled_while_sending={handled_sending} drain_s={drained:.1f} callers={callers} "
        f"kill_every={kill_every} kill_during_drain={kill_during_drain} "
        f"p50_ms={1000 * percentile(latencies, 0.5):.1f} "
        f"p99_ms={1000 * percentile(latencies, 0.99):.1f} answers_204={len(latencies)}"
    )
    return 1 if lost != "0" and kind != "memory" else 0


def show_log_lines(log: Path, uuids: list[str]) -> None:
    """Print what the processes logged about acknowledged events never handled."""
    print(f"not handled (first {len(uuids)}): {', '.join(uuids)}")
    for line in log.read_text(errors="replace").splitlines():
        if any(uuid in line for uuid in uuids) or "given up" in line:
            print(f"  log: {line[:300]}")


def settle(database: Database, kind: str, timeout: float) -> None:
    """Wait until no event waits (database) or the handled count stops moving (memory)."""
    deadline = time.monotonic() + timeout
    last, still = -1, 0
    while time.monotonic() < deadline:
        if kind != "memory" and database.waiting():
            time.sleep(0.5)
            continue
        count = len(database.handled())
        still = still + 1 if count == last else 0
        if still >= 6:
            return
        last = count
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--intake", choices=["memory", "sqlite", "postgres", "celery"], default="sqlite"
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/11",
        help="the Celery runs' de-duplication store, and their broker without --broker",
    )
    parser.add_argument(
        "--broker", default="", help="Celery's broker when not --redis (amqp://...: RabbitMQ)"
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--callers", type=int, default=6)
    parser.add_argument("--kill-every", type=float, default=0.7)
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument(
        "--kill-during-drain", action="store_true", help="go on killing until the drain ends"
    )
    args = parser.parse_args()
    return run(
        args.intake,
        args.events,
        args.callers,
        args.kill_every,
        args.drain_timeout,
        args.redis,
        args.kill_during_drain,
        args.broker,
    )


if __name__ == "__main__":
    sys.exit(main())
