"""Keeping Okta's event hook events: once each, whichever worker receives them.

Okta delivers an event at least once, so the same event may reach two gunicorn workers,
or one worker twice. Two unique keys in the database make sure it counts once:

* :class:`SqlDedupeStore` is the extension's de-duplication store
  (``OKTA_HOOKS_EVENTS_DEDUPE``): the first worker to insert an event's key runs its
  handler, every other one skips it;
* :func:`record_event` stores the event under its unique ``uuid`` in the same
  transaction as what the handler does with it, so even a second run changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flask_okta_hooks import LogEvent

from .db import Database
from .models import EventClaim, ReceivedEvent, utcnow

logger = logging.getLogger(__name__)

#: The longest event ``uuid`` the events table takes (``received_events.uuid``); Okta's
#: are 36 characters.
MAX_UUID = 64


class SqlDedupeStore:
    """A :class:`~flask_okta_hooks.DedupeStore` in the ``event_claims`` table.

    Every worker and host using the database shares it: an insert of a key already
    present fails on the primary key, in one statement, however many race. Claims are
    kept until :meth:`forget_before` removes them.

    Example::

        app.config["OKTA_HOOKS_EVENTS_DEDUPE"] = SqlDedupeStore(db)
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, key: str) -> bool:
        try:
            with self.db.session() as session:
                session.add(EventClaim(key=key))
        except IntegrityError:
            return False
        return True

    def release(self, key: str) -> None:
        with self.db.session() as session:
            session.execute(delete(EventClaim).where(EventClaim.key == key))

    def forget_before(self, cutoff: datetime) -> int:
        """Remove the claims made before ``cutoff``; returns how many went.

        Okta retries within seconds but states no limit on late duplicates; the
        extension's in-memory store keeps claims for a day. Older claims only take space.
        """
        with self.db.session() as session:
            result = session.execute(delete(EventClaim).where(EventClaim.claimed_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


class _AlreadyStored(Exception):
    pass


def record_event(
    db: Database,
    event: LogEvent,
    act: Callable[[Session, LogEvent], None] | None = None,
) -> bool:
    """Store ``event`` in ``received_events`` unless it is there; ``True`` when stored now.

    ``act`` runs in the same transaction, after the insert: the event is stored and
    acted on together, or neither (the handler then fails, and the extension gives the
    event's claim back). An event stored with an ``act`` is marked processed.
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
