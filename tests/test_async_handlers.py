"""``async def`` handlers of inline hooks run through the app's ``ensure_sync``, on both
lanes, under the same deadline, failure policy, signals and log line as plain ones."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, current_app, request

from flask_okta_hooks import OktaHooks, TokenHookRequest, TokenHookResponse, runner
from flask_okta_hooks.signals import hook_failed
from flask_okta_hooks.testing import make_payload, make_request

from .conftest import build_app, post_json

DEADLINE = 0.3
#: How late an answer may be past the deadline.
SLACK = 0.15
WORKER = {"OKTA_HOOKS_INLINE_UNDER": 0}
INLINE = {"OKTA_HOOKS_INLINE_UNDER": 0.1}
LANES = [pytest.param(WORKER, id="worker"), pytest.param(INLINE, id="inline")]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set after each test, so that handlers still running end at once."""
    event = threading.Event()
    yield event
    event.set()


async def until(event: threading.Event, limit: float = 5.0) -> None:
    """Wait on the event loop until ``event`` is set, at most ``limit`` seconds."""
    waited = 0.0
    while not event.is_set() and waited < limit:
        await asyncio.sleep(0.01)
        waited += 0.01


class AsyncApp:
    """A token endpoint with an async handler whose behaviour the test switches."""

    def __init__(self, release: threading.Event, lane: dict[str, Any], **config: Any) -> None:
        self.mode = "quick"
        self.seen: list[tuple[str, str, str]] = []
        self.hooks = OktaHooks()

        @self.hooks.token
        async def enrich(call: TokenHookRequest) -> TokenHookResponse:
            await asyncio.sleep(0)
            self.seen.append((threading.current_thread().name, current_app.name, request.path))
            if self.mode == "slow":
                await until(release)
            if self.mode == "raise":
                raise ZeroDivisionError("division by zero")
            return call.respond().add_access_claim("tier", "gold")

        settings = {"OKTA_HOOKS_STRICT": False, "OKTA_HOOKS_DEADLINE": DEADLINE}
        self.app: Flask = build_app(self.hooks, **{**settings, **lane, **config})
        self.client = self.app.test_client()

    def call(self) -> tuple[Any, float]:
        started = time.perf_counter()
        response = post_json(self.client, "/token", make_payload("token"))
        return response, time.perf_counter() - started

    def inline(self) -> bool:
        runners = self.app.extensions["okta_hooks"]["OKTA_HOOKS_"].runner
        return bool(runners.inline(self.hooks.endpoints["/token"]))

    def warm_up(self, lane: dict[str, Any]) -> None:
        for _ in range(50):
            if self.inline():
                break
            assert self.call()[0].status_code == 200
        assert self.inline() == (lane is INLINE)


@pytest.fixture(autouse=True)
def quick_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    # An async handler pays for an event loop per call; on a loaded machine a few quick
    # calls in a row are all the inline lane asks of it here.
    monkeypatch.setattr(runner, "INLINE_AFTER", 3)


def test_an_async_handler_is_found_once_when_mounted() -> None:
    hooks = OktaHooks()

    @hooks.token
    async def enrich(call: TokenHookRequest) -> None:
        return None

    hooks.token("/plain")(lambda call: None)

    assert hooks.endpoints["/token"].coroutine
    assert not hooks.endpoints["/plain"].coroutine


@pytest.mark.parametrize("lane", LANES)
def test_a_quick_async_handler_answers(release: threading.Event, lane: dict[str, Any]) -> None:
    served = AsyncApp(release, lane)
    served.warm_up(lane)

    response, _ = served.call()

    assert response.status_code == 200
    commands = response.get_json()["commands"]
    assert commands[0]["value"][0]["path"] == "/claims/tier"
    assert commands[0]["value"][0]["value"] == "gold"
    # The coroutine sees the call's app and request, like the plain handler it replaces.
    _, app_name, path = served.seen[-1]
    assert (app_name, path) == ("okta_hooks_test", "/okta/hooks/token")


def test_a_slow_async_handler_gets_the_failure_outcome_at_the_deadline(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    served = AsyncApp(release, WORKER)
    served.mode = "slow"

    response, took = served.call()

    assert response.status_code == 204  # the token hook's failure outcome: tokens unchanged
    assert DEADLINE <= took <= DEADLINE + SLACK
    calls = [r.okta_hook for r in caplog.records if hasattr(r, "okta_hook")]
    assert calls[-1]["reason"] == "deadline"


def test_a_slow_async_handler_on_the_inline_lane_answers_late_and_goes_to_the_workers(
    release: threading.Event,
) -> None:
    served = AsyncApp(release, INLINE)
    served.warm_up(INLINE)
    served.mode = "slow"
    threading.Timer(DEADLINE + 0.1, release.set).start()

    late, took = served.call()  # as documented: a call already inline answers late

    assert late.status_code == 204
    assert took >= DEADLINE
    assert not served.inline()


@pytest.mark.parametrize("lane", LANES)
def test_a_raising_async_handler_gets_the_failure_outcome_signal_and_log(
    release: threading.Event, caplog: pytest.LogCaptureFixture, lane: dict[str, Any]
) -> None:
    served = AsyncApp(release, lane)
    served.warm_up(lane)
    failures: list[Any] = []

    def failed(sender: Any, **details: Any) -> None:
        failures.append(details["reason"])

    served.mode = "raise"
    with hook_failed.connected_to(failed, served.app):
        response, _ = served.call()

    assert response.status_code == 204
    assert failures == ["handler_error"]
    calls = [r.okta_hook for r in caplog.records if hasattr(r, "okta_hook")]
    assert calls[-1]["reason"] == "handler_error:ZeroDivisionError"
    assert calls[-1]["outcome"] == "fallback"


def test_strict_mode_raises_an_async_handlers_exception(release: threading.Event) -> None:
    served = AsyncApp(release, WORKER, OKTA_HOOKS_STRICT=True)
    served.mode = "raise"

    with pytest.raises(ZeroDivisionError):
        served.call()


def test_an_async_handler_is_tested_with_make_request() -> None:
    async def enrich(call: TokenHookRequest) -> TokenHookResponse:
        return call.respond().add_access_claim("tier", "gold")

    response = asyncio.run(enrich(make_request("token")))

    assert response.to_dict()["commands"][0]["value"][0]["value"] == "gold"
