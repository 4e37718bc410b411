"""The audit of hook calls: hook type, Okta's eventId, outcome, status and latency.

Handlers state their outcome with :func:`note` (a short code such as ``VERIFIED`` or
``denied:email_domain``); calls that never reach a handler (bad auth, bad body) are
recorded with their HTTP status. Nothing from the request body other than ``eventId``
is ever written: no passwords, codes, phone numbers or profile data.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g, request

from .models import HookCall

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
MAX_EVENT_ID = 128


def started_at() -> float:
    """When the current hook call arrived, as a :func:`time.monotonic` reading."""
    return float(g.get("hook_started", time.monotonic()))


def note(call: Any, outcome: str) -> None:
    """Record the outcome of the current hook call (``call`` gives its eventId)."""
    g.hook_event_id = getattr(call, "event_id", None)
    g.hook_outcome = outcome


def audited(handler: F) -> F:
    """Note a handler's failure (by exception type only) before the library handles it."""

    @functools.wraps(handler)
    def wrapper(call: Any) -> Any:
        try:
            return handler(call)
        except Exception as exc:
            note(call, f"failed:{type(exc).__name__}")
            raise

    return wrapper  # type: ignore[return-value]


def install(app: Flask, blueprint_name: str, record: Callable[[HookCall], None]) -> None:
    """Time and record every request to the hook blueprint ``blueprint_name``."""

    def start() -> None:
        if request.blueprint == blueprint_name:
            g.hook_started = time.monotonic()
            # g outlives a request when an app context was pushed around several.
            g.hook_event_id = g.hook_outcome = None

    def finish(response: Response) -> Response:
        if request.blueprint != blueprint_name or "hook_started" not in g:
            return response
        latency = (time.monotonic() - g.hook_started) * 1000
        outcome = g.get("hook_outcome") or _outcome_of(response.status_code)
        event_id = g.get("hook_event_id")
        endpoint = request.endpoint or ""
        entry = HookCall(
            hook=endpoint.rsplit(".", 1)[-1][:32],
            event_id=_clean(event_id) if isinstance(event_id, str) else None,
            outcome=outcome[:64],
            status=response.status_code,
            latency_ms=round(latency, 2),
        )
        try:
            record(entry)
        except Exception as exc:
            # The audit must never cost Okta its answer.
            logger.warning("hook audit not written: error=%s", type(exc).__name__)
        return response

    app.before_request(start)
    app.after_request(finish)


def _outcome_of(status: int) -> str:
    if status == 204:
        return "no_change"
    if status < 300:
        return "answered"
    return f"rejected:{status}"


def _clean(value: str) -> str:
    return "".join(ch for ch in value[:MAX_EVENT_ID] if ch.isprintable())
