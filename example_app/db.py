"""The database connection: one engine per app, short sessions, bounded waits.

Every hook must answer within Okta's 3 s, so no database wait may be open-ended: SQLite
gives up on a lock after :data:`LOCK_TIMEOUT` seconds, PostgreSQL after as long on a
connection or a statement, and the pool after as long for a free connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import Executable

from .models import Base

LOCK_TIMEOUT = 1.0


def in_memory(url: str) -> bool:
    """Whether ``url`` names an in-memory SQLite database (it lives as long as its engine)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def engine_options(url: str) -> dict[str, Any]:
    """Engine arguments that keep every database wait short, per backend."""
    parsed = make_url(url)
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": LOCK_TIMEOUT, "check_same_thread": False}
        if in_memory(url):
            # One shared connection, or every thread would see its own empty database.
            options["poolclass"] = StaticPool
        else:
            options["pool_timeout"] = LOCK_TIMEOUT
    elif parsed.get_backend_name() == "postgresql":
        millis = int(LOCK_TIMEOUT * 1000)
        options["pool_timeout"] = LOCK_TIMEOUT
        # A connection the server dropped (a restart) is replaced before use, not failed on.
        options["pool_pre_ping"] = True
        # Connections beyond pool_size are closed when returned, and opening one costs
        # more than a call's queries: keep enough open for a busy worker's threads
        # (4 workers x 20 stay within PostgreSQL's default 100 connections).
        options["pool_size"] = 12
        options["max_overflow"] = 8
        if parsed.get_driver_name() in ("psycopg", "psycopg2"):
            options["connect_args"] = {
                "connect_timeout": 2,
                "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
            }
    return options


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets gunicorn's workers read while one of them writes the audit.
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL never corrupts; it only skips the fsync of every commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """The engine and session factory of one app."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and not in_memory(url):
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, **engine_options(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection for reads, each statement its own transaction.

        No ``BEGIN`` and ``COMMIT`` around a few ``SELECT``s: on PostgreSQL that is two
        round trips fewer per call.
        """
        with self._autocommit.connect() as connection:
            yield connection

    def write(self, statement: Executable, parameters: dict[str, Any] | None = None) -> None:
        """Run one writing statement as a transaction of its own.

        SQLite then holds its single write lock only while the statement runs, inside
        one call into SQLite with the GIL released, instead of from an ``INSERT`` to a
        ``COMMIT`` that a busy process may take a while to get the GIL back for.
        """
        with self._autocommit.connect() as connection:
            connection.execute(statement, parameters)

    def has_tables(self) -> bool:
        """Whether the schema was created (``init-db``)."""
        return inspect(self.engine).has_table("hook_calls")

    def create_tables(self) -> bool:
        """Create the missing tables; ``True`` when the database had none of ours yet."""
        fresh = not self.has_tables()
        try:
            Base.metadata.create_all(self.engine)
        except OperationalError:
            # Another worker created them between our check and our CREATE TABLE.
            Base.metadata.create_all(self.engine)
        return fresh

    def dispose(self) -> None:
        self.engine.dispose()
