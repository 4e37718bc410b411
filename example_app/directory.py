"""Reading and updating the legacy directory: users, their roles, and what Okta learns of them.

The hooks Okta calls on every sign-in (token, SAML) and on every sign-up or import
(registration, user import) read with plain SQLAlchemy Core queries on one connection:
one round trip per question, rows into small frozen records, no ORM session to build and
tear down. That keeps their cost well under a millisecond of CPU, which matters at Okta's 75
concurrent calls. The password import and the event hook, which do more per call anyway,
use the ORM session.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from .db import Database
from .models import (
    ClientTokenPolicy,
    Entitlement,
    LegacyUser,
    PasswordCleanup,
    RegistrationDomain,
    Role,
    UserStatus,
    user_roles,
    utcnow,
)

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
class Account:
    """What the sign-in hooks read of a legacy account."""

    id: int
    login: str
    department: str | None
    employee_number: str | None
    okta_user_id: str | None
    active: bool


@dataclass(frozen=True)
class Grants:
    """What the company's data says about a user, as tokens and assertions carry it."""

    department: str | None
    roles: tuple[str, ...]
    entitlements: tuple[str, ...]
    employee_number: str | None = None


# The queries are built once, with bound parameters: building a statement costs more CPU
# than SQLite takes to run it.
_ACCOUNT = select(
    LegacyUser.id,
    LegacyUser.login,
    LegacyUser.department,
    LegacyUser.employee_number,
    LegacyUser.okta_user_id,
    LegacyUser.status,
)
_BY_LOGIN_OR_EMAIL = (
    _ACCOUNT.where(
        or_(LegacyUser.login == bindparam("name"), LegacyUser.email == bindparam("name"))
    )
    .order_by(case((LegacyUser.login == bindparam("name"), 0), else_=1), LegacyUser.id)
    .limit(1)
)
_BY_EMAIL = _ACCOUNT.where(LegacyUser.email == bindparam("email")).order_by(LegacyUser.id).limit(1)
_GRANTS = (
    select(Role.name, Entitlement.name)
    .join(user_roles, user_roles.c.role_id == Role.id)
    .outerjoin(Entitlement, Entitlement.role_id == Role.id)
    .where(user_roles.c.user_id == bindparam("user_id"))
)
_LIFETIMES = (
    select(ClientTokenPolicy.access_token_lifetime, ClientTokenPolicy.id_token_lifetime)
    .where(ClientTokenPolicy.client_id.in_([bindparam("client_id"), ANY_CLIENT]))
    .order_by(case((ClientTokenPolicy.client_id == ANY_CLIENT, 1), else_=0))
    .limit(1)
)
_ORGANIZATION = select(RegistrationDomain.organization).where(
    RegistrationDomain.domain == bindparam("domain")
)


def _account(row: Any) -> Account | None:
    """An :data:`_ACCOUNT` row as a record (``Any``: SQLAlchemy 2.0 and 2.1 type rows apart)."""
    if row is None:
        return None
    return Account(
        id=row.id,
        login=row.login,
        department=row.department,
        employee_number=row.employee_number,
        okta_user_id=row.okta_user_id,
        active=row.status == UserStatus.ACTIVE,
    )


def find_account(connection: Connection, name: str | None) -> Account | None:
    """The account whose login, or else whose email, is ``name``."""
    if not name:
        return None
    row = connection.execute(_BY_LOGIN_OR_EMAIL, {"name": normalise_login(name)}).first()
    return _account(row)


def find_account_by_email(connection: Connection, email: str | None) -> Account | None:
    """The oldest account with this email address."""
    if not email:
        return None
    return _account(connection.execute(_BY_EMAIL, {"email": normalise_login(email)}).first())


def grants(connection: Connection, account: Account) -> Grants:
    """The account's department, roles and entitlements; inactive accounts get no roles."""
    roles: set[str] = set()
    entitlements: set[str] = set()
    if account.active:
        for role, entitlement in connection.execute(_GRANTS, {"user_id": account.id}):
            roles.add(role)
            if entitlement is not None:
                entitlements.add(entitlement)
    return Grants(
        department=account.department,
        roles=tuple(sorted(roles)),
        entitlements=tuple(sorted(entitlements)),
        employee_number=account.employee_number,
    )


def link_okta_user(db: Database, account: Account, okta_user_id: str | None) -> None:
    """Record once which Okta user the account became, so later imports can link to it.

    A no-op (no query) once the account has its Okta user, so only a first sign-in
    writes. One conditional statement (the column still empty, the id unused), so a
    concurrent call that won the race changes nothing.
    """
    if not okta_user_id or account.okta_user_id is not None:
        return
    holder = aliased(LegacyUser)
    statement = (
        update(LegacyUser)
        .where(
            and_(LegacyUser.id == account.id, LegacyUser.okta_user_id.is_(None)),
            ~exists().where(holder.okta_user_id == okta_user_id),
        )
        .values(okta_user_id=okta_user_id)
    )
    # Another worker may have given the id to another account a moment ago: theirs stands.
    with contextlib.suppress(IntegrityError):
        db.write(statement)


def token_lifetimes(connection: Connection, client_id: str | None) -> tuple[int | None, int | None]:
    """Access and ID token lifetimes of ``client_id`` (else of every client), ``None`` each
    for "leave the authorization server's lifetime"."""
    row = connection.execute(_LIFETIMES, {"client_id": client_id or ANY_CLIENT}).first()
    return (row[0], row[1]) if row is not None else (None, None)


def registration_organization(connection: Connection, email: str | None) -> str | None:
    """The organization whose allowed domain is exactly the email's (no subdomains)."""
    domain = email_domain(email)
    if domain is None:
        return None
    organization: str | None = connection.scalar(_ORGANIZATION, {"domain": domain})
    return organization


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


def email_domain(email: str | None) -> str | None:
    """The lower-case domain of an email address, or ``None`` when it has none."""
    if not email or email.count("@") != 1:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return domain or None
