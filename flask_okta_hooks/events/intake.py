"""Where accepted events wait for their handlers: the :class:`EventIntake` protocol.

``OKTA_HOOKS_EVENTS_INTAKE`` names the intake, once, when the blueprint is registered:

* ``"memory"`` (:class:`MemoryIntake`): a bounded queue and a few threads in the web
  process. Events taken on and not yet handled are lost with the process: for
  development and tests.
* a SQLAlchemy database URL (:class:`~.sql.SqlIntake`, extra ``[sql]``): each event is a
  row committed before the 204, handled under a lease by consumer threads or by
  ``flask okta-hooks worker`` processes, at least once.
* ``"celery"`` (:class:`~.celery_intake.CeleryIntake`, extra ``[celery]``): each event is
  a task of the app's Celery instance, confirmed by the broker before the 204 and run by
  ordinary Celery workers.

Anything else implements :class:`EventIntake`. What an intake holds is plain data
(:class:`QueuedEvent`), never a handler: the handler is looked up by event type when the
event runs, possibly in another process.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import EventQueueFull
from .backend import resolve

logger = logging.getLogger("flask_okta_hooks")

#: Seconds a memory worker thread waits for work before it ends; the next delivery
#: starts it again. Keeps a quiet or discarded app from holding threads forever.
IDLE_EXIT = 60.0


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One accepted event, as plain data that can cross a process."""

    path: str
    """The URL rule of the endpoint that took it on, e.g. ``/okta/hooks/events``."""
    uuid: str | None
    """The event's ``uuid`` (its de-duplication key with ``path``)."""
    body: bytes
    """The event's JSON, as Okta sent it (re-encoded)."""


#: Runs one event's handler in the app context; raises what the handler raised.
Handle = Callable[[QueuedEvent], None]


@runtime_checkable
class EventIntake(Protocol):
    """Takes accepted events on and gets them handled, at least once.

    The examples are :class:`MemoryIntake`, :class:`~.sql.SqlIntake` and
    :class:`~.celery_intake.CeleryIntake`. An intake may also have ``serve_here()``,
    called once with the first hook call the process serves, to start work that a
    process which only loads the app (a ``flask`` command) must not do, as the SQL
    intake's consumer threads.
    """

    def put(self, events: Sequence[QueuedEvent]) -> None:
        """Take ``events`` on, all or none, before the delivery is answered 204.

        Raises :class:`~.errors.EventsNotAccepted` (the delivery is answered 503) or
        :class:`~.backend.BackendError`.
        """
        ...

    def start(self, handle: Handle, give_up: Handle, threads: int) -> None:
        """Begin handling events in this process with ``handle`` on ``threads`` threads.

        ``give_up`` is called for an event the intake will not run again.
        """
        ...

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no event waits; ``False`` when ``timeout`` passed first."""
        ...

    def check(self) -> None:
        """Raise :class:`~.backend.BackendError` when the intake cannot take events."""
        ...


class MemoryIntake:
    """A bounded in-process queue and a few daemon threads running the handlers.

    Threads start with the first event, and again in a process forked after that (a
    pre-forking server that loaded the app in its master): threads do not survive a fork.
    Threads idle for :data:`IDLE_EXIT` seconds end, and start again with the next event.
    A handler that raises gives its event up: the de-duplication claim is returned, so
    Okta's redelivery (if any) runs it again.
    """

    def __init__(self, capacity: int = 1000, exit_wait: float = 0.0) -> None:
        self.capacity = capacity
        self.exit_wait = exit_wait
        self.threads = 1
        self._handle: Handle | None = None
        self._give_up: Handle | None = None
        self._reset()
        _MEMORY_INTAKES.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._events: deque[QueuedEvent] = deque()
        self._unfinished = 0
        self._running: list[threading.Thread] = []

    def start(self, handle: Handle, give_up: Handle, threads: int) -> None:
        self._handle, self._give_up, self.threads = handle, give_up, threads

    def put(self, events: Sequence[QueuedEvent]) -> None:
        """Queue all of ``events`` or none: :class:`~.errors.EventQueueFull` when they
        would take the queue beyond ``capacity``.

        A delivery larger than ``capacity`` is still taken when nothing waits, so that no
        delivery is refused forever; the body limit bounds its size.
        """
        with self._lock:
            if self._events and len(self._events) + len(events) > self.capacity:
                raise EventQueueFull
            self._events.extend(events)
            self._unfinished += len(events)
            self._start_threads()
            self._work.notify(len(events))

    def drain(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._unfinished:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def check(self) -> None:
        """Nothing to reach: always healthy."""

    @property
    def pending(self) -> int:
        """Events queued or running."""
        with self._lock:
            return self._unfinished

    def _start_threads(self) -> None:
        # Threads that died (a handler raising SystemExit) are replaced here too.
        self._running = [thread for thread in self._running if thread.is_alive()]
        while len(self._running) < self.threads:
            thread = threading.Thread(target=self._serve, name="okta-hooks-events", daemon=True)
            thread.start()
            self._running.append(thread)

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._events:
                    if not self._work.wait(IDLE_EXIT) and not self._events:
                        current = threading.current_thread()
                        if current in self._running:
                            self._running.remove(current)
                        return
                event = self._events.popleft()
            try:
                if self._handle is not None and self._give_up is not None:
                    try:
                        self._handle(event)
                    except Exception:
                        self._give_up(event)
            finally:
                with self._lock:
                    self._unfinished -= 1
                    if not self._unfinished:
                        self._idle.notify_all()


_MEMORY_INTAKES: weakref.WeakSet[MemoryIntake] = weakref.WeakSet()


def _after_fork() -> None:
    # The child has copies of the parent's locks (maybe held) and none of its threads.
    for intake in list(_MEMORY_INTAKES):
        intake._reset()


def wait_at_exit() -> None:
    """Give the memory intakes' waiting events ``exit_wait`` seconds to be handled."""
    for intake in list(_MEMORY_INTAKES):
        if intake.exit_wait > 0 and intake.pending and not intake.drain(intake.exit_wait):
            logger.warning(
                "okta event handlers still pending at exit, these events are lost: events=%d",
                intake.pending,
            )


os.register_at_fork(after_in_child=_after_fork)
atexit.register(wait_at_exit)


def resolve_intake(
    key: str,
    value: str,
    *,
    capacity: int,
    exit_wait: float,
    attempts: int,
    lease: float,
    retry_delay: float,
    celery: object = None,
) -> EventIntake:
    """The intake ``OKTA_HOOKS_EVENTS_INTAKE`` names; checked, so start-up fails early."""
    if value == "celery":
        from .celery_intake import CeleryIntake

        prefix = key.removesuffix("EVENTS_INTAKE")
        return CeleryIntake(
            celery, attempts=attempts, retry_delay=retry_delay, prefix=prefix, key=key
        )

    def sql(url: str) -> EventIntake:
        from .sql import SqlIntake

        return SqlIntake(url, attempts=attempts, lease=lease, retry_delay=retry_delay, key=key)

    intake: EventIntake = resolve(
        key, value, memory=lambda: MemoryIntake(capacity, exit_wait), redis=None, sql=sql
    )
    return intake
