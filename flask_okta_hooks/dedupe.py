"""De-duplication of event hook deliveries: each System Log event is handled once.

Okta delivers event hooks at least once: a delivery that timed out or got a 5xx is sent
again, and an event may arrive twice for other reasons too. Before an event reaches its
handler, the store is asked whether its key is new (:meth:`DedupeStore.claim`); when the
handler fails, the claim is given back (:meth:`DedupeStore.release`) so a later
redelivery runs it again.

A key is the URL path of the endpoint, ``#``, and the event's ``uuid``, e.g.
``/okta/hooks/events#f1d0b993-cc19-11ed-a688-db22c99ef6c4``: when two Okta event hooks
send the same event to two endpoints, each endpoint handles it once.

The in-memory default serves one process. When several processes or hosts serve the same
hook, give them one shared store, e.g. Redis::

    class RedisDedupeStore:
        def __init__(self, redis: Redis, ttl: int = 86_400) -> None:
            self.redis, self.ttl = redis, ttl

        def claim(self, key: str) -> bool:
            # SET NX is atomic: exactly one caller sees True.
            return bool(self.redis.set(f"okta-event:{key}", 1, nx=True, ex=self.ttl))

        def release(self, key: str) -> None:
            self.redis.delete(f"okta-event:{key}")

    app.config["OKTA_HOOKS_EVENTS_DEDUPE"] = RedisDedupeStore(redis)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

#: Okta retries within seconds, but at-least-once delivery has no stated maximum delay.
DEFAULT_TTL = 24 * 3600.0
#: About 25 MB of keys at most; Okta sends at most 400,000 events per org and day.
DEFAULT_MAX_ENTRIES = 100_000


@runtime_checkable
class DedupeStore(Protocol):
    """Where the keys of the events already taken on are kept.

    Both methods are called from several threads at once and must be safe to do so.
    Exceptions they raise make the delivery answer 503, so Okta retries it once.
    """

    def claim(self, key: str) -> bool:
        """Atomically record ``key``; ``True`` only for the first caller.

        "First" must hold across every process sharing the store: two deliveries of one
        event racing on two hosts must not both see ``True``. Keys are at most a few
        hundred characters.
        """
        ...

    def release(self, key: str) -> None:
        """Forget ``key`` after its handler failed, so a redelivery runs it again.

        A store may do nothing here; the event then stays handled-once even on failure.
        """
        ...


class MemoryDedupeStore:
    """A bounded in-process :class:`DedupeStore`: keys are kept for ``ttl`` seconds.

    Memory stays bounded: beyond ``max_entries`` keys the oldest are forgotten first, so
    only a duplicate arriving after that many newer events could run twice.

    Example::

        store = MemoryDedupeStore(max_entries=10_000, ttl=3600)
        store.claim("/okta/hooks/events#f1d0b993")   # True: run the handler
        store.claim("/okta/hooks/events#f1d0b993")   # False: a duplicate
        app.config["OKTA_HOOKS_EVENTS_DEDUPE"] = store
    """

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl: float = DEFAULT_TTL,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if not ttl > 0:
            raise ValueError("ttl must be a positive number of seconds")
        self.max_entries = max_entries
        self.ttl = float(ttl)
        self.clock = clock
        # Keys in claim order with their expiry; with one ttl, the order is expiry order.
        self._expiries: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            self._forget_expired(now)
            if key in self._expiries:
                return False
            self._expiries[key] = now + self.ttl
            if len(self._expiries) > self.max_entries:
                self._expiries.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._expiries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            self._forget_expired(self.clock())
            return len(self._expiries)

    def _forget_expired(self, now: float) -> None:
        expiries = self._expiries
        while expiries:
            key, expiry = next(iter(expiries.items()))
            if expiry > now:
                return
            del expiries[key]
