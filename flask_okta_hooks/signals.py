"""Signals sent for every hook call, to count calls, failures and latencies.

They are `blinker <https://blinker.readthedocs.io>`_ signals, like Flask's own: the
sender is the Flask app, and receivers get keyword arguments only.

``hook_received``
    An authenticated, well-formed call is about to reach its handler.
    Arguments: ``hook_type`` (the slug, e.g. ``"token"``), ``event_id`` (``str | None``).
``hook_responded``
    Any call to a hook endpoint was answered, refused ones included.
    Arguments: ``hook_type``, ``event_id`` (``None`` when the call was refused before its
    body was read), ``status`` (``int``), ``reason`` (``None`` when the handler answered;
    the failure :class:`~flask_okta_hooks.failure.Reason` or the refusal's error code
    otherwise) and ``latency`` (seconds, ``float``).
``hook_failed``
    The handler failed and the call got the endpoint's failure outcome (before
    ``hook_responded`` for the same call). Same arguments as ``hook_responded``.

Receivers run on the request thread, so keep them quick. A receiver that raises is logged
(its exception type only) and the call keeps its answer: a counter must not turn a hook's
answer into a 500. Example (a Prometheus counter)::

    from flask_okta_hooks.signals import hook_failed

    @hook_failed.connect_via(app)
    def count_failure(sender, *, hook_type, reason, **extra):
        HOOK_FAILURES.labels(hook_type, reason).inc()
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import NamedSignal, Namespace
from flask import Flask

from .errors import HookRequestError
from .failure import Failure
from .redaction import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)
_signals = Namespace()

hook_received = _signals.signal(
    "okta-hook-received", doc="An authenticated, well-formed call reaches its handler."
)
hook_responded = _signals.signal("okta-hook-responded", doc="A call to a hook endpoint answered.")
hook_failed = _signals.signal(
    "okta-hook-failed", doc="A handler failed; its endpoint's failure outcome was sent."
)


def send_received(app: Flask, hook_type: str, event_id: str | None) -> None:
    """Send :data:`hook_received` when anything listens."""
    if hook_received.receivers:
        _send(hook_received, app, {"hook_type": hook_type, "event_id": event_id})


def send_answered(
    app: Flask,
    hook_type: str,
    event_id: str | None,
    status: int,
    latency: float,
    failure: Failure | None = None,
    refusal: HookRequestError | None = None,
) -> None:
    """Send :data:`hook_failed` (for a failure) and :data:`hook_responded` when anything listens."""
    if not (hook_responded.receivers or (failure is not None and hook_failed.receivers)):
        return
    reason: str | None = None
    if failure is not None:
        reason = failure.reason.value
    elif refusal is not None:
        reason = refusal.code
    details: dict[str, Any] = {
        "hook_type": hook_type,
        "event_id": event_id,
        "status": status,
        "reason": reason,
        "latency": latency,
    }
    if failure is not None:
        _send(hook_failed, app, details)
    _send(hook_responded, app, details)


def _send(signal: NamedSignal, app: Flask, details: dict[str, Any]) -> None:
    try:
        signal.send(app, **details)
    except Exception as exc:
        # The answer is decided by now; the type only, as a message could quote the call.
        logger.error(
            "okta hook signal receiver failed: signal=%s error=%s",
            signal.name,
            type(exc).__name__,
        )
