"""The Celery intake: each accepted event is a task of the app's Celery instance (extra
``[celery]``).

The endpoint answers 204 only after the broker took every task of the delivery:

* AMQP (RabbitMQ): the intake publishes with publisher confirms (``confirm_publish``),
  so each publish waits for the broker's ``basic.ack``; a ``basic.nack`` or no answer
  within :data:`PUBLISH_TIMEOUT` is an error. Celery's queues are durable and its
  messages persistent, so RabbitMQ acknowledges them once written to disk.
* Redis: a publish is one ``LPUSH`` that returns once Redis applied it. The task then
  survives a Redis restart only as far as Redis's own persistence keeps it
  (``appendonly yes``; ``appendfsync always`` for every write, ``everysec`` loses up to a
  second). kombu's Redis transport can drop a task whose worker dies as it takes it off
  the queue, so each event is also written to a ledger on the broker before it is
  published (:mod:`.redis_ledger`); when it is ready and every ``sweep_every`` seconds
  after, a Celery worker (one at a time) publishes again each event whose task has not
  started within ``sweep_after`` seconds and is neither queued nor held by a worker, as a
  new task; one published again ``attempts`` times and never started is given up.

A publish that fails answers 503, so Okta sends the delivery once more. Events of that
delivery published before the failure stay published: the retry publishes them again.

Events are de-duplicated where their task runs, never before the publish: a web process
killed between claiming an event and publishing it would keep a claim nobody runs, and
Okta's retry of that delivery would then be skipped. A task claims two keys in the app's
de-duplication store: its own (``<endpoint>#<uuid>@<task id>``), then the event's
(``<endpoint>#<uuid>``). A task that finds the event's key claimed by another task is a
duplicate and ends without running the handler. A task that finds its own key claimed
already is that task delivered again (its worker died): it runs the handler whatever
the event's key says, so a worker dying between the claim and the handler loses
nothing; when the handler had returned before the worker died, the event runs twice,
and a warning is logged. A task whose handler failed gives both keys back before its
retry is published, so that the retry (or, on Redis, a copy of it published again)
claims the event afresh.

Workers are ordinary Celery workers of the same Celery app; they must create the Flask
app (as Flask's Celery pattern does) so that the blueprint registers the task. The task
is acknowledged only after it ran (``acks_late``) and given back when its worker process
dies (``reject_on_worker_lost``): the broker delivers it again, so a handler can run twice
for one event when a worker dies in the middle of it. The task carries plain data (the
endpoint, the uuid and the event's JSON); the handler is looked up by event type when it
runs, with the Flask app context pushed. A failing handler runs again after
``retry_delay`` seconds, doubled per attempt; after ``attempts`` runs the event is given
up and logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ..errors import ConfigurationError
from .backend import require, wrapped
from .dedupe import DedupeStore, release
from .intake import Handle, QueuedEvent
from .redis_ledger import Record, RedisLedger

logger = logging.getLogger("flask_okta_hooks")

#: Seconds one publish may take (connecting, and the broker's confirmation): Okta waits
#: 3 s for the whole delivery.
PUBLISH_TIMEOUT = 1.0
#: A publish on a connection found broken is tried once more, on a new connection.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
#: Web threads publishing at once, per intake and process.
CONNECTIONS = 32
#: Longest wait between two runs of a failing handler.
MAX_RETRY_DELAY = 3600.0
#: Redis broker: seconds between two sweeps for lost tasks (one worker sweeps at a time).
SWEEP_EVERY = 10.0
#: Redis broker: seconds a task may take from its publish to its start before a sweep
#: that finds it nowhere on the broker publishes it again.
SWEEP_AFTER = 30.0
_BACKEND = "Celery event intake"


class CeleryIntake:
    """Accepted events as Celery tasks (see the module doc).

    ``celery_app`` is a ``celery.Celery`` instance or its import path
    (``"myapp.tasks:celery_app"``). The task is named ``flask_okta_hooks.event:<prefix>``
    and goes to the queue Celery routes it to (``task_default_queue`` unless routed).
    """

    #: The value of ``OKTA_HOOKS_EVENTS_INTAKE`` that names this intake, and its extra.
    scheme = "celery"
    extra = "celery"

    #: Events are claimed where their task runs (see the module doc): the endpoint claims
    #: nothing before it publishes.
    deduplicates = True

    def __init__(
        self,
        celery_app: Any,
        *,
        attempts: int = 5,
        retry_delay: float = 2.0,
        prefix: str = "OKTA_HOOKS_",
        key: str = "CeleryIntake",
        sweep_every: float = SWEEP_EVERY,
        sweep_after: float = SWEEP_AFTER,
    ) -> None:
        celery = require("celery", self.extra, key)
        if celery_app is None:
            raise ConfigurationError(
                f"{key} is 'celery': set {prefix}EVENTS_CELERY to the app's Celery instance "
                f"or its import path, e.g. 'myapp.tasks:celery_app'"
            )
        if isinstance(celery_app, str):
            celery_app = _load(celery_app, prefix + "EVENTS_CELERY")
        if not isinstance(celery_app, celery.Celery):
            raise ConfigurationError(f"{prefix}EVENTS_CELERY is not a celery.Celery instance")
        self.celery = celery_app
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.sweep_every = sweep_every
        self.sweep_after = sweep_after
        self.task_name = f"flask_okta_hooks.event:{prefix}"
        self.ledger: RedisLedger | None = None
        """Redis broker: the events published and not started yet (see the module doc)."""
        self.dedupe: Callable[[], DedupeStore | None] = _no_store
        """The de-duplication store that tasks claim their events in, as it is now."""
        self._stopped = threading.Event()  # a worker's sweeps end when it shuts down
        self._connection = self._publisher()
        self._pool = self._connection.Pool(CONNECTIONS)
        _INTAKES.add(self)

    def _publisher(self) -> Any:
        """The connection the web side publishes on: the app's broker, with confirms."""
        probe = self.celery.connection_for_write()
        options = dict(probe.transport_options)
        if probe.transport.driver_type == "amqp":
            options["confirm_publish"] = True
        elif probe.transport.driver_type == "redis":
            # A broker gone without closing the socket must not hold the answer forever.
            options.setdefault("socket_timeout", PUBLISH_TIMEOUT)
            queue = self.celery.amqp.router.route({}, self.task_name)["queue"].name
            try:
                self.ledger = RedisLedger.for_broker(
                    probe, self.task_name, queue, PUBLISH_TIMEOUT, self.celery.conf.broker_use_ssl
                )
            except ValueError as exc:
                logger.warning("okta events lost by the Celery broker cannot be found: %s", exc)
        return self.celery.connection_for_write(
            connect_timeout=PUBLISH_TIMEOUT, transport_options=options
        )

    # --- the web side ------------------------------------------------------------------------

    def put(self, events: Sequence[QueuedEvent]) -> None:
        """Publish one task per event; each is confirmed by the broker when this returns."""
        tasks = [(str(uuid.uuid4()), event) for event in events]
        with wrapped(_BACKEND):
            if self.ledger is not None:
                self.ledger.add([_record(event, task_id) for task_id, event in tasks])
            with self._pool.acquire(block=True, timeout=PUBLISH_TIMEOUT) as connection:
                for task_id, event in tasks:
                    self._publish(connection, event, task_id)

    def _publish(self, connection: Any, event: QueuedEvent, task_id: str) -> None:
        self.celery.send_task(
            self.task_name,
            kwargs=_arguments(event),
            task_id=task_id,
            connection=connection,
            ignore_result=True,
            retry=True,
            retry_policy=PUBLISH_RETRY,
            timeout=PUBLISH_TIMEOUT,
            confirm_timeout=PUBLISH_TIMEOUT,
        )

    def check(self) -> None:
        """Connect to the broker; :class:`~.backend.BackendError` when it does not answer.

        On a connection of its own, closed again: a pre-forking server's children must not
        share a socket opened in the master.
        """
        connection = self._connection.clone()
        try:
            with wrapped(_BACKEND):
                connection.ensure_connection(max_retries=1, timeout=PUBLISH_TIMEOUT)
        finally:
            connection.release()

    def drain(self, timeout: float | None = None) -> bool:
        """Nothing waits in this process: the tasks are the broker's and the workers'."""
        return True

    def sweep(self) -> int:
        """Publish again, each as a new task, the events whose tasks a Redis broker lost
        or that were never published (see the module doc); how many. An event published
        again ``attempts`` times and never started is given up. Celery workers call this
        when they are ready and every ``sweep_every`` seconds after, one at a time."""
        ledger = self.ledger
        if ledger is None:
            return 0
        published = 0
        with wrapped(_BACKEND):
            lost = ledger.lost(self.sweep_after)
            if not lost:
                return 0
            with self._pool.acquire(block=True, timeout=PUBLISH_TIMEOUT) as connection:
                for old in lost:
                    event = _event(orjson.loads(old.arguments))
                    if old.sweeps >= self.attempts:  # taken by something that does not run it
                        logger.error(
                            "okta event given up, published %d times and never started: "
                            "path=%r uuid=%r",
                            old.sweeps + 1,
                            event.path,
                            event.uuid,
                        )
                        ledger.forget(old.key)
                        continue
                    new = _record(event, str(uuid.uuid4()))._replace(sweeps=old.sweeps + 1)
                    # Recorded first: if this process dies now, the next sweep finds it.
                    ledger.replace(old, new)
                    self._publish(connection, event, new.task_id)
                    published += 1
                    logger.warning(
                        "okta event published again, its task had not started and is not on "
                        "the broker: path=%r uuid=%r",
                        event.path,
                        event.uuid,
                    )
        return published

    def close(self) -> None:
        """Close this process's publishing connections."""
        self._pool.force_close_all()
        if self.ledger is not None:
            self.ledger.close()

    # --- the worker side ---------------------------------------------------------------------

    def start(self, handle: Handle, give_up: Handle, threads: int) -> None:
        """Register the event task with the Celery app; Celery workers run it.

        The task class derives from the app's own ``Task`` (Flask's ``FlaskTask`` when
        the app was made the way Flask documents, which pushes the app context; the
        handler runs in that context, or pushes it itself). ``threads`` is not used: the
        workers' concurrency is Celery's.
        """
        intake = self

        class EventTask(self.celery.Task):  # type: ignore[name-defined,misc]
            name = self.task_name
            acks_late = True
            reject_on_worker_lost = True
            ignore_result = True
            max_retries = self.attempts - 1

            def run(self, path: str, uuid: str | None, body: str) -> None:
                intake.run(self, QueuedEvent(path, uuid, body.encode("utf-8")), handle, give_up)

        self.celery.register_task(EventTask())
        if self.ledger is not None:
            from celery.signals import worker_ready, worker_shutdown  # type: ignore[import-untyped]

            worker_ready.connect(self._sweep_in_worker)
            worker_shutdown.connect(self._stop_sweeping)

    def _sweep_in_worker(self, sender: Any = None, **_: Any) -> None:
        """Sweep for lost tasks from a thread of this worker (its main process)."""
        if getattr(sender, "app", None) is self.celery:
            threading.Thread(target=self._sweep_loop, name="okta-hooks-sweep", daemon=True).start()

    def _stop_sweeping(self, **_: Any) -> None:
        self._stopped.set()

    def _sweep_loop(self) -> None:
        # At once, then every sweep_every seconds: a worker restarted again and again
        # sweeps too.
        assert self.ledger is not None
        while True:
            try:
                if self.ledger.lock(self.sweep_every):
                    self.sweep()
            except Exception as exc:  # the broker is down: the next sweep tries again
                logger.error("okta event sweep failed: error=%s", type(exc).__name__)
            if self._stopped.wait(self.sweep_every):
                return

    def run(self, task: Any, event: QueuedEvent, handle: Handle, give_up: Handle) -> None:
        """Run one event's task: skip a duplicate, handle it, or retry it later, or give it
        up (a failing de-duplication store counts as a failed attempt)."""
        try:
            if self.ledger is not None:
                self.ledger.forget(_ledger_key(event, task.request.id))
            if self._claim(task, event):
                handle(event)
        except Exception as exc:
            attempt = task.request.retries + 1
            if attempt >= self.attempts:
                logger.error(
                    "okta event given up after %d attempts: path=%r uuid=%r error=%s",
                    attempt,
                    event.path,
                    event.uuid,
                    type(exc).__name__,
                )
                give_up(event)
                return
            delay = min(self.retry_delay * 2 ** (attempt - 1), MAX_RETRY_DELAY)
            if event.uuid is not None:  # the retry claims afresh, or a copy published again
                store, key = self.dedupe(), f"{event.path}#{event.uuid}"
                release(store, f"{key}@{task.request.id}")
                release(store, key)
            if self.ledger is not None:  # lost on its way back, it is found again
                self.ledger.add([_record(event, task.request.id)], time.time() + delay)
            # Published with confirms too, before the running task is acknowledged; no
            # ``exc``: Celery would log the handler's message, which can quote the event.
            with self._pool.acquire(block=True, timeout=PUBLISH_TIMEOUT) as connection:
                raise task.retry(countdown=delay, connection=connection) from None

    def _claim(self, task: Any, event: QueuedEvent) -> bool:
        """Whether ``task`` runs its event's handler; ``False`` for a duplicate."""
        store = self.dedupe()
        if store is None or event.uuid is None:
            return True
        key = f"{event.path}#{event.uuid}"
        try:
            if store.claim(f"{key}@{task.request.id}"):  # this task's first run
                if store.claim(key):
                    return True
                logger.info(
                    "okta event skipped, another task has it: path=%r uuid=%r",
                    event.path,
                    event.uuid,
                )
                return False
        except Exception as exc:
            logger.error(
                "okta event de-duplication store failed: path=%r uuid=%r error=%s",
                event.path,
                event.uuid,
                type(exc).__name__,
            )
            raise
        if not task.request.retries:  # not a retry: the broker delivered the task again
            logger.warning(
                "okta event task runs again after its worker stopped, and the handler runs "
                "twice if its first run had finished: path=%r uuid=%r",
                event.path,
                event.uuid,
            )
        return True


