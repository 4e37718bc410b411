"""Failure mapping (T1.5): every hook type under every kind of handler failure.

Six inline hook types, six faults, with the default and the opt-in failure policies. The
expected answers are written out from RELIABILITY §2.6, not computed from the code: a
call gets the outcome Okta itself would choose on a timeout (or the opt-in alternative),
within the deadline plus 150 ms, and never a 5xx except a configured ``"retry"`` 503.
Event hooks, whose endpoint handler only takes deliveries on, answer every fault with a
503 so that Okta sends the delivery once more, strict mode included: never a 500.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, g

from flask_okta_hooks import (
    HOOK_TYPES,
    DeadlineExceeded,
    HookType,
    OktaHooks,
    PasswordImportHookRequest,
    TokenHookRequest,
    runner,
)
from flask_okta_hooks.deadline import WorkerPool
from flask_okta_hooks.hook_types import HOOK_TYPES_BY_SLUG, PASSWORD_IMPORT, TOKEN
from flask_okta_hooks.hooks import saml, token, user_import
from flask_okta_hooks.runner import INLINE_AFTER, HandlerRunner

from .conftest import REQUEST_SAMPLE, FakeClock, build_app, post_json, sample

DEADLINE = 0.2
#: How late an answer may be past the deadline (RELIABILITY §2.6).
SLACK = 0.15

UNVERIFIED = {
    "commands": [{"type": "com.okta.action.update", "value": {"credential": "UNVERIFIED"}}]
}
REGISTRATION_DENIAL = {
    "error": {
        "errorSummary": "There was an error creating your account. Please try registering again."
    }
}
TELEPHONY_FALLBACK = {"error": {"errorSummary": "The telephony service could not send the code."}}
EMPTY = None  # an empty 204

#: RELIABILITY §2.6, default column: what each hook type answers when its handler fails.
DEFAULT_OUTCOME: dict[str, Any] = {
    "token": EMPTY,
    "saml": EMPTY,
    "registration": REGISTRATION_DENIAL,
    "password-import": UNVERIFIED,
    "user-import": EMPTY,
    "telephony": TELEPHONY_FALLBACK,
}
RETRY = "503 retry"
NOT_TAKEN_ON = "503 not taken on"
#: Rows with a safe answer to give in a failed handler's place (the inline hooks), and
#: rows whose handler only takes calls on (event hooks), which refuse instead.
ANSWERING = [t for t in HOOK_TYPES if t.response_class.failure_refusal is None]
TAKING_ON = [t for t in HOOK_TYPES if t.response_class.failure_refusal is not None]
#: RELIABILITY §2.6, opt-in column: (policy, outcome on a passing fault, on any other).
OPT_IN_OUTCOME: dict[str, tuple[str, Any, Any]] = {
    "token": ("deny", {"error": {"errorSummary": token.DENY_SUMMARY}}, None),
    "saml": ("deny", {"error": {"errorSummary": saml.DENY_SUMMARY}}, None),
    "registration": ("allow", EMPTY, None),
    "password-import": ("retry", RETRY, UNVERIFIED),
    "user-import": ("error", {"error": {"errorSummary": user_import.ERROR_SUMMARY}}, None),
}


class Dependency:
    """A backend the handler calls, which times out after a short wait."""

    def fetch(self) -> None:
        time.sleep(0.01)
        raise TimeoutError("backend did not answer in 10 ms")


#: name -> (handler factory taking the release event, passing fault?)
FAULTS: dict[str, tuple[Callable[[threading.Event], Callable[[Any], Any]], bool]] = {
    "raise": (lambda release: lambda call: 1 / 0, False),
    "overrun": (lambda release: lambda call: release.wait(5), True),
    "invalid command": (
        lambda release: lambda call: {"commands": [{"type": "com.okta.nope", "value": {}}]},
        False,
    ),
    "oversize": (lambda release: lambda call: call.respond().error("x" * 300_000), False),
    "nan": (lambda release: lambda call: {"debugContext": {"ratio": math.nan}}, False),
    "dependency timeout": (lambda release: lambda call: Dependency().fetch(), True),
}
REASONS = {
    "raise": "handler_error",
    "overrun": "deadline",
    "invalid command": "rule_violation",
    "oversize": "too_large",
    "nan": "not_json",
    "dependency timeout": "dependency_timeout",
}


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set after each test, so that handlers abandoned at their deadline end at once."""
    event = threading.Event()
    yield event
    event.set()


