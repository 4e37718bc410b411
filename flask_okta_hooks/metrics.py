"""Prometheus metrics for every hook call, fed by the extension's signals.

Needs the ``prometheus`` extra (``prometheus_client``). One call counts the calls and
records their latencies, and serves them for Prometheus to scrape::

    from flask_okta_hooks.metrics import install_metrics

    install_metrics(app)  # GET /metrics

Metrics (``hook_type`` is the slug, e.g. ``"token"``; ``outcome`` is ``ok``, ``fallback``
or ``refused`` as in the log line; ``reason`` is the failure reason or the refusal's
error code, ``none`` when the handler answered):

``okta_hook_calls_total{hook_type, outcome, reason}``
    Calls answered by the hook endpoints, refused ones included.
``okta_hook_latency_seconds{hook_type, outcome}``
    Time from a call's arrival to its answer, with buckets up to Okta's 3 s timeout.
"""

from __future__ import annotations

from typing import Any, Final
from weakref import WeakKeyDictionary

from flask import Flask, Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .failure import Reason
from .logs import FALLBACK, OK, REFUSED
from .signals import hook_responded

#: Where an app keeps its :class:`HookMetrics` (``app.extensions``).
EXTENSION_KEY: Final = "okta_hooks_metrics"
#: Latency buckets in seconds: fine where handlers usually answer, then around the
#: deadline (2 s by default, at most 2.5) and Okta's 3 s timeout.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
_FAILURE_REASONS = frozenset(reason.value for reason in Reason)
# Metrics per registry: a registry refuses a second metric of the same name, and an app
# factory may well run twice in one process (tests, several apps).
_by_registry: WeakKeyDictionary[CollectorRegistry, tuple[Counter, Histogram]] = WeakKeyDictionary()


class HookMetrics:
    """The metrics of one app: ``calls`` and ``latency``, on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        known = _by_registry.get(registry)
        if known is None:
            calls = Counter(
                "okta_hook_calls",
                "Okta hook calls answered, by hook type, outcome and reason.",
                ("hook_type", "outcome", "reason"),
                registry=registry,
            )
            latency = Histogram(
                "okta_hook_latency_seconds",
                "Seconds from an Okta hook call's arrival to its answer.",
                ("hook_type", "outcome"),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
            known = _by_registry[registry] = (calls, latency)
        self.calls, self.latency = known

    def record(
        self, sender: Flask, *, hook_type: str, reason: str | None, latency: float, **_: Any
    ) -> None:
        """Count one answered call (a :data:`~flask_okta_hooks.signals.hook_responded`
        receiver)."""
        if reason is None:
            outcome = OK
        elif reason in _FAILURE_REASONS:
            outcome = FALLBACK
        else:
            outcome = REFUSED
        self.calls.labels(hook_type, outcome, reason or "none").inc()
        self.latency.labels(hook_type, outcome).observe(latency)

    def exposition(self) -> Response:
        """The registry's metrics in Prometheus' text format."""
        return Response(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)


def install_metrics(
    app: Flask, registry: CollectorRegistry | None = None, *, path: str | None = "/metrics"
) -> HookMetrics:
    """Count ``app``'s hook calls on ``registry`` and serve it at ``path``.

    ``registry`` defaults to prometheus_client's global registry, which also holds the
    process metrics and any the app defines itself. ``path=None`` adds no route, for an
    app that serves its registry already. Installing twice on one app returns the first
    installation.
    """
    installed: HookMetrics | None = app.extensions.get(EXTENSION_KEY)
    if installed is not None:
        return installed
    metrics = HookMetrics(REGISTRY if registry is None else registry)
    # A strong reference: the app keeps its metrics, and blinker drops the connection
    # when the app is collected.
    hook_responded.connect(metrics.record, sender=app, weak=False)
    if path is not None:
        app.add_url_rule(
            path, endpoint=EXTENSION_KEY, view_func=metrics.exposition, methods=["GET"]
        )
    app.extensions[EXTENSION_KEY] = metrics
    return metrics
