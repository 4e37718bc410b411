"""De-duplication of event hook deliveries: each System Log event is taken on once.

Okta delivers event hooks at least once: a delivery that timed out or got a 5xx is sent
again, and an event may arrive twice for other reasons too. Before an event is queued,
the store is asked whether its key is new (:meth:`DedupeStore.claim`); when the event is
given up (its handler failed in memory, or the delivery was refused), the claim is given
back (:meth:`DedupeStore.release`) so a redelivery takes it again.

A key is the URL path of the endpoint, ``#``, and the event's ``uuid``, e.g.
``/okta/hooks/events#f1d0b993-cc19-11ed-a688-db22c99ef6c4``: when two Okta event hooks
send the same event to two endpoints, each endpoint handles it once.

:class:`MemoryDedupeStore` serves one process. Several processes or hosts share
:class:`RedisDedupeStore` (``SET NX`` with a time to live; extra ``[redis]``) or
:class:`SqlDedupeStore` (a primary key; extra ``[sql]``), named by a URL::

    app.config["OKTA_HOOKS_EVENTS_DEDUPE"] = "redis://localhost:6379/0"
    app.config["OKTA_HOOKS_EVENTS_DEDUPE"] = "postgresql+psycopg://db/app"
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from .backend import require, resolve, sql_engine, wrapped

logger = logging.getLogger("flask_okta_hooks")

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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

    def check(self) -> None:
        """Nothing to reach: always healthy."""

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


class RedisDedupeStore:
    """A :class:`DedupeStore` in Redis, shared by every process: ``SET NX`` with a TTL.

    ``SET key 1 NX EX ttl`` is one atomic command, so exactly one caller sees ``True``
    however many processes race. Keys live ``ttl`` seconds (a day by default), below
    ``prefix``. Takes a URL (needs the ``redis`` extra) or a ``redis.Redis`` client::

        RedisDedupeStore("redis://localhost:6379/0", prefix="okta-event:")
    """

    def __init__(
        self, redis: Any, *, prefix: str = "okta-event:", ttl: float = DEFAULT_TTL
    ) -> None:
        if not ttl >= 1:
            raise ValueError("ttl must be at least one second")
        if isinstance(redis, str):
            module = require("redis", "redis", "RedisDedupeStore")
            redis = module.Redis.from_url(redis)
        self.redis = redis
        self.prefix = prefix
        self.ttl = int(ttl)

    def claim(self, key: str) -> bool:
        with wrapped("Redis de-duplication store"):
            return bool(self.redis.set(self.prefix + key, 1, nx=True, ex=self.ttl))

    def release(self, key: str) -> None:
        with wrapped("Redis de-duplication store"):
            self.redis.delete(self.prefix + key)

    def check(self) -> None:
        """Ping the server; :class:`~.backend.BackendError` when it does not answer."""
        with wrapped("Redis de-duplication store"):
            self.redis.ping()


class SqlDedupeStore:
    """A :class:`DedupeStore` in a SQL table (SQLAlchemy 2; extra ``[sql]``).

    The key is the table's primary key, so of two processes inserting one key exactly
    one succeeds; the other gets an integrity error, which is its ``False``. Rows are
    kept for ``ttl`` seconds: an expired row is replaced by the next claim of its key and
    :meth:`purge` deletes them all. Takes a database URL or an ``Engine``; the table is
    created when missing::

        SqlDedupeStore("postgresql+psycopg://db/app")
    """

    def __init__(
        self, engine: Engine | str, *, table: str = "okta_hook_dedupe", ttl: float = DEFAULT_TTL
    ) -> None:
        if not ttl > 0:
            raise ValueError("ttl must be a positive number of seconds")
        from sqlalchemy import Column, Float, MetaData, String, Table

        self.engine = sql_engine(engine, "SqlDedupeStore") if isinstance(engine, str) else engine
        self.ttl = float(ttl)
        self.table = Table(
            table,
            MetaData(),
            Column("key", String(512), primary_key=True),
            Column("expires", Float, nullable=False),
        )
        with wrapped("SQL de-duplication store"):
            create_table(self.engine, self.table)

    def claim(self, key: str) -> bool:
        from sqlalchemy.exc import IntegrityError

        table, now = self.table, time.time()
        with wrapped("SQL de-duplication store"):
            try:
                with self.engine.begin() as connection:
                    connection.execute(table.insert().values(key=key, expires=now + self.ttl))
                return True
            except IntegrityError:
                pass
            # Taken, unless it expired: then the one whose update matches takes it over.
            with self.engine.begin() as connection:
                taken = connection.execute(
                    table.update()
                    .where(table.c.key == key, table.c.expires <= now)
                    .values(expires=now + self.ttl)
                )
            return taken.rowcount == 1

    def release(self, key: str) -> None:
        with wrapped("SQL de-duplication store"), self.engine.begin() as connection:
            connection.execute(self.table.delete().where(self.table.c.key == key))

    def purge(self) -> int:
        """Delete the expired keys; returns how many."""
        with wrapped("SQL de-duplication store"), self.engine.begin() as connection:
            gone = connection.execute(
                self.table.delete().where(self.table.c.expires <= time.time())
            )
        return int(gone.rowcount)

    def check(self) -> None:
        """Run ``SELECT 1``; :class:`~.backend.BackendError` when the database fails."""
        from sqlalchemy import text

        with wrapped("SQL de-duplication store"), self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


def create_table(engine: Engine, table: Any) -> None:
    """Create ``table`` unless it exists; two processes racing to create it both succeed."""
    from sqlalchemy.exc import DBAPIError

    try:
        table.create(engine, checkfirst=True)
    except DBAPIError:
        # The other process created it between the check and the create.
        table.create(engine, checkfirst=True)


def resolve_dedupe(key: str, value: object) -> DedupeStore | None:
    """The store ``OKTA_HOOKS_EVENTS_DEDUPE`` names: ``None``, ``"memory"``, a URL or a store."""
    if value is None or not isinstance(value, str):
        return cast("DedupeStore | None", value)  # its shape was checked by the configuration

    def sql(url: str) -> DedupeStore:
        return SqlDedupeStore(sql_engine(url, key))

    return resolve(key, value, memory=_memory_store, redis=_redis_store, sql=sql)


def _memory_store() -> DedupeStore:
    return MemoryDedupeStore()


def _redis_store(url: str) -> DedupeStore:
    return RedisDedupeStore(url)


def release(store: DedupeStore | None, key: str) -> None:
    """Give a claim back; a failing store is logged, not raised."""
    if store is None:
        return
    try:
        store.release(key)
    except Exception as exc:
        logger.error(
            "okta event de-duplication store failed to release: error=%s", type(exc).__name__
        )
