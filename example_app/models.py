"""The tables: the legacy directory being moved to Okta, and what the hooks record.

Logins, emails and domains are stored lower-case, so lookups compare exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every table of the example service."""


class UserStatus(StrEnum):
    """Account states in the legacy system."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DEPROVISIONED = "DEPROVISIONED"


user_roles = Table(
    "legacy_user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("legacy_users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class LegacyUser(Base):
    """An account of the legacy system, with its password hash until it moves to Okta."""

    __tablename__ = "legacy_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(320), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    employee_number: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, native_enum=False, length=16), default=UserStatus.ACTIVE
    )
    migrated: Mapped[bool] = mapped_column(default=False)
    """Whether Okta took over the password (a password import answered VERIFIED)."""
    migrated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    okta_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The Okta user this account became, learned when the user signs in through Okta."""
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    @property
    def active(self) -> bool:
        return self.status is UserStatus.ACTIVE


class Role(Base):
    """A job role; it grants entitlements to the users who hold it."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    entitlements: Mapped[list[Entitlement]] = relationship(
        back_populates="role", lazy="selectin", cascade="all, delete-orphan"
    )


class Entitlement(Base):
    """A permission in a downstream application, granted through a role."""

    __tablename__ = "entitlements"
    __table_args__ = (UniqueConstraint("role_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = relationship(back_populates="entitlements")


class RegistrationDomain(Base):
    """An email domain whose owners may sign up on their own."""

    __tablename__ = "registration_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    organization: Mapped[str] = mapped_column(String(100))


class ClientTokenPolicy(Base):
    """Token lifetimes for one OAuth client (``*``: every client without its own row).

    A lifetime of ``None`` leaves the authorization server's lifetime unchanged.
    """

    __tablename__ = "client_token_policies"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    access_token_lifetime: Mapped[int | None]
    id_token_lifetime: Mapped[int | None]


class OutboxMessage(Base):
    """A one-time-code message waiting for the company's own SMS/voice relay.

    It holds the code, as any outbox of messages to deliver must; rows expire with the
    code (``expires_at``) and nothing else in the service keeps it.
    """

    __tablename__ = "telephony_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    phone_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(String(1000))
    locale: Mapped[str | None] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReceivedEvent(Base):
    """An Okta event-hook event (a System Log event), kept for later processing.

    ``uuid`` is unique: an event Okta delivers twice is stored once, whichever worker
    receives it. ``processed_at`` is set for events the service acted on when they came
    (``user.import.password``); the others wait for whatever processes them later.
    """

    __tablename__ = "received_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(200))
    published: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordCleanup(Base):
    """A legacy password hash that may now be deleted: Okta reported importing the password.

    Okta's guidance is to delete a password from the old store only once the System Log
    event ``user.import.password`` shows ``SUCCESS`` for the user; a VERIFIED answer
    alone does not prove Okta stored it. Kept in its own table so that databases created
    before it gain it with ``create_tables``.
    """

    __tablename__ = "password_cleanups"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("legacy_users.id", ondelete="CASCADE"), primary_key=True
    )
    event_uuid: Mapped[str] = mapped_column(String(64))
    """The ``user.import.password`` event that confirmed the import."""
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When Okta published that event."""
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HookCall(Base):
    """One call to a hook endpoint: what it was and how it ended, never what it carried."""

    __tablename__ = "hook_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    hook: Mapped[str] = mapped_column(String(32), index=True)
    event_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
