"""Event hook deliveries: each event to its handler, once, after the response.

Okta waits 3 s for an event hook and retries once, so the endpoint answers 204 as soon as
a delivery is authenticated, parsed and accepted, and the handlers run afterwards on a
few background threads per app (:class:`EventWorker`). Accepting a delivery means, for
every event that has a handler: claiming it in the de-duplication store, by endpoint and
``uuid`` (an event already claimed is skipped), and putting it on the bounded queue. A
delivery that does not fit the queue is answered 503 and its claims are given back, so
Okta's one retry can take it. A handler that raises is logged (exception type only) and
its claim is given back.

Handlers run with the app context pushed. ``OKTA_HOOKS_EVENTS_INLINE`` runs them before
the answer instead; a failure is then a 503 (the events that were handled stay claimed,
so the retry runs only the others).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from flask import Flask, current_app, has_request_context, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App

from .config import EXTENSION_KEY, Settings
from .dedupe import DedupeStore, MemoryDedupeStore
from .errors import DedupeUnavailable, EventHandlerFailed, EventQueueFull
from .hook_types import EVENTS
from .hooks.events import EventHookRequest, LogEvent

if TYPE_CHECKING:
    from .blueprint import OktaHooks

logger = logging.getLogger("flask_okta_hooks")

#: Where an app keeps its :class:`EventRuntime` per configuration prefix.
RUNTIME_KEY = "okta_hooks_events"
#: Logged event types are cut to this length; they come from the request.
_LOGGED_CHARS = 128
#: Seconds a worker thread waits for work before it ends; the next delivery starts it
#: again. Keeps a quiet or discarded app from holding threads forever.
IDLE_EXIT = 60.0

EventHandler = Callable[[LogEvent], object]
H = TypeVar("H", bound=EventHandler)


# --- routing ---------------------------------------------------------------------------------


class EventRouter:
    """The handler of one event hook endpoint: picks each event's handler by ``eventType``.

    A handler named for an event type gets those events; the catch-all gets every other
    type; events of a type nobody handles are acknowledged and dropped.
    """

    def __init__(self, config_prefix: str, path: str) -> None:
        self.config_prefix = config_prefix
        self.path = path
        """Where the router is mounted, below the blueprint's prefix."""
        self.handlers: dict[str, EventHandler] = {}
        self.catch_all: EventHandler | None = None

    def add(self, handler: EventHandler, event_types: Sequence[str]) -> None:
        """Route ``event_types`` (none: every other type) to ``handler``."""
        if not event_types:
            if self.catch_all is not None:
                raise ValueError("this endpoint already has a catch-all event handler")
            self.catch_all = handler
            return
        for event_type in event_types:
            if event_type in self.handlers:
                raise ValueError(f"{event_type!r} already has a handler at this endpoint")
        for event_type in event_types:
            self.handlers[event_type] = handler

    def handler_for(self, event_type: str) -> EventHandler | None:
        return self.handlers.get(event_type, self.catch_all)

    def __call__(self, call: EventHookRequest) -> None:
        """Accept a delivery: claim its new events and queue them (or run them inline).

        Raises a 503 :class:`~.errors.EventsNotAccepted` when the delivery cannot be
        taken on; Okta retries it once.
        """
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        settings: Settings = app.extensions[EXTENSION_KEY][self.config_prefix].get(app.config)
        runtime = install(app, self.config_prefix)
        store = runtime.store(settings.events_dedupe)
        # Two Okta event hooks may both send one event, to two endpoints of this app (or of
        # a fleet sharing the store): the key names the endpoint as well as the event.
        rule = request.url_rule if has_request_context() else None
        scope = self.path if rule is None else rule.rule
        jobs = self._claim(call.events, store, scope)
        if not jobs:
            return
        if settings.events_inline:
            handled = [job.run() for job in jobs]  # every job, even after a failure
            if not all(handled):
                raise EventHandlerFailed
            return
        if not runtime.worker.submit(app, jobs, settings.events_queue):
            _release(jobs)
            logger.warning(
                "okta event hook delivery refused, the event queue is full: event_id=%r events=%d",
                _printable(call.event_id),
                len(jobs),
            )
            raise EventQueueFull

    def _claim(
        self, events: Sequence[LogEvent], store: DedupeStore | None, scope: str
    ) -> list[EventJob]:
        jobs: list[EventJob] = []
        try:
            for event in events:
                handler = self.handler_for(event.event_type)
                if handler is None:
                    continue
                # Okta names two ids: the delivery's eventId and each event's uuid. Whether a
                # retry keeps the eventId and batches the same events is not documented, so
                # duplicates are recognised per event, by uuid (the System Log's own id).
                if store is None or event.uuid is None:
                    jobs.append(EventJob(handler, event))
                    continue
                key = f"{scope}#{event.uuid}"
                if store.claim(key):
                    jobs.append(EventJob(handler, event, store, key))
        except Exception as exc:
            _release(jobs)
            logger.error("okta event de-duplication store failed: error=%s", type(exc).__name__)
            raise DedupeUnavailable from None
        return jobs


