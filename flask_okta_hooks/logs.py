"""One log line per hook call, built from an allowlist of fields.

Each call served by an endpoint is logged once on the ``flask_okta_hooks`` logger: INFO
when the handler answered; WARNING when the call was refused (4xx) or got its failure
outcome for a passing fault (deadline, a dependency's timeout, no free worker); ERROR
when the handler is broken (it raised, or its answer was unusable) or on a 5xx. The line
holds only the hook type, ``eventId``, outcome, status, reason code and latency, never a
body, a header or an exception message. The same fields ride on the record as
``record.okta_hook`` (a dict) for structured formatters::

    okta hook call: hook=token event_id=f1e2 outcome=ok status=200 reason=- latency_ms=0.6
    okta hook call: hook=telephony event_id=9a0b outcome=fallback status=200 \
reason=deadline latency_ms=2000.4
"""

from __future__ import annotations

import logging
import re
from typing import Final

from .errors import HookRequestError
from .failure import Failure
from .redaction import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)

OK: Final = "ok"
"""The handler's answer was sent."""
FALLBACK: Final = "fallback"
"""The handler failed; the endpoint's failure outcome was sent."""
REFUSED: Final = "refused"
"""The call was refused before its handler ran (auth, body, envelope) or with a 503."""

#: Longest logged ``eventId``; Okta's are UUID-sized.
MAX_EVENT_ID = 128
_PLAIN = re.compile(r"[\w.:@-]{1,128}", re.ASCII)


def loggable(value: str | None) -> str:
    """``value`` as it may appear in a log line: plain ids as they are, anything else
    quoted with line breaks and control characters escaped, cut to a bounded length."""
    if value is None:
        return "-"
    if _PLAIN.fullmatch(value):
        return value
    return repr(value[:MAX_EVENT_ID])


def log_call(
    hook: str,
    event_id: str | None,
    status: int,
    latency: float,
    failure: Failure | None = None,
    refusal: HookRequestError | None = None,
) -> None:
    """Log the one line of a hook call (see the module doc)."""
    if failure is not None:
        # A passing fault is the service's weather; anything else is a bug to fix.
        level = logging.WARNING if failure.reason.passing else logging.ERROR
        outcome, reason = FALLBACK, str(failure)
    elif refusal is not None:
        outcome, reason = REFUSED, refusal.code
        level = logging.ERROR if status >= 500 else logging.WARNING
    else:
        outcome, level, reason = OK, logging.INFO, "-"
    if not logger.isEnabledFor(level):
        return
    shown_id = loggable(event_id)
    latency_ms = round(latency * 1000, 1)
    logger.log(
        level,
        "okta hook call: hook=%s event_id=%s outcome=%s status=%d reason=%s latency_ms=%.1f",
        hook,
        shown_id,
        outcome,
        status,
        reason,
        latency_ms,
        extra={
            "okta_hook": {
                "hook": hook,
                "event_id": shown_id,
                "outcome": outcome,
                "status": status,
                "reason": reason,
                "latency_ms": latency_ms,
            }
        },
    )


def log_late(hook: str, event_id: str | None, ran: float, failure: Failure | None) -> None:
    """Log a handler that returned after its call had been answered without it."""
    logger.warning(
        "okta hook handler finished after its deadline, result dropped: "
        "hook=%s event_id=%s reason=%s ran_ms=%.1f",
        hook,
        loggable(event_id),
        "-" if failure is None else str(failure),
        ran * 1000,
    )
