"""The audit of hook calls: hook type, Okta's eventId, outcome, status and latency.

A row is recorded for every call to a hook endpoint once the library has answered it
(its ``hook_responded`` signal), with the library's own status and latency, so the audit
holds what Okta was really sent. Recording only queues the row: the process's
:class:`~example_app.audit_writer.AuditWriter` writes it moments later, off the call's
path. The outcome is

* what the handler decided, as it stated with :func:`note` (a short code such as
  ``VERIFIED`` or ``denied:email_domain``);
* ``failed:<why>`` when the library sent the hook type's safe outcome in place of the
  handler's answer (its ``hook_failed`` signal): the exception type when the handler
  raised (recorded by :func:`audited`), else the library's reason (``deadline``,
  ``rule_violation`` ...). Whatever the handler noted before never reached Okta;
* ``no_change``, ``answered`` or ``rejected:<status>`` otherwise, e.g. for a call refused
  before any handler ran (bad auth, bad body).

Nothing from the request body other than ``eventId`` is ever written: no passwords,
codes, phone numbers or profile data.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Final, TypeVar

from flask import Flask, has_request_context, request

from flask_okta_hooks import Reason
from flask_okta_hooks.signals import hook_failed, hook_responded

from .models import utcnow

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
MAX_EVENT_ID = 128
EXTENSION_KEY: Final = "example_app.audit"

# What a handler notes travels to the audit in the WSGI environ: the library may run the
# handler on a worker thread, in an app context with its own copy of ``g``, but the
# request is the same object on both threads.
_OUTCOME: Final = "example_app.audit.outcome"
_ERROR: Final = "example_app.audit.error"
_FAILED: Final = "example_app.audit.failed"
#: Failure reasons that mean the handler raised, so its exception type says more.
_RAISED = frozenset({Reason.HANDLER_ERROR, Reason.DEPENDENCY_TIMEOUT})


def note(outcome: str) -> None:
    """Record the outcome the current hook call's handler decided on.

    A handler called outside a request (a unit test) has no call to note it for.
    """
    if has_request_context():
        request.environ[_OUTCOME] = outcome


def audited(handler: F) -> F:
    """Note a handler's failure (by exception type only) before the library handles it."""

    @functools.wraps(handler)
    def wrapper(call: Any) -> Any:
        try:
            return handler(call)
        except Exception as exc:
            if has_request_context():
                request.environ[_ERROR] = type(exc).__name__
            raise

    return wrapper  # type: ignore[return-value]


class Audit:
    """Records one :class:`~example_app.models.HookCall` row per answered call of one app."""

    def __init__(self, record: Callable[[dict[str, Any]], None]) -> None:
        self._record = record

    def failed(self, sender: Flask, *, reason: str | None = None, **details: Any) -> None:
        """``hook_failed``: the library answers this call in place of its handler."""
        request.environ[_FAILED] = reason or "unknown"

    def responded(
        self,
        sender: Flask,
        *,
        hook_type: str,
        event_id: str | None,
        status: int,
        latency: float,
        **details: Any,
    ) -> None:
        """``hook_responded``: record the call's row (never failing the call)."""
        row = {
            "hook": hook_type[:32],
            "event_id": _clean(event_id) if isinstance(event_id, str) else None,
            "outcome": _outcome(request.environ, status)[:64],
            "status": status,
            "latency_ms": round(latency * 1000, 2),
            "created_at": utcnow(),
        }
        try:
            self._record(row)
        except Exception as exc:
            # The audit must never cost Okta its answer.
            logger.error("hook audit row not recorded: error=%s", type(exc).__name__)


def install(app: Flask, record: Callable[[dict[str, Any]], None]) -> Audit:
    """Record every answered call to ``app``'s hook endpoints with ``record``, which
    gets the row's columns (``hook_calls``) and must return at once."""
    audit = Audit(record)
    # The signals hold receivers weakly: the app keeps its audit, which goes with it.
    app.extensions[EXTENSION_KEY] = audit
    hook_failed.connect(audit.failed, sender=app)
    hook_responded.connect(audit.responded, sender=app)
    return audit


def _outcome(environ: dict[str, Any], status: int) -> str:
    failed = environ.get(_FAILED)
    if failed is not None:
        error = environ.get(_ERROR) if failed in _RAISED else None
        return f"failed:{error or failed}"
    noted = environ.get(_OUTCOME)
    if noted is not None and status < 300:
        return str(noted)
    if status == 204:
        return "no_change"
    if status < 300:
        return "answered"
    return f"rejected:{status}"


def _clean(value: str) -> str:
    return "".join(ch for ch in value[:MAX_EVENT_ID] if ch.isprintable())