def serve(
    hook_type: HookType,
    handler: Callable[[Any], Any],
    *,
    on_failure: Any = None,
    payload: Any = None,
    **config: Any,
) -> tuple[Any, float]:
    """POST the type's sample to a fresh app; the response and the seconds it took."""
    hooks = OktaHooks()
    hooks.mount(hook_type, handler, on_failure=on_failure)
    settings = {"OKTA_HOOKS_STRICT": False, "OKTA_HOOKS_DEADLINE": DEADLINE, **config}
    client = build_app(hooks, **settings).test_client()
    body = sample(REQUEST_SAMPLE[hook_type.slug]) if payload is None else payload
    started = time.perf_counter()
    response = post_json(client, hook_type.default_path, body)
    return response, time.perf_counter() - started


def body_of(response: Any) -> Any:
    """The answer as the tables write it: a JSON body, ``None`` for 204, or RETRY or
    NOT_TAKEN_ON for a 503."""
    if response.status_code == 204:
        assert response.data == b""
        return EMPTY
    if response.status_code == 503:
        code = response.get_json()["error"]["code"]
        if code == "events_not_accepted":
            return NOT_TAKEN_ON
        assert code == "temporarily_unavailable"
        return RETRY
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    return json.loads(response.data)


def test_every_hook_type_is_in_one_of_the_fault_matrices() -> None:
    assert {t.slug for t in ANSWERING} == set(DEFAULT_OUTCOME)
    assert {t.slug for t in TAKING_ON} == {"events"}
    assert set(ANSWERING) | set(TAKING_ON) == set(HOOK_TYPES)


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
@pytest.mark.parametrize("hook_type", ANSWERING, ids=[t.slug for t in ANSWERING])
def test_a_failing_handler_gets_the_default_outcome_in_time(
    hook_type: HookType, fault: str, release: threading.Event
) -> None:
    make_handler, _ = FAULTS[fault]

    response, took = serve(hook_type, make_handler(release))

    assert body_of(response) == DEFAULT_OUTCOME[hook_type.slug]
    assert took <= DEADLINE + SLACK
    assert response.status_code < 500


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
@pytest.mark.parametrize("hook_type", TAKING_ON, ids=[t.slug for t in TAKING_ON])
def test_an_endpoint_that_fails_to_take_a_call_on_answers_503_in_time(
    hook_type: HookType, fault: str, strict: bool, release: threading.Event
) -> None:
    make_handler, _ = FAULTS[fault]

    response, took = serve(hook_type, make_handler(release), OKTA_HOOKS_STRICT=strict)

    assert response.status_code == 503
    assert body_of(response) == NOT_TAKEN_ON
    assert took <= DEADLINE + SLACK


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
@pytest.mark.parametrize("slug", OPT_IN_OUTCOME, ids=list(OPT_IN_OUTCOME))
def test_a_failing_handler_gets_the_opt_in_outcome_in_time(
    slug: str, fault: str, release: threading.Event
) -> None:
    policy, on_passing, otherwise = OPT_IN_OUTCOME[slug]
    make_handler, passing = FAULTS[fault]
    expected = on_passing if passing or otherwise is None else otherwise

    response, took = serve(HOOK_TYPES_BY_SLUG[slug], make_handler(release), on_failure=policy)

    assert body_of(response) == expected
    assert took <= DEADLINE + SLACK
    assert response.status_code < 500 or (policy == "retry" and response.status_code == 503)


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_each_fault_is_logged_with_its_reason_and_latency(
    fault: str, release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    make_handler, passing = FAULTS[fault]
    caplog.set_level("INFO", logger="flask_okta_hooks")

    serve(TOKEN, make_handler(release))

    (record,) = [r for r in caplog.records if r.getMessage().startswith("okta hook call")]
    fields = record.okta_hook  # type: ignore[attr-defined]
    assert fields["hook"] == "token"
    assert fields["event_id"] == "3OWo4oo-QQ-rBWfRyTmQYw"
    assert fields["outcome"] == "fallback"
    assert fields["reason"].split(":")[0] == REASONS[fault]
    assert fields["latency_ms"] >= 0
    assert record.levelname == ("WARNING" if passing else "ERROR")


# --- policies --------------------------------------------------------------------------------


def test_an_endpoint_takes_a_callable_failure_policy(release: threading.Event) -> None:
    def gate(call: TokenHookRequest) -> Any:
        return call.respond().error("Policy service unavailable")

    response, _ = serve(TOKEN, lambda call: 1 / 0, on_failure=gate)

    assert body_of(response) == {"error": {"errorSummary": "Policy service unavailable"}}


def test_the_decorators_take_a_failure_policy() -> None:
    hooks = OktaHooks()

    @hooks.token(on_failure="deny")
    def gate(call: TokenHookRequest) -> Any:
        raise RuntimeError

    @hooks.token("/token/partners", on_failure=lambda call: None)
    def partners(call: TokenHookRequest) -> Any:
        raise RuntimeError

    client = build_app(hooks, OKTA_HOOKS_STRICT=False).test_client()

    denied = post_json(client, "/token", sample("token.request.json"))
    assert body_of(denied) == {"error": {"errorSummary": token.DENY_SUMMARY}}
    assert post_json(client, "/token/partners", sample("token.request.json")).status_code == 204
    assert hooks.endpoints["/token"].policy.name == "deny"


@pytest.mark.parametrize(
    ("hook_type", "on_failure", "message"),
    [
        (TOKEN, "retry", "Okta never retries this hook type"),
        (TOKEN, "allow", "one of ['safe', 'deny']"),
        (PASSWORD_IMPORT, "deny", "one of ['safe', 'retry']"),
        (HOOK_TYPES_BY_SLUG["telephony"], "deny", "one of ['safe']"),
        (TOKEN, 42, "or a callable"),
    ],
)
def test_an_unknown_policy_fails_when_mounted(
    hook_type: HookType, on_failure: Any, message: str
) -> None:
    hooks = OktaHooks()

    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        hooks.mount(hook_type, lambda call: None, on_failure=on_failure)


@pytest.mark.parametrize(
    "policy",
    [
        lambda call: call.respond().verified(),
        lambda call: {
            "commands": [{"type": "com.okta.action.update", "value": {"credential": "VERIFIED"}}]
        },
    ],
)
def test_no_failure_policy_can_verify_a_password(policy: Callable[[Any], Any]) -> None:
    response, _ = serve(PASSWORD_IMPORT, lambda call: 1 / 0, on_failure=policy)

    assert body_of(response) == UNVERIFIED


@pytest.mark.parametrize(
    "policy",
    [
        lambda call: 1 / 0,
        lambda call: "not a response",
        lambda call: {"commands": [{"type": "com.okta.nope", "value": {}}]},
        lambda call: TokenHookRequest.from_payload(sample("token.request.json")).respond(),
    ],
)
def test_a_broken_failure_policy_falls_back_to_the_safe_outcome(
    policy: Callable[[Any], Any], caplog: pytest.LogCaptureFixture
) -> None:
    response, _ = serve(HOOK_TYPES_BY_SLUG["telephony"], lambda call: 1 / 0, on_failure=policy)

    assert body_of(response) == TELEPHONY_FALLBACK
    assert "failure policy failed" in caplog.text


def test_retry_answers_503_only_for_passing_faults(release: threading.Event) -> None:
    passing, _ = serve(PASSWORD_IMPORT, lambda call: release.wait(5), on_failure="retry")
    broken, _ = serve(PASSWORD_IMPORT, lambda call: 1 / 0, on_failure="retry")

    assert passing.status_code == 503
    assert passing.get_json() == {
        "error": {
            "code": "temporarily_unavailable",
            "message": "The hook cannot answer right now; the call may be retried.",
        }
    }
    assert body_of(broken) == UNVERIFIED


# --- strict mode ------------------------------------------------------------------------------


def test_strict_mode_raises_the_handlers_exception() -> None:
    with pytest.raises(ZeroDivisionError):
        serve(TOKEN, lambda call: 1 / 0, OKTA_HOOKS_STRICT=True)


def test_strict_mode_raises_when_the_deadline_passes(release: threading.Event) -> None:
    with pytest.raises(DeadlineExceeded, match=r"0\.2 s deadline"):
        serve(TOKEN, lambda call: release.wait(5), OKTA_HOOKS_STRICT=True)


def test_a_malformed_section_the_handler_reads_is_still_a_400() -> None:
    payload = sample("password-import.request.json")
    payload["data"]["context"]["credential"]["password"] = ["not", "a", "string"]

    response, _ = serve(PASSWORD_IMPORT, lambda call: call.password, payload=payload)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"


# --- the worker and the request context -------------------------------------------------------


def test_the_handler_sees_the_request_the_app_and_a_copy_of_g() -> None:
    from flask import current_app, request

    seen: dict[str, Any] = {}
    hooks = OktaHooks()

    @hooks.token
    def handler(call: TokenHookRequest) -> None:
        seen["path"] = request.path
        seen["app"] = current_app.name
        seen["user"] = g.get("user")
        seen["thread"] = threading.current_thread().name
        g.user = "changed"

    app = build_app(hooks)

    @app.before_request
    def set_user() -> None:
        g.user = "alice"

    post_json(app.test_client(), "/token", sample("token.request.json"))

    assert seen["path"] == "/okta/hooks/token"
    assert seen["app"] == app.name
    assert seen["user"] == "alice"
    assert seen["thread"].startswith("okta-hooks-worker")


def test_app_context_teardown_runs_on_the_worker_too() -> None:
    torn_down_on: list[str] = []
    hooks = OktaHooks()
    hooks.token(lambda call: None)
    app = build_app(hooks)

    @app.teardown_appcontext
    def teardown(exc: BaseException | None) -> None:
        torn_down_on.append(threading.current_thread().name)

    post_json(app.test_client(), "/token", sample("token.request.json"))

    assert any(name.startswith("okta-hooks-worker") for name in torn_down_on)
    assert threading.current_thread().name in torn_down_on


def test_a_full_pool_answers_at_once(release: threading.Event) -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: release.wait(5))
    client = build_app(
        hooks, OKTA_HOOKS_STRICT=False, OKTA_HOOKS_DEADLINE=DEADLINE, OKTA_HOOKS_WORKERS=1
    ).test_client()
    post_json(client, "/token", sample("token.request.json"))  # its handler keeps the worker

    started = time.perf_counter()
    response = post_json(client, "/token", sample("token.request.json"))

    assert response.status_code == 204
    assert time.perf_counter() - started < DEADLINE / 2


