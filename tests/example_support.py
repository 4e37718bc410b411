"""Helpers for the example service's tests: an app on a temporary database, cheap hashes.

Hash costs are the lowest the formats allow, so the password tests hash for real and
still run in milliseconds. The main flows run on SQLite and on PostgreSQL: an ``app``
fixture built with :func:`app_on` takes the database as its parameter
(:data:`DATABASES`), a fresh PostgreSQL database per test.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from example_app import create_app
from example_app.models import HookCall, LegacyUser
from example_app.passwords import HashCosts, Scheme, hash_password
from example_app.seed import seed
from example_app.services import services
from flask_okta_hooks.config import EXTENSION_KEY

from .conftest import SECRET, post_json, sample

FAST_COSTS = HashCosts(
    bcrypt_rounds=4, argon2_time_cost=1, argon2_memory_kib=8, pbkdf2_iterations=1_000
)
FAST_CONFIG: dict[str, Any] = {
    "PASSWORD_BCRYPT_ROUNDS": FAST_COSTS.bcrypt_rounds,
    "PASSWORD_ARGON2_TIME_COST": FAST_COSTS.argon2_time_cost,
    "PASSWORD_ARGON2_MEMORY_KIB": FAST_COSTS.argon2_memory_kib,
    "PASSWORD_PBKDF2_ITERATIONS": FAST_COSTS.pbkdf2_iterations,
    # A failed event handler runs again at once, not after the default 2 s.
    "OKTA_HOOKS_EVENTS_RETRY_DELAY": 0.05,
}

#: The ``app`` fixture's parameter: the database the example runs on.
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
#: Runs a test on each of :data:`DATABASES` (for modules whose ``app`` uses :func:`app_on`).
on_each_database = pytest.mark.parametrize("app", DATABASES, indirect=True)

#: Seeded accounts (see example_app.seed).
ISAAC = "isaac.brock@example.com"
ERIN = "erin.ortiz@example.com"
SALLY = "sally.admin@example.com"
VICTOR = "victor.hale@example.com"


#: Apps made by the running test, closed after it by :func:`close_apps`.
_OPEN: list[Flask] = []


@pytest.fixture(autouse=True)
def close_apps() -> Iterator[None]:
    """Close the apps the test made: their event consumer threads poll the database until
    then. Imported by each module of the example's tests."""
    yield
    while _OPEN:
        close(_OPEN.pop())


def closed_after_test(app: Flask) -> Flask:
    """``app``, closed after the running test (see :func:`close_apps`)."""
    _OPEN.append(app)
    return app


def make_app(tmp_path: Path, *, seeded: bool = True, **config: Any) -> Flask:
    """The service on a SQLite file in ``tmp_path`` with the tests' secret; with its schema
    and demo data unless ``seeded`` is false (then the database is left as it is).

    Closed after the test (:func:`close_apps`); close one on a PostgreSQL database of
    ``postgres_url`` yourself (:func:`close`), before that fixture drops the database."""
    settings: dict[str, Any] = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'example.sqlite3'}",
        "OKTA_HOOKS_SECRETS": [SECRET],
        **FAST_CONFIG,
    }
    settings.update(config)
    app = closed_after_test(create_app(settings))
    if seeded:
        with app.app_context():
            services().db.create_tables()
            seed(services().db)
    return app


def app_on(request: pytest.FixtureRequest, tmp_path: Path, **config: Any) -> Iterator[Flask]:
    """For an ``app`` fixture: the service on the database its parameter names (SQLite
    unless parametrised), closed after the test."""
    config.setdefault("DATABASE_URL", database_url(request, tmp_path))
    app = make_app(tmp_path, **config)
    try:
        yield app
    finally:
        close(app)


def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new database of the kind the fixture's parameter names (SQLite unless
    parametrised); a PostgreSQL one is dropped after the test."""
    if getattr(request, "param", "sqlite") == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'example.sqlite3'}"


def close(app: Flask) -> None:
    """Stop the app's event consumers, write out its audit and close its connections."""
    for state in app.extensions.get(EXTENSION_KEY, {}).values():
        intake = getattr(state.events, "intake", None)
        if intake is not None and hasattr(intake, "close"):
            intake.close()
    with app.app_context():
        found = services()
    if found.db.engine.dialect.name != "sqlite":
        # Its rows must be written before the test's database is dropped; a SQLite file
        # stays, and its writer thread ends on its own.
        found.audit.close()
    found.db.dispose()


def call_hook(client: FlaskClient, hook: str, payload: Any, **headers: str) -> TestResponse:
    """POST ``payload`` to ``/okta/hooks/<hook>`` with the auth header Okta would send."""
    return post_json(client, f"/{hook}", payload, **headers)


def adapted(name: str) -> dict[str, Any]:
    """A deep copy of one of Okta's samples, to adapt to the seeded accounts."""
    payload: dict[str, Any] = copy.deepcopy(sample(name))
    return payload


def set_password(
    app: Flask, login: str, password: str | bytes, scheme: Scheme = Scheme.BCRYPT
) -> str:
    """Give a seeded account a real legacy hash of ``password``; returns the hash."""
    stored = hash_password(password, scheme, FAST_COSTS)
    set_hash(app, login, stored)
    return stored


def set_hash(app: Flask, login: str, stored: str | None) -> None:
    with app.app_context(), services().db.session() as session:
        user = session.scalars(select(LegacyUser).where(LegacyUser.login == login)).one()
        user.password_hash = stored


def legacy_user(app: Flask, login: str) -> LegacyUser:
    with app.app_context(), services().db.session() as session:
        return session.scalars(select(LegacyUser).where(LegacyUser.login == login)).one()


def audit_rows(app: Flask) -> list[HookCall]:
    """The audit as written, once the writer has written what was queued."""
    with app.app_context():
        assert services().audit.flush(timeout=10)
    with app.app_context(), services().db.session() as session:
        return list(session.scalars(select(HookCall).order_by(HookCall.id)))
