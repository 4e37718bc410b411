"""Example Corp's Okta hook service: moving users off a legacy directory into Okta.

For development, ``python -m example_app`` (or ``flask --app example_app run``) creates
a SQLite database in the instance folder with demo data and prints the hook URLs and
where the secret to configure in Okta is kept. In production the schema is created once
with ``flask --app example_app init-db``, and demo data is never added.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import audit, banner, cli
from .admission import Admission
from .audit_writer import AuditWriter
from .db import Database, in_memory
from .hook_secret import instance_secret
from .hooks import hooks as okta_hooks
from .logs import configure_logging
from .password_check import LegacyPasswords
from .services import EXTENSION_KEY, Services
from .settings import SettingsError, load_settings
from .telephony import OutboxProvider, TelephonyProvider

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

DATABASE_FILE = "example_app.sqlite3"


def create_app(
    config: Mapping[str, Any] | None = None, *, development_server: bool = False
) -> Flask:
    """Build the service: configuration from ``FLASK_*`` variables, then ``config``.

    ``INSTANCE_PATH`` (or ``FLASK_INSTANCE_PATH``) moves the instance folder, which holds
    the default SQLite database and the generated hook secret. A database without the
    schema is logged as a warning, except for ``development_server`` (``python -m
    example_app``), which creates it next.

    Example::

        app = create_app({"DATABASE_URL": "postgresql+psycopg://hooks@db/hooks"})
    """
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("FLASK_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    app.config.from_prefixed_env()
    if config:
        app.config.update(config)
    settings = load_settings(app.config)
    _configure_deadline(app, settings.hook_deadline)
    secret_generated = _configure_secret(app)

    configure_logging()
    url = settings.database_url or _default_database_url(app)
    db = Database(url)

    telephony = settings.telephony_provider or OutboxProvider(db)
    if not isinstance(telephony, TelephonyProvider):
        raise SettingsError("TELEPHONY_PROVIDER must have a name and a send(message) method")
    app.extensions[EXTENSION_KEY] = found = Services(
        settings=settings,
        db=db,
        audit=AuditWriter(db),
        passwords=LegacyPasswords(
            db, Admission(settings.verify_slots), settings.password_scheme, settings.hash_costs
        ),
        telephony=telephony,
        secret_generated=secret_generated,
    )

    app.config.setdefault("OKTA_HOOKS_EVENTS_INTAKE", events_intake(url))
    audit.install(app, found.audit.submit)
    app.register_blueprint(okta_hooks)
    cli.register(app)
    banner.show_when_serving(app)
    if not development_server and not db.has_tables():
        logger.warning(
            "the database has no tables yet: run 'flask --app example_app init-db' before "
            "serving (the development server creates them itself)"
        )
    return app


def _configure_deadline(app: Flask, deadline: float) -> None:
    """Give the library ``HOOK_DEADLINE``: it holds every call to it, and tells handlers
    the time left (``call.time_left()``), so there is one deadline, not two."""
    configured = app.config.get("OKTA_HOOKS_DEADLINE")
    if configured is not None and configured != deadline:
        raise SettingsError(
            f"OKTA_HOOKS_DEADLINE ({configured!r}) differs from HOOK_DEADLINE ({deadline}); "
            "set HOOK_DEADLINE only"
        )
    app.config["OKTA_HOOKS_DEADLINE"] = deadline


def _configure_secret(app: Flask) -> bool | None:
    """Use the instance folder's secret unless one is configured.

    Returns whether it was generated now, or ``None`` when the configuration holds one.
    """
    if app.config.get("OKTA_HOOKS_SECRETS") or app.config.get("OKTA_HOOKS_AUTH") == "none":
        return None
    secret, generated = instance_secret(app.instance_path)
    app.config["OKTA_HOOKS_SECRETS"] = [secret]
    return generated


def events_intake(database_url: str) -> str:
    """Where Okta's events wait for their handlers: a table of the service's own database.

    Each event is committed there before Okta gets its 204, so a worker that dies loses
    none, and the table's unique ``(endpoint, uuid)`` keeps a redelivered event once for
    every worker and host. An in-memory SQLite database lives only as long as this
    process, and another engine could not see it: its events stay in memory too.
    """
    return "memory" if in_memory(database_url) else database_url


def _default_database_url(app: Flask) -> str:
    folder = Path(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / DATABASE_FILE}"