# --- the inline lane --------------------------------------------------------------------------


def runner_of(app: Flask) -> HandlerRunner:
    runner: HandlerRunner = app.extensions["okta_hooks"]["OKTA_HOOKS_"].runner
    return runner


def warm_up(app: Flask, endpoint: Any) -> None:
    """Serve quick calls until the endpoint runs inline (a loaded machine may need more
    than INLINE_AFTER of them: a call slowed by a neighbour restarts the count)."""
    client = app.test_client()
    for _ in range(INLINE_AFTER * 5):
        assert post_json(client, endpoint.path, sample("token.request.json")).status_code == 204
        if runner_of(app).inline(endpoint):
            return
    pytest.fail("the endpoint never moved to the request thread")


def test_a_handler_that_is_always_quick_moves_to_the_request_thread(
    release: threading.Event,
) -> None:
    threads: list[str] = []
    slow = threading.Event()

    def handler(call: TokenHookRequest) -> None:
        threads.append(threading.current_thread().name)
        if slow.is_set():
            release.wait(0.3)

    hooks = OktaHooks()
    hooks.token(handler)
    app = build_app(
        hooks, OKTA_HOOKS_STRICT=False, OKTA_HOOKS_DEADLINE=DEADLINE, OKTA_HOOKS_INLINE_UNDER=0.1
    )
    client = app.test_client()
    endpoint = hooks.endpoints["/token"]
    warm_up(app, endpoint)
    assert len(threads) >= INLINE_AFTER
    post_json(client, "/token", sample("token.request.json"))
    assert threads[-1] == threading.current_thread().name

    slow.set()
    started = time.perf_counter()
    late = post_json(client, "/token", sample("token.request.json"))
    took_inline = time.perf_counter() - started
    started = time.perf_counter()
    post_json(client, "/token", sample("token.request.json"))
    took_on_worker = time.perf_counter() - started

    assert late.status_code == 204  # the safe outcome, but late: the documented cost
    assert took_inline >= 0.3
    assert not runner_of(app).inline(endpoint)
    assert took_on_worker <= DEADLINE + SLACK


