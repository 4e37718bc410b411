"""Reading and updating the legacy directory: users, their roles, and what Okta learns of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import ClientTokenPolicy, LegacyUser, PasswordCleanup, RegistrationDomain, utcnow

#: The policy row that applies to clients without one of their own.
ANY_CLIENT = "*"


def normalise_login(name: str) -> str:
    """Logins and emails compare case-insensitively and without surrounding spaces."""
    return name.strip().lower()


def find_user(session: Session, name: str | None) -> LegacyUser | None:
    """The legacy account whose login, or else whose email, is ``name``."""
    if not name:
        return None
    name = normalise_login(name)
    user = session.scalar(select(LegacyUser).where(LegacyUser.login == name))
    if user is None:
        user = find_user_by_email(session, name)
    return user


def find_user_by_email(session: Session, email: str | None) -> LegacyUser | None:
    if not email:
        return None
    return session.scalar(
        select(LegacyUser)
        .where(LegacyUser.email == normalise_login(email))
        .order_by(LegacyUser.id)
        .limit(1)
    )


@dataclass(frozen=True)
class Grants:
    """What the company's data says about a user, as tokens and assertions carry it."""

    department: str | None
    roles: tuple[str, ...]
    entitlements: tuple[str, ...]
    employee_number: str | None = None


def grants_of(user: LegacyUser) -> Grants:
    """The user's department, roles and entitlements; inactive accounts get no roles."""
    roles = sorted(user.roles, key=lambda role: role.name) if user.active else []
    entitlements = sorted({e.name for role in roles for e in role.entitlements})
    return Grants(
        department=user.department,
        roles=tuple(role.name for role in roles),
        entitlements=tuple(entitlements),
        employee_number=user.employee_number,
    )


def remember_okta_id(session: Session, user: LegacyUser, okta_user_id: str | None) -> None:
    """Record which Okta user the account became, once, so later imports can link to it.

    Conditional on the column still being empty and the id being unused, so concurrent
    calls and a second account claiming the same Okta user change nothing.
    """
    if not okta_user_id or user.okta_user_id is not None:
        return
    taken = session.scalar(
        select(func.count()).select_from(LegacyUser).where(LegacyUser.okta_user_id == okta_user_id)
    )
    if taken:
        return
    session.execute(
        update(LegacyUser)
        .where(LegacyUser.id == user.id, LegacyUser.okta_user_id.is_(None))
        .values(okta_user_id=okta_user_id)
    )


def mark_migrated(session: Session, user_id: int) -> None:
    """Okta holds the password now; the legacy hash may go once Okta reports success."""
    session.execute(
        update(LegacyUser)
        .where(LegacyUser.id == user_id, LegacyUser.migrated.is_(False))
        .values(migrated=True, migrated_at=utcnow())
    )


def find_okta_user(
    session: Session, okta_user_id: str | None, login: str | None
) -> LegacyUser | None:
    """The legacy account that became Okta user ``okta_user_id``, else the one named ``login``."""
    if okta_user_id:
        user = session.scalar(select(LegacyUser).where(LegacyUser.okta_user_id == okta_user_id))
        if user is not None:
            return user
    user = find_user(session, login)
    if user is not None:
        remember_okta_id(session, user, okta_user_id)
    return user


def confirm_password_import(
    session: Session, user: LegacyUser, event_uuid: str, confirmed_at: datetime | None
) -> None:
    """Record that Okta stored the user's password, so the legacy hash may be deleted.

    The first confirmation is kept; a new legacy password (``add-user``) clears it.
    """
    if session.get(PasswordCleanup, user.id) is None:
        session.add(
            PasswordCleanup(user_id=user.id, event_uuid=event_uuid, confirmed_at=confirmed_at)
        )


def token_policy(session: Session, client_id: str | None) -> ClientTokenPolicy | None:
    """The lifetime policy of ``client_id``, or the one for every client."""
    if client_id:
        policy = session.get(ClientTokenPolicy, client_id)
        if policy is not None:
            return policy
    return session.get(ClientTokenPolicy, ANY_CLIENT)


def email_domain(email: str | None) -> str | None:
    """The lower-case domain of an email address, or ``None`` when it has none."""
    if not email or email.count("@") != 1:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return domain or None


def registration_domain(session: Session, email: str | None) -> RegistrationDomain | None:
    """The allowed-domain row matching the email's domain exactly (no subdomains)."""
    domain = email_domain(email)
    return session.get(RegistrationDomain, domain) if domain else None
