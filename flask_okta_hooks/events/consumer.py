"""The consumer loop of the SQL intake: take an event under a lease, run it while
renewing the lease, settle it.

It runs as a few threads of the web process (``OKTA_HOOKS_EVENTS_WORKERS``) and as the
``flask okta-hooks worker`` process. A consumer asked to stop finishes the event it holds
(or, when its handler is interrupted, gives it back) and takes no other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from .backend import BackendError
from .intake import Handle

if TYPE_CHECKING:
    from .sql import SqlIntake, Taken

logger = logging.getLogger("flask_okta_hooks")

#: Seconds a consumer waits after the database failed before it tries again.
BACKEND_PAUSE = 1.0


class Consumer:
    """Runs events of ``intake`` with ``handle`` until :attr:`stop` is set.

    ``handle`` may be a weak method: the consumer ends when its owner is gone.
    """

    def __init__(
        self,
        intake: SqlIntake,
        handle: Handle | weakref.WeakMethod[Handle],
        *,
        progress: Callable[[Consumer], None] | None = None,
        every: int = 0,
    ) -> None:
        self.intake = intake
        self._handle = handle
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.stop = threading.Event()
        self.progress = progress
        self.every = every
        self.handled = 0
        self.retried = 0
        self.parked = 0

    def run(self) -> None:
        """Take and run events until stopped (or until the handle's owner is gone)."""
        swept = 0.0
        while not self.stop.is_set():
            handle = self._live_handle()
            if handle is None:
                return
            try:
                if time.monotonic() - swept > self.intake.lease / 2:
                    self.parked += self.intake.park_expired()
                    swept = time.monotonic()
                taken = self.intake.take(self.owner)
            except BackendError as exc:
                logger.error("okta event consumer: %s", exc)
                self.stop.wait(BACKEND_PAUSE)
                continue
            del handle  # a weak owner may go while the consumer waits or the event runs
            if taken is None:
                self.intake.wait()
                continue
            self.run_one(taken)

    def run_one(self, taken: Taken) -> None:
        """Run one taken event and settle it: done, retried later, or parked."""
        handle = self._live_handle()
        try:
            if handle is None:
                raise _Gone
            with LeaseHeartbeat(self.intake, taken):
                handle(taken.event)
        except Exception as exc:
            self._settle_failure(taken, type(exc).__name__)
        except BaseException:  # interrupted (KeyboardInterrupt, SystemExit, _Gone): give it back
            self._safely(self.intake.release, taken)
            raise
        else:
            if self._safely(self.intake.done, taken):
                self.handled += 1
                if self.progress is not None and self.every and self.handled % self.every == 0:
                    self.progress(self)

    def _settle_failure(self, taken: Taken, error: str) -> None:
        try:
            if self.intake.fail(taken, error):
                self.parked += 1
                logger.error(
                    "okta event parked after %d attempts: id=%d uuid=%r error=%s",
                    taken.attempts,
                    taken.id,
                    taken.event.uuid,
                    error,
                )
            else:
                self.retried += 1
        except BackendError as exc:  # the lease expires and the event runs again
            logger.error("okta event consumer: %s", exc)

    @staticmethod
    def _safely(settle: Callable[[Taken], None], taken: Taken) -> bool:
        try:
            settle(taken)
        except BackendError as exc:  # the lease expires and the event runs again
            logger.error("okta event consumer: %s", exc)
            return False
        return True

    def _live_handle(self) -> Handle | None:
        if isinstance(self._handle, weakref.WeakMethod):
            return self._handle()
        return self._handle


class LeaseHeartbeat:
    """While its ``with`` block runs, renews the lease of ``taken`` every third of the lease
    from a thread of its own, so a slow handler keeps its event; a consumer that dies stops
    renewing with it, and its lease expires as usual."""

    def __init__(self, intake: SqlIntake, taken: Taken) -> None:
        self.intake = intake
        self.taken = taken
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="okta-hooks-lease", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finished.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._finished.wait(self.intake.lease / 3):
            try:
                held = self.intake.renew(self.taken)
            except BackendError as exc:  # tried again a third of the lease later
                logger.error("okta event consumer: lease not renewed: %s", exc)
                continue
            if not held:
                logger.warning(
                    "okta event lease lost while its handler runs: id=%d uuid=%r",
                    self.taken.id,
                    self.taken.event.uuid,
                )
                return


class _Gone(BaseException):
    """The app the consumer ran for was collected: stop, giving the event back."""


class ConsumerThreads:
    """``count`` daemon threads, each running a :class:`Consumer`; restarted after a fork."""

    def __init__(self, intake: SqlIntake, handle: Handle, count: int) -> None:
        self.intake = intake
        self.handle = weakref.WeakMethod(handle) if hasattr(handle, "__self__") else handle
        self.count = count
        self.consumers: list[Consumer] = []
        self.start()
        _THREADS.add(self)

    def start(self) -> None:
        self.consumers = [Consumer(self.intake, self.handle) for _ in range(self.count)]
        for consumer in self.consumers:
            thread = threading.Thread(
                target=_run_quietly, args=(consumer,), name="okta-hooks-consumer", daemon=True
            )
            thread.start()

    def stop(self) -> None:
        """Ask every thread to stop after the event it holds."""
        for consumer in self.consumers:
            consumer.stop.set()


def _run_quietly(consumer: Consumer) -> None:
    with contextlib.suppress(_Gone):
        consumer.run()


_THREADS: weakref.WeakSet[ConsumerThreads] = weakref.WeakSet()


def _after_fork() -> None:
    # Threads do not survive a fork; the child runs its own.
    for threads in list(_THREADS):
        threads.intake._wake = threading.Condition()  # its lock may have been held
        threads.start()


os.register_at_fork(after_in_child=_after_fork)


def start_threads(intake: SqlIntake, handle: Handle, count: int) -> ConsumerThreads | None:
    """Start ``count`` consumer threads of ``intake`` in this process (none for 0)."""
    if count < 1:
        return None
    threads = ConsumerThreads(intake, handle, count)
    intake.consumer_threads = threads
    return threads
