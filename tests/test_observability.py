"""One structured log line per call, and the signals apps count calls with."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_okta_hooks import OktaHooks, TokenHookRequest
from flask_okta_hooks.logs import loggable
from flask_okta_hooks.signals import hook_failed, hook_received, hook_responded

from .conftest import SECRET, build_app, post_json, sample

EVENT_ID = "3OWo4oo-QQ-rBWfRyTmQYw"


def token_app(handler: Any = None, **config: Any) -> Flask:
    hooks = OktaHooks()
    hooks.token(handler or (lambda call: call.respond().add_access_claim("tier", "gold")))
    return build_app(hooks, OKTA_HOOKS_STRICT=False, **config)


def call_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("okta hook call:")]


# --- log lines --------------------------------------------------------------------------------


def test_a_served_call_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_okta_hooks")

    post_json(token_app().test_client(), "/token", sample("token.request.json"))

    (line,) = call_lines(caplog)
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith(
        f"okta hook call: hook=token event_id={EVENT_ID} outcome=ok status=200 reason=- latency_ms="
    )
    assert set(line.okta_hook) == {  # type: ignore[attr-defined]
        "hook",
        "event_id",
        "outcome",
        "status",
        "reason",
        "latency_ms",
    }


def test_a_refused_call_is_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_okta_hooks")

    post_json(token_app().test_client(), "/token", sample("token.request.json"), secret="wrong")

    (line,) = call_lines(caplog)
    assert line.levelno == logging.WARNING
    assert line.okta_hook == {  # type: ignore[attr-defined]
        "hook": "token",
        "event_id": "-",
        "outcome": "refused",
        "status": 401,
        "reason": "unauthorized",
        "latency_ms": line.okta_hook["latency_ms"],  # type: ignore[attr-defined]
    }


def test_a_broken_handler_is_one_error_line_without_the_exception_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_okta_hooks")

    def handler(call: TokenHookRequest) -> Any:
        raise ValueError("customer 4711 has no tier")

    post_json(token_app(handler).test_client(), "/token", sample("token.request.json"))

    (line,) = call_lines(caplog)
    assert line.levelno == logging.ERROR
    assert "reason=handler_error:ValueError" in line.getMessage()
    assert "4711" not in caplog.text


@pytest.mark.parametrize(
    ("event_id", "shown"),
    [
        ("evt-1.2:3@x_Y", "evt-1.2:3@x_Y"),
        ("a\r\nFAKE okta hook call: outcome=ok", "'a\\r\\nFAKE okta hook call: outcome=ok'"),
        ("tab\there", "'tab\\there'"),
        ("x" * 500, repr("x" * 128)),
        ("\u2028", "'\\u2028'"),
        (None, "-"),
    ],
)
def test_event_ids_cannot_forge_log_lines(event_id: str | None, shown: str) -> None:
    assert loggable(event_id) == shown
    assert "\n" not in loggable(event_id)
    assert "\r" not in loggable(event_id)


def test_a_logged_event_id_keeps_to_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flask_okta_hooks")
    payload = sample("token.request.json")
    payload["eventId"] = "x\nokta hook call: hook=token outcome=ok"

    post_json(token_app().test_client(), "/token", payload)

    (line,) = call_lines(caplog)
    assert "\n" not in caplog.text.strip()
    assert line.okta_hook["event_id"] == repr(payload["eventId"])  # type: ignore[attr-defined]


# --- signals ----------------------------------------------------------------------------------


@pytest.fixture
def received() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: Flask, **extra: Any) -> None:
        seen.append({"signal": "received", "sender": sender, **extra})

    def responded(sender: Flask, **extra: Any) -> None:
        seen.append({"signal": "responded", "sender": sender, **extra})

    def failed(sender: Flask, **extra: Any) -> None:
        seen.append({"signal": "failed", "sender": sender, **extra})

    hook_received.connect(receiver)
    hook_responded.connect(responded)
    hook_failed.connect(failed)
    yield seen
    hook_received.disconnect(receiver)
    hook_responded.disconnect(responded)
    hook_failed.disconnect(failed)


def test_a_served_call_is_received_then_responded(received: list[dict[str, Any]]) -> None:
    app = token_app()

    post_json(app.test_client(), "/token", sample("token.request.json"))

    assert [s["signal"] for s in received] == ["received", "responded"]
    assert received[0] == {
        "signal": "received",
        "sender": app,
        "hook_type": "token",
        "event_id": EVENT_ID,
    }
    responded = received[1]
    assert responded["sender"] is app
    assert responded["status"] == 200
    assert responded["reason"] is None
    assert responded["event_id"] == EVENT_ID
    assert 0 <= responded["latency"] < 1


def test_a_failed_handler_is_signalled_with_its_reason(received: list[dict[str, Any]]) -> None:
    app = token_app(lambda call: 1 / 0)

    post_json(app.test_client(), "/token", sample("token.request.json"))

    assert [s["signal"] for s in received] == ["received", "failed", "responded"]
    assert received[1]["reason"] == "handler_error"
    assert received[1]["status"] == 204
    assert received[1] == {**received[2], "signal": "failed"}


def test_a_deadline_is_signalled(received: list[dict[str, Any]]) -> None:
    release = threading.Event()
    app = token_app(lambda call: release.wait(5), OKTA_HOOKS_DEADLINE=0.05)

    post_json(app.test_client(), "/token", sample("token.request.json"))
    release.set()

    assert received[1]["signal"] == "failed"
    assert received[1]["reason"] == "deadline"
    assert received[1]["latency"] >= 0.05


def test_a_refused_call_is_only_responded(received: list[dict[str, Any]]) -> None:
    app = token_app()

    post_json(app.test_client(), "/token", b"{", secret="wrong")

    assert received == [
        {
            "signal": "responded",
            "sender": app,
            "hook_type": "token",
            "event_id": None,
            "status": 401,
            "reason": "unauthorized",
            "latency": received[0]["latency"],
        }
    ]


def test_an_event_hook_verification_is_logged_and_responded(
    received: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flask_okta_hooks")
    hooks = OktaHooks()
    hooks.event()(lambda event: None)
    app = build_app(hooks)

    answer = app.test_client().get(
        "/okta/hooks/events",
        headers={"Authorization": SECRET, "X-Okta-Verification-Challenge": "c-1"},
    )

    assert answer.status_code == 200
    (line,) = call_lines(caplog)
    assert line.okta_hook["outcome"] == "ok"  # type: ignore[attr-defined]
    assert line.okta_hook["status"] == 200  # type: ignore[attr-defined]
    assert [(s["signal"], s["hook_type"], s["status"]) for s in received] == [
        ("responded", "events", 200)
    ]


def test_signals_can_be_scoped_to_one_app(received: list[dict[str, Any]]) -> None:
    first, second = token_app(), token_app()
    counted: list[int] = []

    def count(sender: Flask, **extra: Any) -> None:
        counted.append(extra["status"])

    hook_responded.connect(count, sender=first)
    try:
        post_json(first.test_client(), "/token", sample("token.request.json"))
        post_json(second.test_client(), "/token", sample("token.request.json"))
    finally:
        hook_responded.disconnect(count, sender=first)

    assert counted == [200]


def test_a_failing_receiver_costs_the_call_nothing(caplog: pytest.LogCaptureFixture) -> None:
    hooks = OktaHooks()
    hooks.event()(lambda event: None)
    events, token = build_app(hooks), token_app()

    def broken(sender: Flask, **extra: Any) -> None:
        raise RuntimeError("metrics backend down: secret-4711")

    for app in (events, token):
        hook_received.connect(broken, sender=app)
        hook_responded.connect(broken, sender=app)
    try:
        delivered = post_json(events.test_client(), "/events", sample("event-hook.request.json"))
        answered = post_json(token.test_client(), "/token", sample("token.request.json"))
    finally:
        hook_received.disconnect(broken)
        hook_responded.disconnect(broken)

    assert delivered.status_code == 204
    assert answered.status_code == 200
    assert caplog.text.count("signal=okta-hook-received error=RuntimeError") == 2
    assert caplog.text.count("signal=okta-hook-responded error=RuntimeError") == 2
    assert "secret-4711" not in caplog.text
