"""Delivering Okta's one-time codes by SMS or voice through a pluggable provider.

A provider is anything with a ``name`` and a ``send(message) -> Delivery`` method
(:class:`TelephonyProvider`). The default, :class:`OutboxProvider`, writes the message
to the ``telephony_outbox`` table for the company's own relay to pick up; it reaches no
network. A provider that cannot send raises :class:`ProviderError` (or anything else)
and the hook reports ``FAILED`` at once, so Okta sends the code through its own
providers instead of waiting for a timeout.

Okta does not retry telephony hooks, and a late success after Okta gave up means two
codes for the user: a provider must bound its own network waits well under a second.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import insert

from flask_okta_hooks import DeliveryChannel, DeliveryStatus

from .db import LOCK_TIMEOUT, Database
from .models import OutboxMessage, utcnow

logger = logging.getLogger(__name__)

#: Pause before the first retry of a failed outbox write (doubled each time).
RETRY_PAUSE = 0.02
#: Time one outbox write may take at worst: it waits out the database's lock timeout.
ATTEMPT_BUDGET = LOCK_TIMEOUT

_PHONE_PUNCTUATION = re.compile(r"[\s().-]")
_PHONE = re.compile(r"\+?[0-9]{6,15}")


@dataclass(frozen=True)
class OutboundMessage:
    """One message to deliver. ``text`` holds the one-time code: it is kept out of ``repr``."""

    channel: DeliveryChannel
    phone_number: str
    text: str = field(repr=False)
    locale: str | None = None
    expires_at: datetime | None = None
    answer_by: float = math.inf
    """``time.monotonic()`` reading by which the provider must have answered."""


@dataclass(frozen=True)
class Delivery:
    """What a provider reports back, in Okta's terms."""

    status: DeliveryStatus
    provider: str
    transaction_id: str | None = None
    metadata: str | None = None


class ProviderError(Exception):
    """The provider did not send the message."""


@runtime_checkable
class TelephonyProvider(Protocol):
    """Sends one-time codes; see the module documentation for the timing contract."""

    name: str

    def send(self, message: OutboundMessage) -> Delivery:
        """Send ``message``; raise :class:`ProviderError` when it was not sent."""
        ...


class OutboxProvider:
    """Queues messages in the ``telephony_outbox`` table (no network).

    A write that fails (SQLite's writer lock held past its busy timeout, a database
    restart) is tried again after a short pause, as long as another attempt can still
    finish before ``message.answer_by``.
    """

    name = "OUTBOX"

    def __init__(self, db: Database) -> None:
        self._db = db

    def send(self, message: OutboundMessage) -> Delivery:
        started = time.monotonic()
        transaction_id = uuid.uuid4().hex
        row = {
            "transaction_id": transaction_id,
            "channel": message.channel.value,
            "phone_number": message.phone_number,
            "body": message.text,
            "locale": message.locale,
            "expires_at": message.expires_at,
            "created_at": utcnow(),
        }
        pause = RETRY_PAUSE
        for attempt in itertools.count(1):
            try:
                self._db.write(insert(OutboxMessage), row)
                break
            except Exception as exc:
                # One more attempt may wait out the lock timeout: only if it ends in time.
                if time.monotonic() + pause + ATTEMPT_BUDGET > message.answer_by:
                    error = type(exc).__name__
                    logger.warning("outbox write failed: attempts=%d error=%s", attempt, error)
                    raise ProviderError(f"outbox unavailable ({error})") from None
                time.sleep(pause)
                pause *= 2
        millis = round((time.monotonic() - started) * 1000)
        return Delivery(
            DeliveryStatus.SUCCESSFUL, self.name, transaction_id, f"Duration={millis}ms"
        )


def normalise_phone_number(value: str | None) -> str | None:
    """The number in ``+digits`` / ``digits`` form, or ``None`` when it is not a phone number."""
    if not value:
        return None
    number = _PHONE_PUNCTUATION.sub("", value)
    return number if _PHONE.fullmatch(number) else None


def message_text(channel: DeliveryChannel, template: str | None, code: str) -> str:
    """The text to deliver: Okta's own SMS text, or a spoken code for voice calls."""
    if channel is DeliveryChannel.SMS and template:
        return template
    if channel is DeliveryChannel.VOICE:
        # Spaced digits make text-to-speech read the code digit by digit.
        return "Your Example Corp verification code is " + " ".join(code) + "."
    return f"Your Example Corp verification code is {code}."