@dataclass(frozen=True, slots=True)
class EventJob:
    """One event for one handler, and where its claim is held (if it was claimed)."""

    handler: EventHandler
    event: LogEvent
    store: DedupeStore | None = None
    key: str = ""

    def run(self) -> bool:
        """Call the handler; on failure log it, give the claim back and return ``False``."""
        try:
            self.handler(self.event)
        except Exception as exc:
            # Type only: a message could quote the event, which carries personal data.
            logger.error(
                "okta event handler failed: event_type=%r uuid=%r error=%s",
                _printable(self.event.event_type),
                _printable(self.event.uuid),
                type(exc).__name__,
            )
            self.release()
            return False
        return True

    def release(self) -> None:
        if self.store is None:
            return
        try:
            self.store.release(self.key)
        except Exception as exc:
            logger.error(
                "okta event de-duplication store failed to release: error=%s",
                type(exc).__name__,
            )


def _release(jobs: Sequence[EventJob]) -> None:
    for job in jobs:
        job.release()


def _printable(value: str | None) -> str | None:
    return None if value is None else value[:_LOGGED_CHARS]


# --- the background worker -------------------------------------------------------------------


class EventWorker:
    """A few daemon threads running queued event jobs, with the app context pushed.

    Threads start with the first job, and again in a process forked after that (a
    pre-forking server that loaded the app in its master): threads do not survive a fork.
    Threads idle for :data:`IDLE_EXIT` seconds end, and start again with the next job.
    """

    def __init__(self, threads: int, exit_wait: float = 0.0) -> None:
        self.threads = threads
        self.exit_wait = exit_wait
        self._reset()
        _WORKERS.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._jobs: deque[tuple[Flask, EventJob]] = deque()
        self._unfinished = 0
        self._running: list[threading.Thread] = []

    def submit(self, app: Flask, jobs: Sequence[EventJob], capacity: int) -> bool:
        """Queue all of ``jobs`` or none: ``False`` when they would exceed ``capacity``.

        A batch larger than ``capacity`` is still taken when nothing waits, so that no
        delivery is refused forever; the body limit bounds its size.
        """
        with self._lock:
            if self._jobs and len(self._jobs) + len(jobs) > capacity:
                return False
            self._jobs.extend((app, job) for job in jobs)
            self._unfinished += len(jobs)
            self._start_threads()
            self._work.notify(len(jobs))
        return True

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued job has run; ``False`` if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._unfinished:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return self._unfinished

    def _start_threads(self) -> None:
        # Threads that died (a handler raising SystemExit) are replaced here too.
        self._running = [thread for thread in self._running if thread.is_alive()]
        while len(self._running) < self.threads:
            thread = threading.Thread(target=self._serve, name="okta-hooks-events", daemon=True)
            thread.start()
            self._running.append(thread)

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._jobs:
                    if not self._work.wait(IDLE_EXIT) and not self._jobs:
                        current = threading.current_thread()
                        if current in self._running:
                            self._running.remove(current)
                        return
                app, job = self._jobs.popleft()
            try:
                with app.app_context():
                    job.run()
            except Exception as exc:  # an app context hook failed: the thread carries on
                logger.error("okta event worker: app context failed: error=%s", type(exc).__name__)
            finally:
                with self._lock:
                    self._unfinished -= 1
                    if not self._unfinished:
                        self._idle.notify_all()


_WORKERS: weakref.WeakSet[EventWorker] = weakref.WeakSet()


def _after_fork() -> None:
    # The child has copies of the parent's locks (maybe held) and none of its threads.
    for worker in list(_WORKERS):
        worker._reset()


