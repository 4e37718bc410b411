"""Run one handler under its call's deadline and turn what happens into an :class:`Outcome`.

Two lanes, chosen per endpoint from what its handler has shown:

* **Worker** (where every endpoint starts): the handler, and the check and serialisation
  of its result, run on a worker of the app's
  :class:`~flask_okta_hooks.deadline.WorkerPool` while the request thread waits at most
  until the deadline. The worker sees the same ``request`` and ``current_app`` as the
  view, in an app context of its own holding a copy of ``g``, so whatever the app tears
  down per context (a database session) is torn down on the thread that used it, even
  when the handler outlives its call.
* **Inline**: once a handler's last :data:`INLINE_AFTER` calls each took less than
  ``OKTA_HOOKS_INLINE_UNDER``, it runs on the request thread. Handing a call to another
  thread costs more than such a handler itself (measured: the call's data goes cold on
  another core), and a handler that quick is computing, not waiting. What counts is the
  handler's own run (with the check and serialisation of its result), never the
  hand-off: on a busy server, waking a worker and then the request thread again can
  take longer than a quick handler, and would keep it on the workers for good. Any call
  over the limit (finished, or still running when the next call arrives) sends the
  endpoint back to the worker lane. An inline call that ends after its deadline still
  gets the failure outcome, late: only the calls already running inline when a
  dependency stalls lose the deadline's protection.

``OKTA_HOOKS_INLINE_UNDER = 0`` keeps every call in the worker lane.
"""

from __future__ import annotations

import contextvars
import itertools
import math
from collections.abc import Callable
from typing import Any, Final

from flask import Flask, g

from .config import Settings
from .deadline import Clock, Job, WorkerPool
from .endpoint import Endpoint
from .errors import DeadlineExceeded, HookRequestError
from .failure import Failure, FailurePolicy, Outcome, Reason, Render
from .logs import log_late
from .redaction import mask_call_values, unmask_call_values
from .request import HookRequest

#: Consecutive quick calls after which a handler runs inline.
INLINE_AFTER: Final = 100


class _Lane:
    """What is known of one endpoint's handler speed (updated without locks: a lost
    update only delays a switch by a call)."""

    __slots__ = ("inline", "running", "streak")

    def __init__(self) -> None:
        self.inline = False
        self.streak = 0
        self.running: dict[int, float] = {}
        """Start times of the inline calls running now."""

    def record(self, took: float, limit: float) -> None:
        if took < limit:
            self.streak += 1
            if self.streak >= INLINE_AFTER:
                self.inline = True
        else:
            self.streak = 0
            self.inline = False

    def stalled(self, now: float, limit: float) -> bool:
        """Whether an inline call has run past ``limit``; sends the lane to the workers."""
        if self.running and now - min(self.running.values()) >= limit:
            self.streak = 0
            self.inline = False
            return True
        return False


