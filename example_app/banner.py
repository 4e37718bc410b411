"""What a person starting the service needs to configure Okta: URLs, header, secret.

Shown by ``python -m example_app`` and ``flask --app example_app run`` only, never under
gunicorn or other commands: production logs are no place for a secret.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from sqlalchemy.engine import make_url

from .hook_secret import SECRET_FILE
from .hooks import hooks
from .services import services


def show_when_serving(app: Flask) -> None:
    """Print the banner when ``flask run`` is loading the app."""
    context = click.get_current_context(silent=True)
    if context is None or context.command.name != "run":
        return
    host = context.params.get("host") or "127.0.0.1"
    port = context.params.get("port") or 5000
    scheme = "https" if context.params.get("cert") else "http"
    base = f"{scheme}://{host}:{port}"
    click.echo(render(app, base), err=True)


def render(app: Flask, local_url: str) -> str:
    """The banner text for a server listening at ``local_url``."""
    with app.app_context():
        found = services()
    settings = found.settings
    database = make_url(found.db.url).render_as_string(hide_password=True)
    database_created, secret_generated = found.database_created, found.secret_generated
    public = (settings.public_url or "").rstrip("/")
    lines = [
        "Example Corp Okta hook service",
        f"  database: {database}" + ("  (created and seeded now)" if database_created else ""),
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
            f"  Okta's 'Authentication secret': {secret}",
            f"    ({how} and kept in {where}; set FLASK_OKTA_HOOKS_SECRETS to use your own)",
        ]
    lines += [
        "",
        "  Give a legacy account a password to try the password import:",
        "    flask --app example_app add-user isaac.brock@example.com --scheme bcrypt",
        "  Recent hook calls: flask --app example_app audit",
    ]
    return "\n".join(lines) + "\n"
