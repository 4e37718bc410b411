"""Calls that find every worker busy: they wait in line while they can still start in
time, first come first served, and get their failure outcome only when they cannot.

Registration calls show which answer a call got: the handler's (an empty 204) or the
failure outcome (a denial). Timings are real, with margins of several tenths of a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from flask_okta_hooks import OktaHooks
from flask_okta_hooks.runner import RUN_SHARE, HandlerRunner
from flask_okta_hooks.testing import make_payload

from .conftest import build_app, post_json

DEADLINE = 1.0
#: When a call still in line gets its failure outcome, counted from its arrival.
GIVES_UP_AFTER = DEADLINE * RUN_SHARE


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set after each test, so that held handlers end at once."""
    event = threading.Event()
    yield event
    event.set()


def registration_app(handler: Callable[[Any], Any], **config: Any) -> Flask:
    hooks = OktaHooks()
    hooks.registration(handler)
    settings = {
        "OKTA_HOOKS_STRICT": False,
        "OKTA_HOOKS_DEADLINE": DEADLINE,
        "OKTA_HOOKS_WORKERS": 1,
        "OKTA_HOOKS_INLINE_UNDER": 0,
        **config,
    }
    return build_app(hooks, **settings)


def runner_of(app: Flask) -> HandlerRunner:
    runner: HandlerRunner = app.extensions["okta_hooks"]["OKTA_HOOKS_"].runner
    return runner


class Call(threading.Thread):
    """One registration call on its own thread: its status and how long it took."""

    def __init__(self, app: Flask, event_id: str) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.event_id = event_id
        self.status = 0
        self.allowed = False
        self.took = 0.0

    def run(self) -> None:
        payload = make_payload("registration")
        payload["eventId"] = self.event_id
        started = time.perf_counter()
        response = post_json(self.app.test_client(), "/registration", payload)
        self.took = time.perf_counter() - started
        self.status = response.status_code
        self.allowed = response.status_code == 204  # the handler's answer, not the denial

    def result(self) -> Call:
        self.join(10)
        assert not self.is_alive()
        return self


def holding_handler(release: threading.Event, ran: list[str]) -> tuple[Any, threading.Event]:
    """A handler whose first call holds its worker until ``release``; the others are quick."""
    holding = threading.Event()

    def handler(call: Any) -> None:
        ran.append(call.event_id)
        if call.event_id == "holder":
            holding.set()
            release.wait(5)

    return handler, holding


def held(release: threading.Event, **config: Any) -> tuple[Flask, list[str], Call]:
    """An app whose one worker a first call holds until ``release``; the event ids its
    handler saw, and that first call."""
    ran: list[str] = []
    handler, holding = holding_handler(release, ran)
    app = registration_app(handler, **config)
    holder = Call(app, "holder")
    holder.start()
    assert holding.wait(5)
    return app, ran, holder


def wait_until_queued(app: Flask, count: int) -> None:
    pool = runner_of(app).pool
    for _ in range(500):
        if pool.waiting >= count:
            return
        time.sleep(0.002)
    pytest.fail(f"{count} calls never queued")


def test_a_call_that_finds_every_worker_busy_waits_and_is_served(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    app, ran, _ = held(release)

    waiter = Call(app, "waiter")
    waiter.start()
    wait_until_queued(app, 1)
    time.sleep(0.1)
    release.set()  # the worker is free again, well before the waiter has to give up

    waiter.result()
    assert waiter.allowed, "the waiting call got its failure outcome"
    assert 0.1 <= waiter.took < GIVES_UP_AFTER
    assert ran == ["holder", "waiter"]
    warnings = [r for r in caplog.records if "OKTA_HOOKS_WORKERS" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "waiting for a worker" in warnings[0].getMessage()


def test_a_call_that_cannot_start_in_time_gets_its_failure_outcome_then(
    release: threading.Event,
) -> None:
    app, ran, _ = held(release)

    waiter = Call(app, "waiter")
    waiter.start()
    waiter.result()

    assert waiter.status == 200
    assert not waiter.allowed  # the denial: the failure outcome
    # It waited until it could no longer start with half its deadline left, not longer.
    assert GIVES_UP_AFTER - 0.02 <= waiter.took < DEADLINE - 0.1
    release.set()
    pool = runner_of(app).pool
    for _ in range(500):
        if pool.busy == 0:
            break
        time.sleep(0.002)
    assert ran == ["holder"]  # withdrawn: it never starts late
    assert pool.waiting == 0


def test_calls_waiting_for_a_worker_are_served_first_come_first_served(
    release: threading.Event,
) -> None:
    app, ran, _ = held(release, OKTA_HOOKS_DEADLINE=2.0)

    waiters = []
    for number in range(4):
        waiter = Call(app, f"waiter-{number}")
        waiter.start()
        wait_until_queued(app, number + 1)
        waiters.append(waiter)
    release.set()

    assert all(waiter.result().allowed for waiter in waiters)
    assert ran == ["holder", "waiter-0", "waiter-1", "waiter-2", "waiter-3"]


def test_when_stalled_handlers_hold_every_worker_calls_fail_fast_and_warn_once(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    app, ran, holder = held(release, OKTA_HOOKS_DEADLINE=0.6)
    assert not holder.result().allowed  # answered at its deadline; its handler still runs

    calls = [Call(app, f"caller-{number}") for number in range(5)]
    for call in calls:
        call.start()
        call.result()

    # At once: a call that waited in line would take 0.3 s, half its deadline.
    assert all(not call.allowed and call.took < 0.2 for call in calls)
    assert runner_of(app).pool.abandoned == 1
    warnings = [r for r in caplog.records if "OKTA_HOOKS_WORKERS" in r.getMessage()]
    assert len(warnings) == 1
    assert "past their deadline hold all 1 workers" in warnings[0].getMessage()
    assert ran == ["holder"]


def test_the_warning_names_the_blueprints_own_workers_key(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    handler, _ = holding_handler(release, ran)
    hooks = OktaHooks("partner", config_prefix="PARTNER_HOOKS_")
    hooks.registration(handler)
    app = Flask("partner_test")
    app.config.update(
        TESTING=True,
        PARTNER_HOOKS_SECRETS=["partner-secret-7d1e3a9c5b"],
        PARTNER_HOOKS_STRICT=False,
        PARTNER_HOOKS_DEADLINE=0.3,
        PARTNER_HOOKS_WORKERS=1,
        PARTNER_HOOKS_INLINE_UNDER=0,
    )
    app.register_blueprint(hooks, url_prefix="/okta/hooks")
    client = app.test_client()
    payload = make_payload("registration")

    def call(event_id: str) -> int:
        payload["eventId"] = event_id
        response = client.post(
            "/okta/hooks/registration",
            json=payload,
            headers={"Authorization": "partner-secret-7d1e3a9c5b"},
        )
        return response.status_code

    assert call("holder") == 200  # abandoned at its deadline, still holding the worker
    assert call("next") == 200

    messages = [r.getMessage() for r in caplog.records if "WORKERS" in r.getMessage()]
    assert len(messages) == 1
    assert "PARTNER_HOOKS_WORKERS" in messages[0]
