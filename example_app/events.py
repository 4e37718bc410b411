"""Keeping Okta's event hook events: once each, however often their handler runs.

Okta delivers an event at least once, so the same event may reach two gunicorn workers,
or one worker twice. Two unique keys in the database make sure it counts once:

* the library's event intake (``OKTA_HOOKS_EVENTS_INTAKE``, a table of this database)
  keeps each event by endpoint and ``uuid``: a redelivery is not queued again;
* the intake runs a handler at least once, not exactly once: a consumer that dies in the
  middle of a handler leaves the event to another, which runs it again. So
  :func:`record_event` stores the event under its unique ``uuid`` in the same
  transaction as what the handler does with it, and a second run changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flask_okta_hooks import LogEvent

from .db import Database
from .models import ReceivedEvent, utcnow

logger = logging.getLogger(__name__)

#: The longest event ``uuid`` the events table takes (``received_events.uuid``); Okta's
#: are 36 characters.
MAX_UUID = 64


class _AlreadyStored(Exception):
    pass


def record_event(
    db: Database,
    event: LogEvent,
    act: Callable[[Session, LogEvent], None] | None = None,
) -> bool:
    """Store ``event`` in ``received_events`` unless it is there; ``True`` when stored now.

    ``act`` runs in the same transaction, after the insert: the event is stored and
    acted on together, or neither (the handler then fails, and the intake runs it again
    later). An event stored with an ``act`` is marked processed.
    """
    if event.uuid is None or len(event.uuid) > MAX_UUID:
        # Without its id an event cannot be told from a redelivery of itself.
        logger.warning(
            "okta event not stored, no usable uuid: event_type=%r", event.event_type[:128]
        )
        return False
    try:
        with db.session() as session:
            session.add(
                ReceivedEvent(
                    uuid=event.uuid,
                    event_type=event.event_type[:200],
                    published=event.published.isoformat() if event.published else None,
                    payload=dict(event.raw),
                    processed_at=utcnow() if act is not None else None,
                )
            )
            try:
                session.flush()
            except IntegrityError:
                raise _AlreadyStored from None
            if act is not None:
                act(session, event)
    except _AlreadyStored:
        return False
    return True
