"""The durable intake: accepted events are rows of a SQL table (SQLAlchemy 2, extra ``[sql]``).

A delivery's events are committed in one transaction before the endpoint answers 204.
The table is its own de-duplication store: ``(path, uuid)`` is unique, and a handled
event's row is kept (``done``) for ``keep`` seconds, so a redelivery inserts nothing.
Claim and queue are one commit: no crash between them can leave an event claimed and
never queued.
A consumer takes one event at a time under a lease: on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` (consumers never wait for each other), on SQLite with one
conditional ``UPDATE`` (the database's write lock makes it atomic). The row is marked done
only after the handler returned. While the handler runs, its consumer renews the lease
every third of it, so a slow handler keeps its event. A consumer that dies holds its lease
until it expires, then another takes the event: the handler may then run a second time
for that event.

A handler that raises is retried after ``retry_delay`` seconds, doubled per attempt; after
``attempts`` attempts the event is parked as failed and kept, for
``flask okta-hooks events failed`` and ``... events retry``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .backend import sql_engine, wrapped
from .dedupe import DEFAULT_TTL, create_table
from .intake import Handle, QueuedEvent

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .consumer import ConsumerThreads

logger = logging.getLogger("flask_okta_hooks")

QUEUED = "queued"
FAILED = "failed"
DONE = "done"
#: Longest wait between two retries of a failing handler.
MAX_RETRY_DELAY = 3600.0
#: Seconds an idle consumer waits before it looks for events written by other processes.
POLL_INTERVAL = 0.5
_BACKEND = "SQL event intake"


@dataclass(frozen=True, slots=True)
class Taken:
    """An event a consumer holds under its lease."""

    id: int
    event: QueuedEvent
    attempts: int
    """Attempts so far, this one included."""
    owner: str


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """An event whose handler failed on every attempt, as listed for an operator."""

    id: int
    path: str
    uuid: str | None
    attempts: int
    error: str | None
    body: str


class SqlIntake:
    """Accepted events as rows of ``table``, taken under a lease (see the module doc).

    Takes a database URL or an ``Engine``; the table is created when missing.
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        table: str = "okta_hook_events",
        attempts: int = 5,
        lease: float = 60.0,
        retry_delay: float = 2.0,
        keep: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
        key: str = "SqlIntake",
    ) -> None:
        from sqlalchemy import (
            BigInteger,
            Column,
            Float,
            Index,
            Integer,
            MetaData,
            String,
            Table,
            UniqueConstraint,
        )
        from sqlalchemy import Text as TextType

        self.engine = sql_engine(engine, key) if isinstance(engine, str) else engine
        if self.engine.dialect.name not in ("postgresql", "sqlite"):
            raise ConfigurationError(f"{key}: the database intake runs on PostgreSQL or SQLite")
        self.attempts = attempts
        self.lease = lease
        self.retry_delay = retry_delay
        self.keep = keep
        self.clock = clock
        self.table = Table(
            table,
            MetaData(),
            # SQLite's rowid is an INTEGER PRIMARY KEY; BIGINT elsewhere.
            Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
            Column("path", String(512), nullable=False),
            Column("uuid", String(512)),
            Column("body", TextType, nullable=False),
            Column("status", String(16), nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("available_at", Float, nullable=False),
            Column("lease_owner", String(128)),
            Column("lease_until", Float),
            Column("error", String(128)),
            Column("finished_at", Float),
            # Ready events in the order a consumer takes them: finding the next one reads
            # a few index entries however many events wait.
            Index(f"{table}_ready", "status", "available_at", "id"),
            # Several NULL uuids are distinct in both SQLite and PostgreSQL.
            UniqueConstraint("path", "uuid", name=f"{table}_once"),
        )
        self._wake = threading.Condition()
        self.consumer_threads: ConsumerThreads | None = None
        """The consumer threads of this process, when :meth:`serve_here` started some."""
        self._consumers: tuple[Handle, int] | None = None  # what start() asked for
        with wrapped(_BACKEND):
            create_table(self.engine, self.table)

    # --- the web side ------------------------------------------------------------------------

    #: The table keeps each event once: the endpoint needs no other de-duplication store.
    deduplicates = True

    def put(self, events: Sequence[QueuedEvent]) -> None:
        """Commit the new ones of ``events`` in one transaction; they are durable when this
        returns. An event whose ``(path, uuid)`` is already there is skipped."""
        now = self.clock()
        rows = [
            {
                "path": e.path,
                "uuid": e.uuid,
                "body": e.body.decode("utf-8"),
                "status": QUEUED,
                "attempts": 0,
                "available_at": now,
            }
            for e in events
        ]
        with wrapped(_BACKEND), self.engine.begin() as connection:
            connection.execute(self._insert_new(), rows)
        with self._wake:
            self._wake.notify(len(rows))

    def _insert_new(self) -> Any:
        from sqlalchemy.dialects import postgresql, sqlite

        dialect: Any = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(self.table).on_conflict_do_nothing(index_elements=["path", "uuid"])

    def check(self) -> None:
        """Count the waiting events; :class:`~.backend.BackendError` when the database fails."""
        self.pending()

    def pending(self) -> int:
        """Events waiting or being handled (not the parked ones)."""
        from sqlalchemy import func, select

        t = self.table
        with wrapped(_BACKEND), self.engine.connect() as connection:
            count = connection.execute(
                select(func.count()).select_from(t).where(t.c.status == QUEUED)
            ).scalar_one()
        return int(count)

    def drain(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            with self._wake:
                self._wake.wait(0.02)
        return True

    # --- the consumer side -------------------------------------------------------------------

    def take(self, owner: str) -> Taken | None:
        """Lease the event ready longest to ``owner``, or ``None`` when none is ready."""
        with wrapped(_BACKEND), self.engine.begin() as connection:
            row = connection.execute(self.take_statement(owner)).first()
        if row is None:
            return None
        event = QueuedEvent(row.path, row.uuid, row.body.encode("utf-8"))
        return Taken(row.id, event, row.attempts, owner)

    def take_statement(self, owner: str) -> Any:
        """The one statement of :meth:`take`: lease the next ready event, returning it.

        It walks the ``_ready`` index in the order events are taken, so its cost does not
        grow with the number of waiting events.
        """
        from sqlalchemy import and_, or_, select, update

        t, now = self.table, self.clock()
        ready = and_(
            t.c.status == QUEUED,
            t.c.available_at <= now,
            or_(t.c.lease_until.is_(None), t.c.lease_until < now),
        )
        # A scalar subquery runs once: ``IN (...)`` may be re-run per row by PostgreSQL's
        # planner and then lease more rows than the one returned.
        oldest = (
            select(t.c.id)
            .where(ready)
            .order_by(t.c.available_at, t.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        return (
            update(t)
            .where(t.c.id == oldest, ready)
            .values(lease_owner=owner, lease_until=now + self.lease, attempts=t.c.attempts + 1)
            .returning(t.c.id, t.c.path, t.c.uuid, t.c.body, t.c.attempts)
        )

    def renew(self, taken: Taken) -> bool:
        """Extend the lease of an event still being handled by ``lease`` seconds from now;
        ``False`` when ``taken.owner`` no longer holds it."""
        t = self.table
        with wrapped(_BACKEND), self.engine.begin() as connection:
            renewed = connection.execute(
                t.update()
                .where(t.c.id == taken.id, t.c.lease_owner == taken.owner, t.c.status == QUEUED)
                .values(lease_until=self.clock() + self.lease)
            )
        return int(renewed.rowcount) == 1

    def done(self, taken: Taken) -> None:
        """The handler returned: the event is kept as done, so a redelivery is skipped."""
        t = self.table
        values = {"status": DONE, "lease_owner": None, "lease_until": None}
        with wrapped(_BACKEND), self.engine.begin() as connection:
            connection.execute(
                t.update()
                .where(t.c.id == taken.id, t.c.lease_owner == taken.owner)
                .values(finished_at=self.clock(), **values)
            )

    def fail(self, taken: Taken, error: str) -> bool:
        """The handler raised: retry later, or park the event; ``True`` when parked."""
        t = self.table
        parked = taken.attempts >= self.attempts
        delay = min(self.retry_delay * 2 ** (taken.attempts - 1), MAX_RETRY_DELAY)
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "error": error[:128]}
        if parked:
            values["status"] = FAILED
        else:
            values["available_at"] = self.clock() + delay
        with wrapped(_BACKEND), self.engine.begin() as connection:
            connection.execute(
                t.update().where(t.c.id == taken.id, t.c.lease_owner == taken.owner).values(values)
            )
        return parked

    def release(self, taken: Taken) -> None:
        """Give an event back unhandled (a stopping consumer): ready again at once."""
        t = self.table
        with wrapped(_BACKEND), self.engine.begin() as connection:
            connection.execute(
                t.update()
                .where(t.c.id == taken.id, t.c.lease_owner == taken.owner)
                .values(lease_owner=None, lease_until=None, attempts=t.c.attempts - 1)
            )

    def park_expired(self) -> int:
        """Park events whose every attempt ended with a lost lease (their consumer died),
        and forget the events handled more than ``keep`` seconds ago."""
        t = self.table
        with wrapped(_BACKEND), self.engine.begin() as connection:
            connection.execute(
                t.delete().where(t.c.status == DONE, t.c.finished_at < self.clock() - self.keep)
            )
            parked = connection.execute(
                t.update()
                .where(
                    t.c.status == QUEUED,
                    t.c.attempts >= self.attempts,
                    t.c.lease_until < self.clock(),
                )
                .values(status=FAILED, lease_owner=None, lease_until=None, error="lease expired")
            )
        return int(parked.rowcount)

    def wait(self, timeout: float = POLL_INTERVAL) -> None:
        """Sleep until this process puts an event, or ``timeout`` passes."""
        with self._wake:
            self._wake.wait(timeout)

    # --- operators ---------------------------------------------------------------------------

    def failed(self, limit: int = 100) -> list[ParkedEvent]:
        """The parked events, oldest first."""
        from sqlalchemy import select

        t = self.table
        query = select(t.c.id, t.c.path, t.c.uuid, t.c.attempts, t.c.error, t.c.body)
        query = query.where(t.c.status == FAILED).order_by(t.c.id).limit(limit)
        with wrapped(_BACKEND), self.engine.connect() as connection:
            return [ParkedEvent(*row) for row in connection.execute(query)]

    def retry(self, ids: Sequence[int] = ()) -> int:
        """Queue parked events again (those in ``ids``, or all); returns how many."""
        t = self.table
        where = [t.c.status == FAILED]
        if ids:
            where.append(t.c.id.in_(list(ids)))
        values = {"status": QUEUED, "attempts": 0, "available_at": self.clock(), "error": None}
        with wrapped(_BACKEND), self.engine.begin() as connection:
            count = connection.execute(t.update().where(*where).values(values)).rowcount
        with self._wake:
            self._wake.notify_all()
        return int(count)

    # --- consumer threads in the web process -------------------------------------------------

    def close(self) -> None:
        """Stop this process's consumer threads (after their event) and close connections."""
        if self.consumer_threads is not None:
            self.consumer_threads.stop()
        self.engine.dispose()

    def start(self, handle: Handle, give_up: Handle, threads: int) -> None:
        """Run ``threads`` consumer threads here once the process serves hook calls
        (:meth:`serve_here`); a parked event keeps its claim."""
        self._consumers = (handle, threads)

    def serve_here(self) -> None:
        """Start the consumer threads :meth:`start` asked for: the process serves calls."""
        from .consumer import start_threads

        if self._consumers is not None:
            start_threads(self, *self._consumers)
            self._consumers = None