def test_an_inline_call_still_running_sends_the_next_call_to_a_worker() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)
    app = build_app(hooks, OKTA_HOOKS_INLINE_UNDER=0.1)
    client = app.test_client()
    endpoint = hooks.endpoints["/token"]
    warm_up(app, endpoint)
    lane = runner_of(app)._lanes[id(endpoint)]
    lane.running[-1] = time.perf_counter() - 1.0  # an inline call stuck for a second

    post_json(client, "/token", sample("token.request.json"))

    assert not runner_of(app).inline(endpoint)


def test_a_slow_hand_off_to_the_worker_does_not_count_against_the_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under load, waking a worker and the request thread again can take longer than the
    # handler itself; only the handler's own run time decides its lane.
    wait = WorkerPool.wait

    def slow_wait(pool: WorkerPool, job: Any, timeout: float) -> bool:
        time.sleep(0.03)
        return wait(pool, job, timeout)

    monkeypatch.setattr(WorkerPool, "wait", slow_wait)
    monkeypatch.setattr(runner, "INLINE_AFTER", 5)
    hooks = OktaHooks()
    hooks.token(lambda call: None)
    app = build_app(hooks, OKTA_HOOKS_INLINE_UNDER=0.02)
    client = app.test_client()

    for _ in range(5):
        post_json(client, "/token", sample("token.request.json"))

    assert runner_of(app).inline(hooks.endpoints["/token"])


