"""Event hook deliveries: each event to its handler, once, after the response.

Okta waits 3 s for an event hook and retries once, so the endpoint answers 204 as soon as
a delivery is authenticated, parsed and taken on by the intake (:mod:`.intake`); the
handlers run afterwards. Taking a delivery on means, for every event that has a handler:
claiming it in the de-duplication store, by endpoint and ``uuid`` (an event already
claimed is skipped), and putting it in the intake. An intake that de-duplicates by itself
(``deduplicates = True``: the database and Celery intakes) is given every event. A
delivery the intake refuses is answered 503 and its claims are given back, so Okta's one
retry can take it.

``OKTA_HOOKS_EVENTS_INLINE`` runs the handlers before the answer instead; a failure is
then a 503 (the events that were handled stay claimed, so the retry runs only the others).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

import orjson
from flask import Flask, current_app, has_request_context, request
from flask.blueprints import BlueprintSetupState

from ..config import EXTENSION_KEY, Settings
from ..errors import DedupeUnavailable, EventHandlerFailed, EventsNotAccepted
from ..hook_types import EVENTS
from ..hooks.events import EventHookRequest, LogEvent
from .backend import BackendError
from .dedupe import DedupeStore, release
from .intake import QueuedEvent
from .runtime import EventsRuntime, log_failure, printable

if TYPE_CHECKING:
    from ..blueprint import OktaHooks

logger = logging.getLogger("flask_okta_hooks")

EventHandler = Callable[[LogEvent], object]
H = TypeVar("H", bound=EventHandler)


class IntakeUnavailable(EventsNotAccepted):
    code = "intake_unavailable"
    message = "The events cannot be stored right now; the delivery was not accepted."


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
        """Route ``event_types`` (none: every other type) to ``handler``, which may be an
        ``async def`` function (run through the app's ``ensure_sync``: the ``async`` extra)."""
        if inspect.iscoroutinefunction(handler):
            handler = _through_ensure_sync(handler)
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
        """Accept a delivery: claim its new events and put them in the intake (or run
        them inline).

        Raises a 503 :class:`~.errors.EventsNotAccepted` when the delivery cannot be
        taken on; Okta retries it once.
        """
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = app.extensions[EXTENSION_KEY][self.config_prefix]
        settings: Settings = state.settings.get(app.config)
        runtime: EventsRuntime = state.events
        # An intake that de-duplicates by itself needs no claim here: a database intake
        # claims and queues in one commit, the Celery intake's tasks claim where they run.
        dedupes = getattr(runtime.intake, "deduplicates", False) and not settings.events_inline
        store = None if dedupes else runtime.store(settings.events_dedupe)
        # Two Okta event hooks may both send one event, to two endpoints of this app (or of
        # a fleet sharing the store): the key names the endpoint as well as the event.
        rule = request.url_rule if has_request_context() else None
        scope = self.path if rule is None else rule.rule
        claimed = self._claim(call.events, store, scope)
        if not claimed:
            return
        if settings.events_inline:
            handled = [self._run_inline(event, store, key) for event, key in claimed]
            if not all(handled):  # every event ran, even after a failure
                raise EventHandlerFailed
            return
        queued = [QueuedEvent(scope, event.uuid, orjson.dumps(event.raw)) for event, _ in claimed]
        try:
            runtime.intake.put(queued)
        except EventsNotAccepted:
            _release(store, claimed)
            logger.warning(
                "okta event hook delivery refused, the event queue is full: event_id=%r events=%d",
                printable(call.event_id),
                len(queued),
            )
            raise
        except BackendError as exc:
            _release(store, claimed)
            logger.error("okta event hook delivery refused: %s", exc)
            raise IntakeUnavailable from None

    def _claim(
        self, events: Sequence[LogEvent], store: DedupeStore | None, scope: str
    ) -> list[tuple[LogEvent, str | None]]:
        claimed: list[tuple[LogEvent, str | None]] = []
        try:
            for event in events:
                if self.handler_for(event.event_type) is None:
                    continue
                # Okta names two ids: the delivery's eventId and each event's uuid. Whether a
                # retry keeps the eventId and batches the same events is not documented, so
                # duplicates are recognised per event, by uuid (the System Log's own id).
                if store is None or event.uuid is None:
                    claimed.append((event, None))
                    continue
                key = f"{scope}#{event.uuid}"
                if store.claim(key):
                    claimed.append((event, key))
        except Exception as exc:
            _release(store, claimed)
            logger.error("okta event de-duplication store failed: error=%s", type(exc).__name__)
            raise DedupeUnavailable from None
        return claimed

    def _run_inline(self, event: LogEvent, store: DedupeStore | None, key: str | None) -> bool:
        handler = self.handler_for(event.event_type)
        try:
            if handler is not None:
                handler(event)
        except Exception as exc:
            log_failure(event, exc)
            if key is not None:
                release(store, key)
            return False
        return True


def _through_ensure_sync(handler: EventHandler) -> EventHandler:
    # Found once, when the handler is added; every path that runs a handler (inline, a
    # consumer thread, a worker process) has the app context pushed.
    @functools.wraps(handler)
    def run(event: LogEvent) -> object:
        return current_app.ensure_sync(handler)(event)

    return run


def _release(store: DedupeStore | None, claimed: Sequence[tuple[LogEvent, str | None]]) -> None:
    for _, key in claimed:
        if key is not None:
            release(store, key)


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

        def refuse_late(state: BlueprintSetupState) -> None:
            pass

        # Refuses handlers added after the blueprint was registered.
        blueprint.record_once(refuse_late)
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
    event ``uuid``, after the 204, from the intake, with the app context pushed.
    """

    def __get__(self, blueprint: OktaHooks, owner: type | None = None) -> _BoundEventDecorator:
        return _BoundEventDecorator(blueprint)
