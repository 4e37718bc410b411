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

A call that finds every worker busy waits in line for one, first come first served, while
at least :data:`RUN_SHARE` of its deadline is left for the handler to run in; a call that
cannot start by then gets the failure outcome ``saturated``. When handlers abandoned at
their deadline hold every worker (a stalled dependency), calls get it at once instead.
Either is logged once as a WARNING (at most every :data:`WARN_EVERY` seconds) that names
the workers setting.

A handler that raises a :class:`BaseException` that is not an :class:`Exception`
(``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit`` ...) gets the failure outcome
like any other, strict mode included, on either lane: left to propagate, it would end the
server's request thread or worker process and every call in flight with it. The one
exception: ``KeyboardInterrupt`` and ``SystemExit`` raised on the main thread propagate,
since that is where signals arrive (Ctrl-C in a single-threaded development server, a
server stopping its process with ``sys.exit``). Only an inline handler can run there, and
only under a server that serves calls on its main thread.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import threading
from collections.abc import Callable
from typing import Any, Final

from flask import Flask, g

from .config import Settings
from .deadline import Clock, Job, WorkerPool
from .endpoint import Endpoint
from .errors import DeadlineExceeded, HookRequestError
from .failure import Failure, FailurePolicy, Outcome, Reason, Render
from .logs import log_late, logger
from .redaction import mask_call_values, unmask_call_values
from .request import HookRequest

#: Consecutive quick calls after which a handler runs inline.
INLINE_AFTER: Final = 100
#: A call waiting for a worker must start with at least this share of its deadline left
#: (half: 1.0 s of the default 2.0 s, as the warnings and the README say), for its handler
#: to run in. A line of quick handlers drains far sooner; a handler needing more than
#: that would overrun anyway.
RUN_SHARE: Final = 0.5
#: Fewest seconds between two warnings of one kind about calls short of workers.
WARN_EVERY: Final = 60.0


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
    """The handler gave no answer (deadline, no free worker, or it raised on a worker
    what is not an :class:`Exception`)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason.value)
        self.failure = failure


class HandlerRunner:
    """Runs the handlers of one app and configuration prefix; the blueprint makes one
    when it is registered."""

    def __init__(self, workers: int, clock: Clock, workers_key: str = "OKTA_HOOKS_WORKERS") -> None:
        self.pool = WorkerPool(workers)
        self.clock = clock
        self.workers_key = workers_key
        self._lanes: dict[int, _Lane] = {}
        self._ids = itertools.count()
        self._warn_lock = threading.Lock()
        self._quiet_until: dict[str, float] = {}

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
                body = self._run_inline(lane, app, endpoint, call, settings, render, started)
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
        except (KeyboardInterrupt, SystemExit) as exc:
            if threading.current_thread() is threading.main_thread():
                raise  # how signals stop the process; see the module doc
            failure = Failure.of(exc)
        except BaseException as exc:
            failure = Failure.of(exc)
        policy = endpoint.policy or FailurePolicy.resolve(endpoint.hook_type, None)
        return policy.outcome(call, failure, render)

    def _run_inline(
        self,
        lane: _Lane,
        app: Flask,
        endpoint: Endpoint,
        call: HookRequest,
        settings: Settings,
        render: Render,
        started: float,
    ) -> bytes | None:
        key = next(self._ids)
        lane.running[key] = started
        try:
            result = _handler(app, endpoint)(call)
            body = render(endpoint.hook_type, call, result, settings, endpoint.waived)
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
        hook_type, waived = endpoint.hook_type, endpoint.waived
        handler = _handler(app, endpoint)
        shared_g = dict(vars(g._get_current_object()))
        clock = self.clock
        took = [math.inf]  # the handler's own run time, without the hand-off

        def produce() -> bytes | None:
            context = app.app_context()
            vars(context.g).update(shared_g)
            with context:
                began = clock()
                try:
                    return render(hook_type, call, handler(call), settings, waived)
                finally:
                    took[0] = clock() - began

        job = Job(_in_context(contextvars.copy_context(), produce))
        pool = self.pool
        left = call.time_left()
        if left <= 0:  # the body took the whole budget to arrive
            raise _Unanswered(Failure(Reason.DEADLINE))
        if not pool.submit(job, left - settings.deadline * RUN_SHARE):
            self._short_of_workers(waited=False)
            raise _Unanswered(Failure(Reason.SATURATED))
        if job.queued:
            self._short_of_workers(waited=True)
            if not pool.wait_start(job):
                raise _Unanswered(Failure(Reason.SATURATED))
        if not pool.wait(job, call.time_left()) and pool.abandon(
            job, _report_late(hook_type.slug, call, settings.deadline)
        ):
            lane.record(math.inf, settings.inline_under)
            raise _Unanswered(Failure(Reason.DEADLINE))
        lane.record(took[0], settings.inline_under)
        error = job.error
        if error is not None:
            if not isinstance(error, Exception):  # raised on a worker: it stops nothing here
                raise _Unanswered(Failure.of(error))
            raise error
        return job.result  # type: ignore[no-any-return]

    def _short_of_workers(self, waited: bool) -> None:
        """Warn that calls wait for a worker, or get their failure outcome for want of
        one: once, then at most every :data:`WARN_EVERY` seconds for each of the three."""
        pool = self.pool
        if waited:
            kind = (
                "okta hook calls are waiting for a worker: all %d are busy; a call that "
                "cannot start with half its deadline left gets its failure outcome "
                "(saturated). Set %s to at least the server's request threads per process "
                "(gunicorn --threads)."
            )
        elif pool.abandoned >= pool.size:
            kind = (
                "okta hook calls get their failure outcome (saturated) at once: handlers "
                "past their deadline hold all %d workers (%s), a stalled dependency? "
                "Workers come back as those handlers return."
            )
        else:
            kind = (
                "okta hook calls get their failure outcome (saturated): all %d workers are "
                "busy and the call has less than half its deadline left to wait. Raise %s."
            )
        now = self.clock()
        with self._warn_lock:
            if now < self._quiet_until.get(kind, -math.inf):
                return
            self._quiet_until[kind] = now + WARN_EVERY
        logger.warning(kind, pool.size, self.workers_key)


def _handler(app: Flask, endpoint: Endpoint) -> Callable[[HookRequest], Any]:
    # An async handler runs to completion on an event loop of its own, as Flask runs an
    # async view; the call's deadline, lanes and failure policy apply to it unchanged.
    if endpoint.coroutine:
        return app.ensure_sync(endpoint.handler)
    return endpoint.handler


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
        failure = None if error is None else Failure.of(error)
        log_late(hook, call.event_id, deadline - call.time_left(), failure)

    return report