def _wait_at_exit() -> None:
    for worker in list(_WORKERS):
        if worker.exit_wait > 0 and worker.pending and not worker.drain(worker.exit_wait):
            logger.warning("okta event handlers still pending at exit: events=%d", worker.pending)


os.register_at_fork(after_in_child=_after_fork)
atexit.register(_wait_at_exit)


# --- per app state ---------------------------------------------------------------------------

_INSTALL_LOCK = threading.Lock()


class EventRuntime:
    """What one app keeps for the event hooks of one configuration prefix."""

    def __init__(self, settings: Settings) -> None:
        self.worker = EventWorker(settings.events_workers, settings.events_exit_wait)
        self.memory_store = MemoryDedupeStore()

    def store(self, configured: DedupeStore | str | None) -> DedupeStore | None:
        """The store named by ``OKTA_HOOKS_EVENTS_DEDUPE``."""
        if configured == "memory":
            return self.memory_store
        return configured  # type: ignore[return-value]


def install(app: App, prefix: str) -> EventRuntime:
    """Give ``app`` the event runtime of ``prefix`` unless it has one, and return it."""
    runtime: EventRuntime | None = app.extensions.get(RUNTIME_KEY, {}).get(prefix)
    if runtime is not None:
        return runtime
    with _INSTALL_LOCK:  # one runtime, even when requests race to create it
        runtimes: dict[str, EventRuntime] = app.extensions.setdefault(RUNTIME_KEY, {})
        if prefix not in runtimes:
            settings = app.extensions[EXTENSION_KEY][prefix].get(app.config)
            runtimes[prefix] = EventRuntime(settings)
        return runtimes[prefix]


def drain(app: App, prefix: str, timeout: float | None = None) -> bool:
    """Wait until the events ``app`` took on for ``prefix`` have been handled."""
    runtime: EventRuntime | None = app.extensions.get(RUNTIME_KEY, {}).get(prefix)
    return True if runtime is None else runtime.worker.drain(timeout)


# --- the decorator ---------------------------------------------------------------------------


class _BoundEventDecorator:
    def __init__(self, blueprint: OktaHooks) -> None:
        self._blueprint = blueprint

    @overload
    def __call__(self, handler: H, /) -> H: ...

    @overload
    def __call__(self, *event_types: str, path: str | None = None) -> Callable[[H], H]: ...

    def __call__(self, *args: Any, path: str | None = None) -> Any:
        if len(args) == 1 and callable(args[0]):
            self._register(args[0], (), path)
            return args[0]
        for event_type in args:
            if not isinstance(event_type, str) or not event_type:
                raise TypeError("event types are non-empty strings such as 'user.session.start'")

        def register(handler: H) -> H:
            self._register(handler, args, path)
            return handler

        return register

    def _register(
        self, handler: EventHandler, event_types: Sequence[str], path: str | None
    ) -> None:
        blueprint = self._blueprint
        path = EVENTS.default_path if path is None else path
        endpoint = blueprint.endpoints.get(path)
        if endpoint is None:
            router = EventRouter(blueprint.config_prefix, path)
            blueprint.mount(EVENTS, router, path)
        elif isinstance(endpoint.handler, EventRouter):
            router = endpoint.handler
        else:
            raise ValueError(f"{path!r} already serves a {endpoint.hook_type.slug} hook")
        prefix = blueprint.config_prefix

        def setup(state: BlueprintSetupState) -> None:
            install(state.app, prefix)

        # Also refuses handlers added after the blueprint was registered.
        blueprint.record_once(setup)
        router.add(handler, event_types)


class EventDecorator:
    """``@hooks.event(...)``: handle event hook events by type.

    Example::

        @hooks.event("user.lifecycle.deactivate")        # POST /okta/hooks/events
        def offboard(event: LogEvent) -> None:
            ...

        @hooks.event("user.session.start", "user.session.end")
        def sessions(event: LogEvent) -> None:
            ...

        @hooks.event()                                   # every other event type
        def archive(event: LogEvent) -> None:
            ...

        @hooks.event("group.user_membership.add", path="/events/groups")
        def groups(event: LogEvent) -> None:             # a second event hook endpoint
            ...

    ``@hooks.event`` without parentheses is the catch-all too. Handlers run once per
    event id, after the 204, on background threads with the app context pushed.
    """

    def __get__(self, blueprint: OktaHooks, owner: type | None = None) -> _BoundEventDecorator:
        return _BoundEventDecorator(blueprint)
