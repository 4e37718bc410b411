"""Demo data of Example Corp's legacy directory, and adding accounts by hand.

Seeded accounts have no password: a seed that shipped known passwords would let anyone
who read this file sign in to an Okta org that imports them. Give one a password with
``flask --app example_app add-user LOGIN --password ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import Database
from .directory import ANY_CLIENT, normalise_login
from .models import (
    ClientTokenPolicy,
    Entitlement,
    LegacyUser,
    PasswordCleanup,
    RegistrationDomain,
    Role,
    UserStatus,
)

ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "employee": ("Every member of staff", ("intranet:read", "expenses:submit")),
    "engineer": ("Builds and runs the products", ("git:write", "ci:run", "prod:read")),
    "finance": ("Books and payments", ("ledger:read", "ledger:write", "expenses:approve")),
    "it-admin": ("Runs the company's IT", ("console:admin", "prod:read")),
}


@dataclass(frozen=True)
class SeedUser:
    login: str
    first_name: str
    last_name: str
    department: str
    employee_number: str
    roles: tuple[str, ...]
    status: UserStatus = UserStatus.ACTIVE


USERS: tuple[SeedUser, ...] = (
    SeedUser(
        "isaac.brock@example.com", "Isaac", "Brock", "Engineering", "1001", ("employee", "engineer")
    ),
    SeedUser("erin.ortiz@example.com", "Erin", "Ortiz", "Finance", "1002", ("employee", "finance")),
    SeedUser("sally.admin@example.com", "Sally", "Admin", "IT", "1003", ("employee", "it-admin")),
    SeedUser(
        "victor.hale@example.com",
        "Victor",
        "Hale",
        "Sales",
        "1004",
        ("employee",),
        UserStatus.SUSPENDED,
    ),
)

DOMAINS = {"example.com": "Example Corp", "example.org": "Example Foundation"}

#: Access tokens live 30 minutes for every client unless a client has its own row.
TOKEN_POLICIES = {ANY_CLIENT: (1800, None)}


def seed(db: Database) -> bool:
    """Insert whatever demo data is missing; ``True`` when something was added.

    Safe to run again and from several processes at once: rows are looked up by their
    natural key first, and a concurrent insert that wins the race is left as it is.
    """
    try:
        with db.session() as session:
            return _seed(session)
    except IntegrityError:
        return False


def _seed(session: Session) -> bool:
    added = False
    roles = {role.name: role for role in session.scalars(select(Role))}
    for name, (description, entitlements) in ROLES.items():
        role = roles.get(name)
        if role is None:
            role = roles[name] = Role(name=name, description=description)
            session.add(role)
            added = True
        present = {e.name for e in role.entitlements}
        for entitlement in entitlements:
            if entitlement not in present:
                role.entitlements.append(Entitlement(name=entitlement))
                added = True
    for user in USERS:
        if session.scalar(select(LegacyUser.id).where(LegacyUser.login == user.login)) is None:
            session.add(
                LegacyUser(
                    login=user.login,
                    email=user.login,
                    first_name=user.first_name,
                    last_name=user.last_name,
                    department=user.department,
                    employee_number=user.employee_number,
                    status=user.status,
                    roles=[roles[name] for name in user.roles],
                )
            )
            added = True
    for domain, organization in DOMAINS.items():
        if session.get(RegistrationDomain, domain) is None:
            session.add(RegistrationDomain(domain=domain, organization=organization))
            added = True
    for client_id, (access, identity) in TOKEN_POLICIES.items():
        if session.get(ClientTokenPolicy, client_id) is None:
            session.add(
                ClientTokenPolicy(
                    client_id=client_id, access_token_lifetime=access, id_token_lifetime=identity
                )
            )
            added = True
    return added


def add_user(
    session: Session,
    login: str,
    password_hash: str | None,
    *,
    email: str | None = None,
    first_name: str = "",
    last_name: str = "",
    department: str | None = None,
    roles: Sequence[str] = ("employee",),
) -> LegacyUser:
    """Add a legacy account, or replace the password and details of an existing one.

    Raises :class:`LookupError` for a role that does not exist.
    """
    login = normalise_login(login)
    found = {role.name: role for role in session.scalars(select(Role).where(Role.name.in_(roles)))}
    missing = sorted(set(roles) - set(found))
    if missing:
        raise LookupError(f"unknown role(s): {', '.join(missing)} (run the seed command first?)")
    user = session.scalar(select(LegacyUser).where(LegacyUser.login == login))
    if user is None:
        user = LegacyUser(login=login, email=login, first_name="", last_name="")
        session.add(user)
    user.email = normalise_login(email) if email else login
    user.first_name = first_name or user.first_name
    user.last_name = last_name or user.last_name
    user.department = department or user.department
    user.password_hash = password_hash
    user.migrated = False
    user.migrated_at = None
    if user.id is not None:
        # A confirmation of an earlier import does not cover the new password.
        session.execute(delete(PasswordCleanup).where(PasswordCleanup.user_id == user.id))
    user.roles = [found[name] for name in roles]
    return user