class _Unanswered(Exception):
    """The handler gave no answer in time (deadline, no free worker)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason.value)
        self.failure = failure


class HandlerRunner:
    """Runs the handlers of one app and configuration prefix; the blueprint makes one
    when it is registered."""

    def __init__(self, workers: int, clock: Clock) -> None:
        self.pool = WorkerPool(workers)
        self.clock = clock
        self._lanes: dict[int, _Lane] = {}
        self._ids = itertools.count()

    def inline(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint``'s handler runs on the request thread now."""
        lane = self._lanes.get(id(endpoint))
        return lane is not None and lane.inline

    def run(
        self,
        app: Flask,
        endpoint: Endpoint,
        call: HookRequest,
        settings: Settings,
        render: Render,
    ) -> Outcome:
        """Answer ``call`` with ``endpoint``'s handler, or with its failure outcome.

        Raises :class:`~flask_okta_hooks.errors.HookRequestError` when the handler read a
        malformed section (a 400), and, in strict mode, the handler's own exception or
        :class:`~flask_okta_hooks.errors.DeadlineExceeded`.
        """
        values = call.masked_values()
        if not values:
            return self._run(app, endpoint, call, settings, render)
        masked = mask_call_values(values)
        try:
            return self._run(app, endpoint, call, settings, render)
        finally:
            unmask_call_values(masked)

    def _run(
        self,
        app: Flask,
        endpoint: Endpoint,
        call: HookRequest,
        settings: Settings,
        render: Render,
    ) -> Outcome:
        lane = self._lanes.get(id(endpoint))
        if lane is None:
            lane = self._lanes.setdefault(id(endpoint), _Lane())
        limit = settings.inline_under
        started = self.clock()
        try:
            if lane.inline and limit > 0 and not lane.stalled(started, limit):
                body = self._run_inline(lane, endpoint, call, settings, render, started)
            else:
                body = self._run_on_worker(lane, app, endpoint, call, settings, render)
            return Outcome(body)
        except HookRequestError:
            raise
        except _Unanswered as unanswered:
            failure = unanswered.failure
            if failure.reason is Reason.DEADLINE and _strict(app, endpoint, settings):
                raise DeadlineExceeded(settings.deadline) from None
        except Exception as exc:
            if _strict(app, endpoint, settings):
                raise
            failure = Failure.of(exc)
        policy = endpoint.policy or FailurePolicy.resolve(endpoint.hook_type, None)
        return policy.outcome(call, failure, render)

    def _run_inline(
        self,
        lane: _Lane,
        endpoint: Endpoint,
        call: HookRequest,
        settings: Settings,
        render: Render,
        started: float,
    ) -> bytes | None:
        key = next(self._ids)
        lane.running[key] = started
        try:
            result = endpoint.handler(call)
            body = render(endpoint.hook_type, call, result, settings)
        finally:
            del lane.running[key]
            lane.record(self.clock() - started, settings.inline_under)
        if call.time_left() < 0:  # too late to use: answered as the worker lane would
            raise _Unanswered(Failure(Reason.DEADLINE))
        return body

    def _run_on_worker(
        self,
        lane: _Lane,
        app: Flask,
        endpoint: Endpoint,
        call: HookRequest,
        settings: Settings,
        render: Render,
    ) -> bytes | None:
        hook_type = endpoint.hook_type
        handler = endpoint.handler
        shared_g = dict(vars(g._get_current_object()))
        clock = self.clock
        took = [math.inf]  # the handler's own run time, without the hand-off

        def produce() -> bytes | None:
            context = app.app_context()
            vars(context.g).update(shared_g)
            with context:
                began = clock()
                try:
                    return render(hook_type, call, handler(call), settings)
                finally:
                    took[0] = clock() - began

        job = Job(_in_context(contextvars.copy_context(), produce))
        pool = self.pool
        if call.time_left() <= 0:  # the body took the whole budget to arrive
            raise _Unanswered(Failure(Reason.DEADLINE))
        if not pool.submit(job):
            raise _Unanswered(Failure(Reason.SATURATED))
        if not pool.wait(job, call.time_left()) and pool.abandon(
            job, _report_late(hook_type.slug, call, settings.deadline)
        ):
            lane.record(math.inf, settings.inline_under)
            raise _Unanswered(Failure(Reason.DEADLINE))
        lane.record(took[0], settings.inline_under)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]


def _strict(app: Flask, endpoint: Endpoint, settings: Settings) -> bool:
    # Strict mode shows the developer failures that the safe outcome would paper over. A
    # hook type that answers failures with a refusal papers over nothing: the 503 is
    # logged and Okta records the failed call, where a raise would only turn it into a 500.
    if endpoint.hook_type.response_class.failure_refusal is not None:
        return False
    return settings.strict if settings.strict is not None else app.debug or app.testing


def _in_context(context: contextvars.Context, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        return context.run(fn)

    return run


def _report_late(hook: str, call: HookRequest, deadline: float) -> Callable[[Job], None]:
    def report(job: Job) -> None:
        error = job.error
        failure = Failure.of(error) if isinstance(error, Exception) else None
        log_late(hook, call.event_id, deadline - call.time_left(), failure)

    return report