def test_inline_under_zero_keeps_every_call_on_a_worker() -> None:
    threads: list[str] = []
    hooks = OktaHooks()
    hooks.token(lambda call: threads.append(threading.current_thread().name))
    app = build_app(hooks, OKTA_HOOKS_INLINE_UNDER=0)
    client = app.test_client()

    for _ in range(INLINE_AFTER + 5):
        post_json(client, "/token", sample("token.request.json"))

    assert all(name.startswith("okta-hooks-worker") for name in threads)
    assert not runner_of(app).inline(hooks.endpoints["/token"])


# --- time left ---------------------------------------------------------------------------------


def test_a_handler_sees_how_much_time_it_has_left() -> None:
    clock = FakeClock()
    seen: list[float] = []
    hooks = OktaHooks(clock=clock)

    @hooks.password_import
    def migrate(call: PasswordImportHookRequest) -> Any:
        seen.append(call.time_left())
        clock.now += 0.5
        seen.append(call.time_left())
        return call.respond().unverified()

    client = build_app(hooks, OKTA_HOOKS_DEADLINE=1.5).test_client()
    post_json(client, "/password-import", sample("password-import.request.json"))

    assert seen == [1.5, 1.0]


def test_time_left_is_infinite_outside_an_endpoint() -> None:
    call = TokenHookRequest.from_payload(sample("token.request.json"))

    assert call.time_left() == math.inf


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"OKTA_HOOKS_DEADLINE": 3}, "OKTA_HOOKS_DEADLINE must be a number of seconds"),
        ({"OKTA_HOOKS_DEADLINE": 0}, "above 0 and at most 2.5"),
        ({"OKTA_HOOKS_DEADLINE": True}, "OKTA_HOOKS_DEADLINE"),
        ({"OKTA_HOOKS_DEADLINE": math.nan}, "OKTA_HOOKS_DEADLINE"),
        ({"OKTA_HOOKS_WORKERS": 0}, "OKTA_HOOKS_WORKERS must be a whole number from 1"),
        ({"OKTA_HOOKS_INLINE_UNDER": -1}, "OKTA_HOOKS_INLINE_UNDER must be a number"),
        ({"OKTA_HOOKS_INLINE_UNDER": 0.5}, "to 0.1"),
    ],
)
def test_bad_deadline_settings_fail_at_start_up(config: dict[str, Any], message: str) -> None:
    from flask_okta_hooks import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        build_app(OktaHooks(), **config)


def test_the_deadline_defaults_to_two_seconds() -> None:
    app = build_app(OktaHooks())

    assert app.config["OKTA_HOOKS_DEADLINE"] == 2.0
    assert app.config["OKTA_HOOKS_WORKERS"] == 32
    assert app.config["OKTA_HOOKS_INLINE_UNDER"] == 0.02
