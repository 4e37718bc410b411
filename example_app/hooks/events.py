"""Event hooks: lifecycle and password import events, kept once each.

* ``user.lifecycle.*`` events (created, activated, suspended, deactivated ...) are kept
  in ``received_events`` for later processing.
* ``user.import.password`` is Okta's own record of a password import. Only when it
  reports ``SUCCESS`` has Okta stored the password, so only then is the legacy account
  marked for cleanup of its old hash (``password_cleanups``); the event is kept too.

Subscribe the event hook in Okta to these event types. Each delivery is committed to the
library's intake table before Okta gets its 204; the handlers run afterwards, from that
table, in consumer threads or a ``flask okta-hooks worker`` process.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from flask_okta_hooks import LogActor, LogEvent, OutcomeResult

from ..directory import confirm_password_import, find_okta_user
from ..events import record_event
from ..services import services
from .blueprint import hooks

PASSWORD_IMPORTED = "user.import.password"  # noqa: S105 (an event type)
LIFECYCLE = "user.lifecycle."


# Both handlers may run twice for one event: the intake runs them at least once, and again
# when a consumer dies in the middle of one. record_event makes a second run change
# nothing: it keys what it writes on event.uuid (see example_app.events).


@hooks.event(PASSWORD_IMPORTED)
def password_imported(event: LogEvent) -> None:
    succeeded = event.outcome is not None and event.outcome.result == OutcomeResult.SUCCESS
    record_event(services().db, event, _confirm_import if succeeded else None)


@hooks.event()
def lifecycle(event: LogEvent) -> None:
    # A catch-all rather than a list of types: Okta adds lifecycle event types over time.
    # Other types arrive only if the hook is subscribed to them, and are left alone.
    if event.event_type.startswith(LIFECYCLE):
        record_event(services().db, event)


def _confirm_import(session: Session, event: LogEvent) -> None:
    user = _okta_user(event)
    if user is None or event.uuid is None:
        return
    legacy = find_okta_user(session, user.id, user.alternate_id)
    if legacy is not None:
        confirm_password_import(session, legacy, event.uuid, event.published)


def _okta_user(event: LogEvent) -> LogActor | None:
    """The user the event is about: its User target, else a User actor."""
    for target in event.targets:
        if target.type == "User":
            return target
    actor = event.actor
    return actor if actor is not None and actor.type == "User" else None
