"""Prometheus metrics from the signals: calls counted and timed, scraped over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from flask_okta_hooks import OktaHooks, TokenHookRequest, TokenHookResponse
from flask_okta_hooks.metrics import install_metrics
from flask_okta_hooks.testing import OktaClient

from .conftest import FakeClock, build_app, okta_headers
from .docs_pages import code_block, page

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(app: Flask, path: str = "/metrics") -> Samples:
    """Every sample ``path`` serves, by name and sorted labels."""
    response = app.test_client().get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def calls(samples: Samples, hook_type: str, outcome: str, reason: str) -> float:
    labels = (("hook_type", hook_type), ("outcome", outcome), ("reason", reason))
    return samples.get(("okta_hook_calls_total", labels), 0.0)


def latency(samples: Samples, suffix: str, hook_type: str, outcome: str, **extra: str) -> float:
    labels = tuple(sorted({"hook_type": hook_type, "outcome": outcome, **extra}.items()))
    return samples[f"okta_hook_latency_seconds_{suffix}", labels]


def token_app(handler: Any, **options: Any) -> Flask:
    hooks = OktaHooks(**options)
    hooks.token(handler)
    hooks.event()(lambda event: None)
    return build_app(hooks, OKTA_HOOKS_STRICT=False, OKTA_HOOKS_EVENTS_INLINE=True)


def gold(call: TokenHookRequest) -> TokenHookResponse:
    return call.respond().add_access_claim("tier", "gold")


def test_calls_are_counted_by_hook_type_outcome_and_reason() -> None:
    app = token_app(lambda call: gold(call) if call.access_token else 1 / 0)
    registry = CollectorRegistry()
    install_metrics(app, registry)
    okta = OktaClient(app)

    for _ in range(2):
        assert okta.post("token").status_code == 200
    assert okta.post("token", drop=("access",)).status_code == 204  # the handler fails
    assert okta.post("token", headers={"Authorization": "wrong"}).status_code == 401
    assert okta.post("events").status_code == 204
    assert (
        app.test_client().post("/okta/hooks/token", data=b"{", headers=okta_headers()).status_code
        == 400
    )
    samples = scrape(app)

    assert calls(samples, "token", "ok", "none") == 2
    assert calls(samples, "token", "fallback", "handler_error") == 1
    assert calls(samples, "token", "refused", "unauthorized") == 1
    assert calls(samples, "token", "refused", "invalid_json") == 1
    assert calls(samples, "events", "ok", "none") == 1
    counted = [value for (name, _), value in samples.items() if name == "okta_hook_calls_total"]
    assert sum(counted) == 6
    assert latency(samples, "count", "token", "ok") == 2
    assert latency(samples, "count", "token", "refused") == 2


def test_latency_is_the_calls_own() -> None:
    clock = FakeClock()

    def slow(call: TokenHookRequest) -> TokenHookResponse:
        clock.now += 0.3  # the handler takes 300 ms
        return gold(call)

    app = token_app(slow, clock=clock)
    install_metrics(app, CollectorRegistry())

    assert OktaClient(app).post("token").status_code == 200
    samples = scrape(app)

    assert latency(samples, "sum", "token", "ok") == pytest.approx(0.3)
    assert latency(samples, "bucket", "token", "ok", le="0.25") == 0
    assert latency(samples, "bucket", "token", "ok", le="0.5") == 1
    assert latency(samples, "bucket", "token", "ok", le="3.0") == 1


def test_the_route_can_move_or_be_left_out() -> None:
    moved = token_app(gold)
    install_metrics(moved, CollectorRegistry(), path="/internal/metrics")
    left_out = token_app(gold)
    registry = CollectorRegistry()
    install_metrics(left_out, registry, path=None)

    OktaClient(moved).post("token")
    OktaClient(left_out).post("token")

    assert "okta_hook_calls_total" in {name for name, _ in scrape(moved, "/internal/metrics")}
    assert moved.test_client().get("/metrics").status_code == 404
    assert left_out.test_client().get("/metrics").status_code == 404
    value = registry.get_sample_value(
        "okta_hook_calls_total", {"hook_type": "token", "outcome": "ok", "reason": "none"}
    )
    assert value == 1


def test_installing_twice_counts_each_call_once() -> None:
    app = token_app(gold)
    registry = CollectorRegistry()

    first = install_metrics(app, registry)
    assert install_metrics(app, registry) is first
    OktaClient(app).post("token")

    assert calls(scrape(app), "token", "ok", "none") == 1


def test_apps_share_the_global_registry_by_default() -> None:
    labels = {"hook_type": "token", "outcome": "ok", "reason": "none"}
    before = REGISTRY.get_sample_value("okta_hook_calls_total", labels) or 0.0
    apps = [token_app(gold), token_app(gold)]
    for app in apps:
        install_metrics(app)  # an app factory run twice in one process
        OktaClient(app).post("token")

    samples = scrape(apps[0])

    assert calls(samples, "token", "ok", "none") == before + 2
    assert any(name.startswith("python_") for name, _ in samples)  # the process's own too


def test_the_documented_example_installs_metrics() -> None:
    block = code_block(page("reliability.md"), containing="install_metrics")
    app = token_app(gold)
    namespace: dict[str, Any] = {"app": app}

    exec(compile(block, "docs/reliability.md metrics", "exec"), namespace)  # noqa: S102
    OktaClient(app).post("token")

    assert calls(scrape(app), "token", "ok", "none") == 1
