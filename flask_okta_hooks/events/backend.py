"""What every event backend shares: the library's one error, lazy drivers, URL schemes.

A backend (an intake or a de-duplication store) is named by one configuration value, the
way ``limits`` names its storage: ``"memory"``, a ``redis://`` URL or a SQLAlchemy
database URL (``sqlite:///events.db``, ``postgresql+psycopg://host/db``). Drivers are
optional extras, imported only when a value names them, so ``import flask_okta_hooks``
never needs one. Whatever a driver raises reaches callers as :class:`BackendError`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

T = TypeVar("T")

#: Schemes of Redis URLs (redis-py's own).
REDIS_SCHEMES = ("redis", "rediss", "unix")


class BackendError(Exception):
    """An event backend's database or server failed; the driver's error is the cause.

    The message names the backend and the driver's exception type only: a driver's
    message can quote a URL with its password, or the data being written.
    """


@contextmanager
def wrapped(backend: str) -> Iterator[None]:
    """Turn any driver exception raised inside into a :class:`BackendError`."""
    try:
        yield
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"{backend} failed: {type(exc).__name__}") from exc


def scheme(value: str) -> str:
    """The URL scheme of ``value`` without its driver (``postgresql+psycopg``: ``postgresql``)."""
    head, sep, _ = value.partition("://")
    return head.split("+", 1)[0].lower() if sep else ""


def require(module: str, extra: str, key: str) -> ModuleType:
    """Import an optional driver, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigurationError(
            f"{key} needs the {module!r} package: pip install 'flask-okta-hooks[{extra}]'"
        ) from None


def sql_engine(url: str, key: str) -> Engine:
    """A SQLAlchemy engine for ``url``, made for several threads and processes at once.

    SQLite gets a busy timeout (writers queue instead of failing) and write-ahead logging
    (readers do not block the writer).
    """
    require("sqlalchemy", "sql", key)
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(
            f"{key} is not a usable SQLAlchemy database URL ({type(exc).__name__}); "
            f"e.g. 'sqlite:///events.db' or 'postgresql+psycopg://user@host/db'"
        ) from None


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def resolve(
    key: str,
    value: str,
    *,
    memory: Callable[[], T],
    redis: Callable[[str], T] | None,
    sql: Callable[[str], T],
) -> T:
    """Make the backend ``value`` names: ``"memory"``, a Redis URL or a SQLAlchemy URL."""
    if value == "memory":
        return memory()
    kind = scheme(value)
    if not kind:
        raise ConfigurationError(
            f"{key} must be 'memory' or a URL such as 'sqlite:///events.db', "
            f"'postgresql+psycopg://host/db'{' or redis://host:6379/0' if redis else ''}"
        )
    if kind in REDIS_SCHEMES:
        if redis is None:
            raise ConfigurationError(f"{key} cannot be a Redis URL")
        return redis(value)
    return sql(value)
