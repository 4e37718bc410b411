"""The example service as a whole: configuration, first run, CLI, banner, auth, audit."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from example_app import create_app
from example_app.__main__ import main as example_main
from example_app.banner import flask_command, render
from example_app.cli import prepare_for_development
from example_app.hook_secret import SECRET_FILE
from example_app.models import LegacyUser, Role
from example_app.services import services
from example_app.settings import OPTIONS, SettingsError

from .conftest import REQUEST_SAMPLE
from .example_support import (
    FAST_CONFIG,
    ISAAC,
    adapted,
    audit_rows,
    call_hook,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    closed_after_test,
    make_app,
)

ROOT = Path(__file__).resolve().parents[1]
HOOK_PATHS = ["token", "saml", "registration", "password-import", "user-import", "telephony"]


def first_run(tmp_path: Path, **config: Any) -> Flask:
    """The app as a newcomer starts it: nothing configured but the instance folder."""
    config = {"INSTANCE_PATH": str(tmp_path / "instance"), **FAST_CONFIG, **config}
    return closed_after_test(create_app(config))


def count(app: Flask, model: type[Any]) -> int:
    with app.app_context(), services().db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- first run ------------------------------------------------------------------------------


def test_starting_the_app_changes_no_database_and_says_init_db_is_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = first_run(tmp_path)

    with app.app_context():
        assert not services().db.has_tables()
    assert "run 'flask --app example_app init-db' before serving" in caplog.text


def test_python_m_example_app_creates_the_schema_without_warning_it_is_missing(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[Flask] = []
    monkeypatch.setenv("FLASK_INSTANCE_PATH", str(tmp_path / "instance"))
    for key, value in FAST_CONFIG.items():
        monkeypatch.setenv(f"FLASK_{key}", json.dumps(value))
    monkeypatch.setattr(Flask, "run", lambda app, **options: served.append(app))

    example_main(["--port", "0"])  # any free port; the server itself is not started

    (app,) = served
    closed_after_test(app)
    with app.app_context():
        assert services().db.has_tables()
    assert "init-db" not in caplog.text
    assert "(schema created and demo data added now)" in capsys.readouterr().err


def test_init_db_creates_the_schema_without_data_and_is_idempotent(tmp_path: Path) -> None:
    app = first_run(tmp_path)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])

    database = tmp_path / "instance" / "example_app.sqlite3"
    assert first.output == f"Tables created in sqlite:///{database}.\n"
    assert second.output == f"Tables present in sqlite:///{database}.\n"
    assert count(app, LegacyUser) == 0
    assert count(app, Role) == 0


def test_the_development_start_creates_and_seeds_once(tmp_path: Path) -> None:
    app = first_run(tmp_path)

    assert prepare_for_development(app) == "schema created and demo data added now"
    assert prepare_for_development(app) == "demo data present"
    assert count(app, LegacyUser) == 4


def test_a_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = first_run(tmp_path)
    second = first_run(tmp_path)

    path = tmp_path / "instance" / SECRET_FILE
    (secret,) = first.config["OKTA_HOOKS_SECRETS"]
    assert len(secret) >= 40
    assert second.config["OKTA_HOOKS_SECRETS"] == [secret]
    assert path.read_text().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with first.app_context():
        assert services().secret_generated is True
    with second.app_context():
        assert services().secret_generated is False


def test_the_generated_secret_authenticates_okta(tmp_path: Path) -> None:
    app = first_run(tmp_path)
    (secret,) = app.config["OKTA_HOOKS_SECRETS"]

    ok = call_hook(app.test_client(), "token", adapted("token.request.json"), Authorization=secret)

    assert ok.status_code in (200, 204)


def test_a_configured_secret_leaves_the_instance_folder_alone(tmp_path: Path) -> None:
    app = first_run(tmp_path, OKTA_HOOKS_SECRETS=["configured-secret-0123456789"])

    assert app.config["OKTA_HOOKS_SECRETS"] == ["configured-secret-0123456789"]
    assert not (tmp_path / "instance" / SECRET_FILE).exists()


# --- configuration --------------------------------------------------------------------------


def test_configuration_comes_from_flask_prefixed_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_DATABASE_URL", f"sqlite:///{tmp_path / 'from-env.sqlite3'}")
    monkeypatch.setenv("FLASK_HOOK_DEADLINE", "1.5")
    monkeypatch.setenv("FLASK_OKTA_HOOKS_SECRETS", json.dumps(["env-secret-0123456789abcdef"]))
    monkeypatch.setenv("FLASK_REQUIRED_PROFILE_ATTRIBUTES", "employeeNumber,title")

    app = first_run(tmp_path)

    with app.app_context():
        settings = services().settings
    assert settings.hook_deadline == 1.5
    assert settings.required_profile_attributes == ("employeeNumber", "title")
    assert app.config["OKTA_HOOKS_SECRETS"] == ["env-secret-0123456789abcdef"]
    assert (tmp_path / "from-env.sqlite3").is_file()


def test_the_mapping_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_HOOK_DEADLINE", "1.5")

    app = make_app(tmp_path, HOOK_DEADLINE=1.0)

    with app.app_context():
        assert services().settings.hook_deadline == 1.0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HOOK_DEADLINE", 3.0),
        ("HOOK_DEADLINE", "2"),
        ("PASSWORD_SCHEME", "md5"),
        ("PASSWORD_BCRYPT_ROUNDS", 40),
        ("PASSWORD_CONCURRENCY", 0),
        ("REQUIRED_PROFILE_ATTRIBUTES", 5),
        ("DATABASE_URL", ""),
    ],
)
def test_a_bad_setting_stops_the_start_naming_its_key(tmp_path: Path, key: str, value: Any) -> None:
    with pytest.raises(SettingsError, match=key):
        make_app(tmp_path, **{key: value})


def test_an_in_memory_database_is_shared_by_all_threads(tmp_path: Path) -> None:
    app = make_app(tmp_path, DATABASE_URL="sqlite://")

    assert count(app, LegacyUser) == 4


def test_password_slots_follow_the_cores_shared_by_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "64")

    app = make_app(tmp_path)

    with app.app_context():
        assert services().passwords.admission.slots == 1
        assert services().settings.verify_slots == 1
    with make_app(tmp_path / "b", PASSWORD_CONCURRENCY=3).app_context():
        assert services().passwords.admission.slots == 3


# --- every hook -----------------------------------------------------------------------------


@pytest.mark.parametrize("hook", HOOK_PATHS)
def test_every_hook_refuses_calls_without_the_secret_and_audits_them(
    tmp_path: Path, hook: str
) -> None:
    app = make_app(tmp_path)
    payload = adapted(REQUEST_SAMPLE[hook])

    response = call_hook(app.test_client(), hook, payload, Authorization="not the secret")

    assert response.status_code == 401
    assert [(r.hook, r.event_id, r.outcome) for r in audit_rows(app)] == [
        (hook, None, "rejected:401")
    ]


@pytest.mark.parametrize("hook", HOOK_PATHS)
def test_every_hook_answers_okta_s_own_sample(tmp_path: Path, hook: str) -> None:
    app = make_app(tmp_path)

    response = call_hook(app.test_client(), hook, adapted(REQUEST_SAMPLE[hook]))

    assert response.status_code in (200, 204)
    (row,) = audit_rows(app)
    assert row.hook == hook
    assert row.status == response.status_code
    assert row.event_id == adapted(REQUEST_SAMPLE[hook])["eventId"]


def test_a_failing_handler_is_audited_and_okta_gets_the_safe_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(tmp_path, TESTING=False)

    def broken(*args: Any) -> None:
        raise RuntimeError("directory down")

    monkeypatch.setattr("example_app.hooks.registration.registration_organization", broken)

    response = call_hook(app.test_client(), "registration", adapted(REQUEST_SAMPLE["registration"]))

    assert response.status_code == 200
    assert response.json is not None
    assert response.json["error"]["errorSummary"].startswith("There was an error")
    assert audit_rows(app)[-1].outcome == "failed:RuntimeError"


def test_a_handler_past_the_deadline_is_audited_with_the_outcome_okta_got(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(tmp_path, TESTING=False, HOOK_DEADLINE=0.2)
    release = threading.Event()

    def stalled(*args: Any) -> None:
        release.wait(5)

    monkeypatch.setattr("example_app.hooks.registration.registration_organization", stalled)

    try:
        response = call_hook(
            app.test_client(), "registration", adapted(REQUEST_SAMPLE["registration"])
        )
    finally:
        release.set()

    assert response.status_code == 200
    assert response.json is not None
    assert response.json["error"]["errorSummary"].startswith("There was an error")
    (row,) = audit_rows(app)
    assert (row.hook, row.outcome, row.status) == ("registration", "failed:deadline", 200)
    assert 200 <= row.latency_ms < 400


def test_hook_deadline_is_the_librarys_deadline(tmp_path: Path) -> None:
    assert make_app(tmp_path, HOOK_DEADLINE=1.2).config["OKTA_HOOKS_DEADLINE"] == 1.2
    assert make_app(tmp_path / "b", OKTA_HOOKS_DEADLINE=2.0).config["OKTA_HOOKS_DEADLINE"] == 2.0
    with pytest.raises(SettingsError, match="set HOOK_DEADLINE only"):
        make_app(tmp_path / "c", HOOK_DEADLINE=1.0, OKTA_HOOKS_DEADLINE=1.5)


# --- command line ---------------------------------------------------------------------------


def test_seed_is_idempotent_and_says_it_is_for_development(tmp_path: Path) -> None:
    app = make_app(tmp_path, seeded=False)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["seed"])
    second = runner.invoke(args=["seed"])

    assert first.exit_code == 0
    development = "(development only: never seed a production database)"
    assert first.output == f"Demo data added {development}.\n"
    assert second.output == f"Demo data already present {development}.\n"
    assert count(app, LegacyUser) == 4


@pytest.mark.parametrize("scheme", ["bcrypt", "argon2", "pbkdf2"])
def test_add_user_makes_an_account_the_password_import_verifies(
    tmp_path: Path, scheme: str
) -> None:
    app = make_app(tmp_path)
    result = app.test_cli_runner().invoke(
        args=[
            "add-user",
            "Dana.Lee@Example.com",
            "--password",
            "s3cret-legacy",
            "--scheme",
            scheme,
            "--first-name",
            "Dana",
            "--department",
            "Legal",
            "--role",
            "employee",
            "--role",
            "finance",
        ]
    )
    payload = adapted("password-import.request.json")
    payload["data"]["context"]["credential"] = {
        "username": "dana.lee@example.com",
        "password": "s3cret-legacy",
    }

    response = call_hook(app.test_client(), "password-import", payload)

    assert result.exit_code == 0, result.output
    assert "dana.lee@example.com" in result.output
    assert "s3cret-legacy" not in result.output
    assert response.json is not None
    assert response.json["commands"][0]["value"] == {"credential": "VERIFIED"}


def test_add_user_prompts_for_the_password(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    result = app.test_cli_runner().invoke(
        args=["add-user", ISAAC], input="typed-secret\ntyped-secret\n"
    )

    assert result.exit_code == 0, result.output
    assert "typed-secret" not in result.output


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--role", "astronaut"], "unknown role(s): astronaut"),
        (["--password", "x" * 73], "72 bytes"),
        (["--scheme", "md5"], "md5"),
    ],
)
def test_add_user_refuses_what_it_cannot_store(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    app = make_app(tmp_path)

    result = app.test_cli_runner().invoke(
        args=["add-user", "x@example.com", "--password", "pw", *args]
    )

    assert result.exit_code != 0
    assert complaint in result.output


def test_the_audit_command_lists_recent_calls(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    call_hook(app.test_client(), "token", adapted("token.request.json"))

    result = app.test_cli_runner().invoke(args=["audit"])

    assert result.exit_code == 0
    header, row = result.output.splitlines()
    assert header.split() == ["time", "(UTC)", "hook", "status", "outcome", "latency", "eventId"]
    assert "token" in row
    assert "3OWo4oo-QQ-rBWfRyTmQYw" in row


# --- banner ---------------------------------------------------------------------------------


def test_the_banner_shows_every_hook_url_and_where_the_secret_is_not_the_secret(
    tmp_path: Path,
) -> None:
    app = first_run(tmp_path)

    text = render(app, "http://127.0.0.1:5000", "schema created and demo data added now")

    for hook in HOOK_PATHS:
        assert f"http://127.0.0.1:5000/okta/hooks/{hook}\n" in text
    (secret,) = app.config["OKTA_HOOKS_SECRETS"]
    assert secret not in text
    assert secret[4:12] not in text
    assert f"cat {tmp_path / 'instance' / SECRET_FILE}" in text
    assert "generated now" in text
    assert "(schema created and demo data added now)" in text


def test_the_banner_gives_the_flask_command_the_docs_give(tmp_path: Path) -> None:
    text = render(first_run(tmp_path), "http://127.0.0.1:5000")

    docs = (ROOT / "docs" / "example.md").read_text()
    flask = flask_command()
    commands = [line[line.index(flask) :] for line in text.splitlines() if flask in line]
    assert len(commands) == 2
    for command in commands:
        # Started from the clone, the banner's flask is the docs' .venv/bin/flask.
        assert command.replace(flask, ".venv/bin/flask", 1) in docs


def test_the_development_server_refuses_a_taken_port_before_its_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "example_app", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "FLASK_INSTANCE_PATH": str(tmp_path / "instance")},
            cwd=ROOT,
        )

    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "make run PORT=5050" in result.stderr
    assert "Authentication secret" not in result.stderr
    assert not (tmp_path / "instance").exists()


def test_the_banner_uses_the_public_url_and_never_shows_a_configured_secret(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, PUBLIC_URL="https://hooks.example.com/")

    text = render(app, "http://127.0.0.1:5000")

    assert "https://hooks.example.com/okta/hooks/password-import\n" in text
    assert "127.0.0.1" not in text
    assert app.config["OKTA_HOOKS_SECRETS"][0] not in text
    assert "the value of FLASK_OKTA_HOOKS_SECRETS" in text


def test_the_banner_hides_database_passwords(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    with app.app_context():
        object.__setattr__(services().db, "url", "postgresql://hooks:hunter2@db.internal/hooks")

    text = render(app, "http://127.0.0.1:5000")

    assert "hunter2" not in text
    assert "postgresql://hooks:***@db.internal/hooks" in text


# --- docs/example.md -------------------------------------------------------------------------


def test_the_docs_document_every_setting() -> None:
    docs = (ROOT / "docs" / "example.md").read_text()

    for option in OPTIONS:
        name = option.key if option.key == "TELEPHONY_PROVIDER" else f"FLASK_{option.key}"
        assert f"`{name}`" in docs, name


def test_make_run_takes_the_port() -> None:
    result = subprocess.run(
        ["make", "-n", "run", "PORT=5050", "--always-make"],  # noqa: S607
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )

    assert "-m example_app --host 127.0.0.1 --port 5050" in result.stdout
