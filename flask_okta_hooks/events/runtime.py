"""The event side of one configuration prefix: its intake, its de-duplication store and
the routers of its endpoints, made once when the blueprint is registered.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING

import orjson
from flask import Flask, current_app, has_app_context

from ..config import Settings
from ..errors import ConfigurationError
from ..hooks.events import LogEvent, load_event
from .backend import BackendError
from .celery_intake import CeleryIntake
from .dedupe import DedupeStore, release, resolve_dedupe
from .intake import EventIntake, MemoryIntake, QueuedEvent, resolve_intake

if TYPE_CHECKING:
    from .router import EventRouter

logger = logging.getLogger("flask_okta_hooks")

#: Logged event types are cut to this length; they come from the request.
LOGGED_CHARS = 128


class EventsRuntime:
    """What an app keeps for the event hooks of one configuration prefix.

    Handlers run with the app context pushed; the runtime holds the app weakly, so the
    consumer threads of a discarded app end. A database intake's consumer threads start
    with the first hook call the process serves (:meth:`serve_here`), not when the app is
    made: a command that only loads the app (``flask okta-hooks events failed``, ``flask
    routes``) takes no events.
    """

    def __init__(self, app: Flask, prefix: str, settings: Settings) -> None:
        self.prefix = prefix
        self._app = weakref.ref(app)
        self.routers: dict[str, EventRouter] = {}
        """The endpoints' routers by URL rule (and by path below the blueprint's prefix)."""
        key = prefix + "EVENTS_INTAKE"
        try:
            self.intake: EventIntake = resolve_intake(
                key,
                settings.events_intake,
                capacity=settings.events_queue,
                exit_wait=settings.events_exit_wait,
                attempts=settings.events_attempts,
                lease=settings.events_lease,
                retry_delay=settings.events_retry_delay,
                celery=settings.events_celery,
            )
            self.intake.check()
            self._dedupe_value: object = settings.events_dedupe
            self._dedupe = resolve_dedupe(prefix + "EVENTS_DEDUPE", settings.events_dedupe)
            check = getattr(self._dedupe, "check", None)
            if check is not None:
                check()
        except BackendError as exc:
            raise ConfigurationError(
                f"{prefix}EVENTS_INTAKE or {prefix}EVENTS_DEDUPE: {exc}"
            ) from exc
        if isinstance(self.intake, CeleryIntake):  # its tasks claim their events
            self.intake.dedupe = self.current_store
        if isinstance(self.intake, MemoryIntake):
            if settings.events_workers < 1:
                raise ConfigurationError(
                    f"{prefix}EVENTS_WORKERS must be at least 1 with the 'memory' intake: "
                    f"its events are handled by threads of this process"
                )
            if not (app.debug or app.testing):
                logger.warning(
                    "%sEVENTS_INTAKE is 'memory': events answered 204 and not yet handled "
                    "are lost when the process stops; set it to a database URL such as "
                    "'sqlite:///okta-events.db' to keep them",
                    prefix,
                )
        self.intake.start(self.handle, self.give_up, settings.events_workers)
        #: An intake that runs consumers in the web process starts them when it serves.
        self._serving: bool = not hasattr(self.intake, "serve_here")
        self._lock = threading.Lock()

    def serve_here(self) -> None:
        """The process serves hook calls: let the intake start its consumers, once (each
        call after is a flag read)."""
        if self._serving:
            return
        with self._lock:
            if not self._serving:
                self.intake.serve_here()  # type: ignore[attr-defined]
                self._serving = True

    def store(self, configured: object) -> DedupeStore | None:
        """The store ``OKTA_HOOKS_EVENTS_DEDUPE`` names now (made once per value)."""
        if configured is not self._dedupe_value and configured != self._dedupe_value:
            self._dedupe = resolve_dedupe(self.prefix + "EVENTS_DEDUPE", configured)
            self._dedupe_value = configured
        return self._dedupe

    def current_store(self) -> DedupeStore | None:
        """The de-duplication store in use now (the one :meth:`store` made last)."""
        return self._dedupe

    def handle(self, queued: QueuedEvent) -> None:
        """Run the handler of one queued event with the app context pushed.

        The handler is looked up now, by the event's type; an event nobody handles any
        more is dropped. Raises what the handler raised (logged).
        """
        app = self._app()
        if app is None:
            raise RuntimeError("the app of these events is gone")
        event = load_event(orjson.loads(queued.body))
        router = self.routers.get(queued.path)
        handler = None if router is None else router.handler_for(event.event_type)
        if handler is None:
            logger.warning(
                "okta event dropped, no handler: path=%r event_type=%r",
                queued.path,
                printable(event.event_type),
            )
            return
        # A Celery task of Flask's pattern (FlaskTask) has pushed this app's context already.
        pushed = has_app_context() and current_app._get_current_object() is app  # type: ignore[attr-defined]
        context = None if pushed else app.app_context()
        if context is not None:
            context.push()
        try:
            handler(event)
        except Exception as exc:
            log_failure(event, exc)
            raise
        finally:
            try:
                if context is not None:
                    context.pop()
            except Exception as exc:  # a teardown hook failed; the handler's work stands
                logger.error("okta event worker: app context failed: error=%s", type(exc).__name__)

    def give_up(self, queued: QueuedEvent) -> None:
        """Return the claim of an event that will not run again, so a redelivery runs it."""
        if queued.uuid is not None:
            release(self._dedupe, f"{queued.path}#{queued.uuid}")

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the events taken on have been handled (or parked)."""
        return self.intake.drain(timeout)


def log_failure(event: LogEvent, exc: Exception) -> None:
    """Log a failed handler by exception type only: a message could quote the event, which
    carries personal data."""
    logger.error(
        "okta event handler failed: event_type=%r uuid=%r error=%s",
        printable(event.event_type),
        printable(event.uuid),
        type(exc).__name__,
    )


def printable(value: str | None) -> str | None:
    """``value`` cut to :data:`LOGGED_CHARS` (it comes from the request)."""
    return None if value is None else value[:LOGGED_CHARS]
