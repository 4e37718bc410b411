"""What the hook handlers share within one app: the database and the services built on it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .audit_writer import AuditWriter
from .db import Database
from .password_check import LegacyPasswords
from .settings import Settings
from .telephony import TelephonyProvider

EXTENSION_KEY = "example_app"


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    audit: AuditWriter
    """Writes the audit rows of this process."""
    passwords: LegacyPasswords
    telephony: TelephonyProvider
    secret_generated: bool | None = None
    """Whether the hook secret was generated now (``None``: it is configured)."""


def services() -> Services:
    """The services of the current app."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