def _no_store() -> DedupeStore | None:
    return None


def _arguments(event: QueuedEvent) -> dict[str, Any]:
    """The event task's arguments: plain data."""
    return {"path": event.path, "uuid": event.uuid, "body": event.body.decode("utf-8")}


def _ledger_key(event: QueuedEvent, task_id: str) -> str:
    """The ledger keeps records by event, by task where the event has no uuid."""
    return f"{event.path}#{event.uuid}" if event.uuid is not None else f"{event.path}@{task_id}"


def _record(event: QueuedEvent, task_id: str) -> Record:
    """The ledger's record of ``event`` published as task ``task_id``."""
    return Record(_ledger_key(event, task_id), task_id, orjson.dumps(_arguments(event)))


def _event(arguments: dict[str, Any]) -> QueuedEvent:
    """The event a task's arguments carry."""
    return QueuedEvent(arguments["path"], arguments["uuid"], arguments["body"].encode())


def _load(path: str, key: str) -> Any:
    from werkzeug.utils import ImportStringError, import_string

    try:
        return import_string(path)
    except ImportStringError as exc:
        raise ConfigurationError(
            f"{key}: cannot import {path!r} ({type(exc.exception).__name__})"
        ) from None


_INTAKES: weakref.WeakSet[CeleryIntake] = weakref.WeakSet()


def _after_fork() -> None:
    # The child must not share the parent's sockets: it opens its own when it publishes.
    for intake in list(_INTAKES):
        intake._pool = intake._connection.Pool(CONNECTIONS)


os.register_at_fork(after_in_child=_after_fork)
