"""Admission control for CPU-bound work that must finish before a deadline.

A password check costs a fixed slice of CPU (bcrypt cost 12: about 0.3 s of one core).
Running more checks than there are cores only makes each one slower, until every call
misses Okta's 3 s. So checks take one of a few slots, and a call that cannot get a slot
and still finish before its deadline is turned away at once: a fast, honest "not now"
beats a timeout that lands on the same outcome three seconds later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

#: Weight of the newest measurement in the running estimate of a task's duration.
SMOOTHING = 0.3


class Shed(Exception):
    """The work was not started: it could not have finished before the deadline."""


class Admission:
    """At most ``slots`` tasks at once, each admitted only if it can meet its deadline.

    Durations are estimated per kind of task (e.g. per hash format) from the ones
    measured so far, seeded by :meth:`learn`.
    """

    def __init__(self, slots: int, clock: Callable[[], float] = time.monotonic) -> None:
        if slots < 1:
            raise ValueError("at least one slot")
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self._clock = clock
        self._estimates: dict[Hashable, float] = {}
        self._fallback = 0.0
        self._lock = threading.Lock()

    def estimate(self, kind: Hashable) -> float:
        """Expected seconds for a task of this kind (the largest known when unseen)."""
        with self._lock:
            return self._estimates.get(kind, self._fallback)

    def learn(self, kind: Hashable, seconds: float) -> None:
        """Fold one measured duration into the estimate for ``kind``."""
        with self._lock:
            old = self._estimates.get(kind)
            new = seconds if old is None else (1 - SMOOTHING) * old + SMOOTHING * seconds
            self._estimates[kind] = new
            self._fallback = max(self._estimates.values())

    def run(self, kind: Hashable, deadline: float, task: Callable[[], T]) -> T:
        """Run ``task`` in a slot if it can finish by ``deadline`` (a clock reading).

        Raises :class:`Shed` without running it otherwise. Waits for a slot only as long
        as the task could still start and finish in time.
        """
        wait = deadline - self._clock() - self.estimate(kind)
        if wait <= 0 or not self._free.acquire(timeout=wait):
            raise Shed
        try:
            if self._clock() + self.estimate(kind) > deadline:
                raise Shed
            started = self._clock()
            result = task()
            self.learn(kind, self._clock() - started)
            return result
        finally:
            self._free.release()
