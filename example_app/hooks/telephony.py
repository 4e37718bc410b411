"""Telephony inline hook: one-time codes go out through the company's provider.

The default provider queues the message in the ``telephony_outbox`` table. A number
that is not a phone number, a provider failure, or too little time left all answer
``FAILED`` at once, so Okta sends the code through its own providers instead of
waiting out its timeout. The code and the message never reach the audit or the logs.
"""

from __future__ import annotations

import logging
import time

from flask_okta_hooks import (
    DeliveryChannel,
    DeliveryStatus,
    TelephonyHookRequest,
    TelephonyHookResponse,
)

from ..audit import audited, note
from ..services import services
from ..telephony import OutboundMessage, message_text, normalise_phone_number
from .blueprint import hooks

logger = logging.getLogger(__name__)

#: A provider call started with less time left than this would likely finish after the
#: call's deadline, when the library has already answered with Okta's fallback: the user
#: would get a second code.
PROVIDER_BUDGET = 0.5
#: Kept free at the end of the deadline for rendering and sending the answer.
ANSWER_MARGIN = 0.1


@hooks.telephony
@audited
def send_code(call: TelephonyHookRequest) -> TelephonyHookResponse:
    found = services()
    provider = found.telephony
    profile = call.message_profile
    number = normalise_phone_number(profile.phone_number)
    if number is None:
        note("FAILED:phone_number")
        return call.respond().failed(provider.name)
    if call.time_left() < PROVIDER_BUDGET:
        note("FAILED:late")
        return call.respond().failed(provider.name)
    channel = profile.delivery_channel or DeliveryChannel.SMS
    if not isinstance(channel, DeliveryChannel):
        # A channel Okta has not documented yet: no provider here can send it.
        note("FAILED:channel")
        return call.respond().failed(provider.name)
    template = profile.message.reveal() if profile.message is not None else None
    message = OutboundMessage(
        channel=channel,
        phone_number=number,
        text=message_text(channel, template, profile.otp_code.reveal()),
        locale=profile.locale,
        expires_at=profile.otp_expires,
        # Finish while the library can still send this answer.
        answer_by=time.monotonic() + call.time_left() - ANSWER_MARGIN,
    )
    try:
        delivery = provider.send(message)
    except Exception as exc:
        # The type only: a provider's message may quote the number or the text.
        logger.warning("telephony provider failed: error=%s", type(exc).__name__)
        note("FAILED:provider_error")
        return call.respond().failed(provider.name)
    note(delivery.status.value)
    response = call.respond()
    report = {
        DeliveryStatus.SUCCESSFUL: response.successful,
        DeliveryStatus.PENDING: response.pending,
        DeliveryStatus.FAILED: response.failed,
    }[delivery.status]
    return report(
        delivery.provider, transaction_id=delivery.transaction_id, metadata=delivery.metadata
    )
