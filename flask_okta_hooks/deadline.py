"""A bounded pool of worker threads that run handlers under a deadline.

Okta waits 3 s for a hook call, then goes on as if the hook had failed. A handler stuck
on a dependency would make Okta wait all that time, holding one of the org's concurrent
transactions, only to land on the same outcome. So the handler runs on a worker thread
while the request thread waits at most until the call's deadline, then answers the
failure outcome; the handler finishes in the background and its result is dropped.

The pool is bounded: an abandoned handler keeps its worker until it returns. A job that
finds every worker busy may wait in line, first come first served, until a latest start
time its caller gives; a job still in line then is withdrawn under the pool's lock, so it
never starts late. When abandoned jobs hold every worker nothing waits: the line could
only move once a stalled dependency answers. Workers start on first use (so a pool made
before ``fork`` starts clean in each child), and leave after a minute without work or
once their app is gone.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Final

Clock = Callable[[], float]
"""Returns monotonic seconds, like :func:`time.perf_counter` (the default)."""

#: An idle worker checks this often whether its pool still exists.
IDLE_CHECK: Final = 1.0
#: An idle worker leaves after this long without work.
IDLE_EXIT: Final = 60.0

_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_worker_ids = itertools.count(1)


class Job:
    """One handler run: the callable, then its result or exception.

    ``on_late`` is called on the worker thread with the job when it finishes after the
    waiter gave up on it. ``queued`` is true while the job waits in line for a worker.
    """

    __slots__ = (
        "_done",
        "abandoned",
        "error",
        "finished",
        "fn",
        "on_late",
        "queued",
        "result",
        "start_by",
    )

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = False
        self.abandoned = False
        self.queued = False
        self.start_by = 0.0
        """``time.monotonic()`` after which a queued job is withdrawn; 0 once a worker
        found it still in line after that time and dropped it."""
        self.on_late: Callable[[Job], None] | None = None
        self._done = _thread.allocate_lock()
        self._done.acquire()


class _Worker:
    __slots__ = ("_go", "_job", "_pool")

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = weakref.ref(pool)
        self._go = _thread.allocate_lock()
        self._go.acquire()
        self._job: Job | None = None

    def start(self, name: str) -> None:
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def give(self, job: Job) -> None:
        self._job = job
        self._go.release()

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while True:
            if not self._go.acquire(True, IDLE_CHECK):
                pool = self._pool()
                if pool is None or pool._retire(self, idle_since):
                    return
                del pool
                continue
            job = self._job
            self._job = None
            while job is not None:  # then the jobs waiting in line, if any
                try:
                    job.result = job.fn()
                except BaseException as exc:  # handed to the waiting request thread
                    job.error = exc
                job.fn = _done_fn  # drop the closure, and with it the request, at once
                pool = self._pool()
                late, after = pool._finish(self, job) if pool is not None else (None, None)
                del pool
                job._done.release()
                if late is not None:
                    with contextlib.suppress(BaseException):  # its worker is idle already
                        late(job)
                job = after
            idle_since = time.monotonic()


def _done_fn() -> None:
    return None


class WorkerPool:
    """At most ``size`` worker threads running :class:`Job` objects.

    Example::

        pool = WorkerPool(8)
        job = Job(lambda: handler(call))
        if not pool.submit(job, wait=0.5):
            ...                      # no worker free, nor within 0.5 s: answer at once
        elif job.queued and not pool.wait_start(job):
            ...                      # withdrawn: it could not start within 0.5 s
        elif not pool.wait(job, 1.5) and pool.abandon(job):
            ...                      # deadline: answer without the result
        else:
            job.result               # or job.error
    """

    def __init__(self, size: int, name: str = "okta-hooks") -> None:
        if size < 1:
            raise ValueError("a worker pool has at least one worker")
        self.size = size
        self.name = name
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._started = 0
        self._busy = 0
        self._abandoned = 0
        self._line: deque[Job] = deque()
        _pools.add(self)

    @property
    def busy(self) -> int:
        """Workers running a job now, abandoned ones included."""
        return self._busy

    @property
    def started(self) -> int:
        """Worker threads alive now."""
        return self._started

    @property
    def abandoned(self) -> int:
        """Workers held by jobs their waiters gave up on."""
        return self._abandoned

    @property
    def waiting(self) -> int:
        """Jobs in line for a worker."""
        return len(self._line)

    def submit(self, job: Job, wait: float = 0.0) -> bool:
        """Start ``job`` on a free worker, or put it in line to start within ``wait``
        seconds (``job.queued`` is then true: see :meth:`wait_start`).

        ``False`` when every worker is busy and ``wait`` is not positive, or abandoned
        jobs hold every worker.
        """
        new = None
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
            elif self._started < self.size:
                worker = new = _Worker(self)
                self._started += 1
            elif wait <= 0 or self._abandoned >= self.size:
                return False
            else:
                job.start_by = time.monotonic() + wait
                job.queued = True
                self._line.append(job)
                return True
            self._busy += 1
        if new is not None:
            try:
                new.start(f"{self.name}-worker-{next(_worker_ids)}")
            except RuntimeError:  # no thread could be started (interpreter shutdown)
                with self._lock:
                    self._started -= 1
                    self._busy -= 1
                return False
        worker.give(job)
        return True

    def wait(self, job: Job, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``job`` to finish; ``False`` if it has not."""
        return timeout > 0 and job._done.acquire(True, timeout)

    def wait_start(self, job: Job) -> bool:
        """Wait until a queued ``job`` has started, at the latest until its start time
        passes; then withdraw it if it is still in line and return ``False``.

        A job that finished meanwhile is still seen by :meth:`wait`.
        """
        timeout = job.start_by - time.monotonic()
        if timeout > 0 and job._done.acquire(True, timeout):
            job._done.release()  # left for wait()
            return True
        with self._lock:
            if job.queued:
                self._line.remove(job)
                job.queued = False
                return False
            return job.start_by > 0  # zero: the worker found it late and dropped it

    def abandon(self, job: Job, on_late: Callable[[Job], None] | None = None) -> bool:
        """Give up on ``job``: it keeps its worker until it returns, then ``on_late`` is
        called with it on the worker thread. ``False`` when it finished meanwhile."""
        with self._lock:
            if job.finished:
                return False
            job.on_late = on_late
            job.abandoned = True
            self._abandoned += 1
            return True

    def _finish(self, worker: _Worker, job: Job) -> tuple[Callable[[Job], None] | None, Job | None]:
        with self._lock:
            job.finished = True
            if job.abandoned:
                self._abandoned -= 1
            while self._line:  # the worker stays busy with the first job in line
                after = self._line.popleft()
                after.queued = False
                if after.start_by >= time.monotonic():
                    return job.on_late, after
                after.start_by = 0.0  # too late to start: its waiter withdraws it
            self._busy -= 1
            self._idle.append(worker)
            return job.on_late, None

    def _retire(self, worker: _Worker, idle_since: float) -> bool:
        if time.monotonic() - idle_since < IDLE_EXIT:
            return False
        with self._lock:
            if worker not in self._idle:  # just handed a job
                return False
            self._idle.remove(worker)
            self._started -= 1
            return True

    def _after_fork(self) -> None:
        # The child has none of the parent's threads: forget them, new ones start on use.
        self._lock = threading.Lock()
        self._idle = []
        self._started = 0
        self._busy = 0
        self._abandoned = 0
        self._line = deque()


def _reset_after_fork() -> None:
    for pool in list(_pools):
        pool._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
