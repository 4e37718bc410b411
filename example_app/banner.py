"""What a person starting the service needs to configure Okta: URLs, header, secret.

Shown by ``python -m example_app`` and ``flask --app example_app run`` only, never under
gunicorn or other commands. The secret itself is not printed (terminals are recorded and
shared): the banner says which file holds it.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.engine import make_url

from .cli import prepare_for_development
from .hook_secret import SECRET_FILE
from .hooks import hooks
from .services import services


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port``."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError:
        return True
    return False


def port_taken_message(host: str, port: int) -> str:
    return (
        f"Port {port} on {host} is in use (on macOS, AirPlay Receiver takes 5000). "
        f"Choose another: make run PORT=5050, python -m example_app --port 5050 "
        f"or flask --app example_app run --port 5050."
    )


def flask_command() -> str:
    """How to run ``flask`` from here: the virtual environment's, as the README says."""
    script = Path(sys.executable).parent / "flask"
    if not script.is_file():
        return "flask"
    try:
        return os.path.relpath(script)
    except ValueError:  # another drive (Windows)
        return str(script)


def show_when_serving(app: Flask) -> None:
    """Prepare the development database and print the banner when ``flask run`` loads the app."""
    context = click.get_current_context(silent=True)
    if context is None or context.command.name != "run":
        return
    host = context.params.get("host") or "127.0.0.1"
    port = context.params.get("port") or 5000
    if port_taken(host, port):
        click.echo(port_taken_message(host, port), err=True)
        return
    scheme = "https" if context.params.get("cert") else "http"
    base = f"{scheme}://{host}:{port}"
    click.echo(render(app, base, prepare_for_development(app)), err=True)


def render(app: Flask, local_url: str, database_note: str | None = None) -> str:
    """The banner text for a server listening at ``local_url``; ``database_note`` says
    what the development start did to the database."""
    with app.app_context():
        found = services()
    settings = found.settings
    database = make_url(found.db.url).render_as_string(hide_password=True)
    secret_generated = found.secret_generated
    public = (settings.public_url or "").rstrip("/")
    flask = f"{flask_command()} --app example_app"
    lines = [
        "Example Corp Okta hook service (development server)",
        f"  database: {database}" + (f"  ({database_note})" if database_note else ""),
        "",
        "  Hook URLs (Okta only calls https:// URLs: put HTTPS in front of this server"
        + (")" if public else " and set FLASK_PUBLIC_URL to its address)"),
    ]
    prefix = (hooks.url_prefix or "").rstrip("/")
    for path, endpoint in sorted(hooks.endpoints.items()):
        lines.append(f"    {endpoint.hook_type.title:<32} {public or local_url}{prefix}{path}")
    header = app.config.get("OKTA_HOOKS_AUTH_HEADER", "Authorization")
    lines += ["", f"  Okta's 'Authentication field': {header}"]
    if secret_generated is None:
        lines.append("  Okta's 'Authentication secret': the value of FLASK_OKTA_HOOKS_SECRETS")
    else:
        (secret,) = app.config["OKTA_HOOKS_SECRETS"]
        where = Path(app.instance_path) / SECRET_FILE
        how = "generated now" if secret_generated else "generated on first run"
        lines += [
            f"  Okta's 'Authentication secret': {secret[:4]}... ({len(secret)} characters), "
            f"in {where}",
            f"    (show it with: cat {where}; {how}; set FLASK_OKTA_HOOKS_SECRETS to use your own)",
        ]
    lines += [
        "",
        "  Each hook call is logged below, one line per call.",
        "  Give a legacy account a password to try the password import:",
        f"    {flask} add-user isaac.brock@example.com --scheme bcrypt",
        f"  Recent hook calls: {flask} audit",
    ]
    return "\n".join(lines) + "\n"
