"""``flask --app example_app ...`` commands: create the schema, add demo data or accounts,
read the audit."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.engine import make_url

from .models import HookCall
from .passwords import Scheme, UnusablePassword, hash_password
from .seed import add_user, seed
from .services import services

DEVELOPMENT_ONLY = "development only: never seed a production database"


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the tables that are missing; adds no data (safe to repeat)."""
    db = services().db
    created = db.create_tables()
    where = make_url(db.url).render_as_string(hide_password=True)
    click.echo(f"Tables created in {where}." if created else f"Tables present in {where}.")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Add Example Corp's demo accounts, roles and domains (development only; safe to repeat)."""
    db = services().db
    db.create_tables()
    added = seed(db)
    click.echo(f"Demo data {'added' if added else 'already present'} ({DEVELOPMENT_ONLY}).")


def prepare_for_development(app: Flask) -> str:
    """Create the schema and demo data for the development server; says what it did."""
    with app.app_context():
        db = services().db
        created = db.create_tables()
        added = seed(db)
    if created:
        return "schema created and demo data added now"
    return "demo data added now" if added else "demo data present"


@click.command("add-user")
@with_appcontext
@click.argument("login")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The legacy password (prompted for when left out, which keeps it out of shell history).",
)
@click.option(
    "--scheme",
    type=click.Choice([scheme.value for scheme in Scheme]),
    default=None,
    help="Legacy hash format (default: PASSWORD_SCHEME, bcrypt).",
)
@click.option("--email", default=None, help="Email address (default: the login).")
@click.option("--first-name", default="", help="Given name.")
@click.option("--last-name", default="", help="Family name.")
@click.option("--department", default=None, help="Department, e.g. Engineering.")
@click.option(
    "--role", "roles", multiple=True, default=("employee",), show_default=True, help="Role name."
)
def add_user_command(
    login: str,
    password: str,
    scheme: str | None,
    email: str | None,
    first_name: str,
    last_name: str,
    department: str | None,
    roles: tuple[str, ...],
) -> None:
    """Add a legacy account LOGIN with a password hash, or reset an existing one's.

    Okta's password import hook can then move the account: sign in to Okta as LOGIN
    with that password.
    """
    found = services()
    chosen = Scheme(scheme) if scheme else found.settings.password_scheme
    try:
        password_hash = hash_password(password, chosen, found.settings.hash_costs)
    except UnusablePassword as exc:
        raise click.BadParameter(str(exc), param_hint="--password") from None
    with found.db.session() as session:
        try:
            user = add_user(
                session,
                login,
                password_hash,
                email=email,
                first_name=first_name,
                last_name=last_name,
                department=department,
                roles=roles,
            )
        except LookupError as exc:
            raise click.BadParameter(str(exc), param_hint="--role") from None
        click.echo(f"Legacy account {user.login} now has a password hashed with {chosen.value}.")


@click.command("audit")
@with_appcontext
@click.option("--limit", default=20, show_default=True, help="How many calls to show.")
def audit_command(limit: int) -> None:
    """Show the most recent hook calls (type, eventId, outcome, status, latency)."""
    found = services()
    found.audit.flush()  # rows this process recorded (none in a fresh process)
    with found.db.session() as session:
        calls = session.scalars(select(HookCall).order_by(HookCall.id.desc()).limit(limit)).all()
    click.echo(
        f"{'time (UTC)':<19}  {'hook':<16} {'status'}  {'outcome':<28} {'latency':>11}  eventId"
    )
    for call in reversed(calls):
        click.echo(
            f"{call.created_at:%Y-%m-%d %H:%M:%S}  {call.hook:<16} {call.status:<6}  "
            f"{call.outcome:<28} {call.latency_ms:8.1f} ms  {call.event_id or '-'}"
        )


def register(app: Flask) -> None:
    for command in (init_db_command, seed_command, add_user_command, audit_command):
        app.cli.add_command(command)
