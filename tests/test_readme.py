"""The README's promises: its quickstart runs, its configuration table is complete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask_okta_hooks import OktaHooks
from flask_okta_hooks.config import SETTINGS

from .conftest import build_app, okta_headers, token_payload_sample
from .test_events import delivery, log_event

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def python_block(heading: str) -> str:
    """The first ```python block after ``heading``."""
    section = README.split(f"\n## {heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"no python block under {heading}"
    return match.group(1)


def test_the_quickstart_serves_a_token_hook() -> None:
    namespace: dict[str, Any] = {"__name__": "quickstart"}
    exec(compile(python_block("Quickstart"), "README quickstart", "exec"), namespace)  # noqa: S102
    app = namespace["app"]
    secret = app.config["OKTA_HOOKS_SECRETS"][0]

    response = app.test_client().post(
        "/okta/hooks/token", json=token_payload_sample(), headers=okta_headers(secret)
    )

    assert response.status_code == 200
    assert response.get_json()["commands"] == [
        {
            "type": "com.okta.access.patch",
            "value": [{"op": "add", "path": "/claims/tier", "value": "gold"}],
        }
    ]


def test_the_event_hooks_example_verifies_and_handles_events() -> None:
    namespace: dict[str, Any] = {"__name__": "event_hooks_example"}
    exec(compile(python_block("Event hooks"), "README event hooks", "exec"), namespace)  # noqa: S102
    app, hooks = namespace["app"], namespace["hooks"]
    client = app.test_client()
    secret = app.config["OKTA_HOOKS_SECRETS"][0]

    verified = client.get(
        "/okta/hooks/events",
        headers={"Authorization": secret, "x-okta-verification-challenge": "abc"},
    )
    delivered = client.post(
        "/okta/hooks/events",
        json=delivery(log_event(), log_event("user.session.start", "uuid-2")),
        headers=okta_headers(secret),
    )

    assert verified.get_json() == {"verification": "abc"}
    assert delivered.status_code == 204
    assert hooks.drain(app, timeout=5)
    assert namespace["deactivated"] == ["00u3m90rxKjGQ0G6L1d6"]


def test_the_configuration_table_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `OKTA_HOOKS_(\w+)` \| `?([^|`]+)`? \|", README, re.MULTILINE))

    assert list(rows) == [setting.name for setting in SETTINGS]
    for setting in SETTINGS:
        assert rows[setting.name] == repr(setting.default).replace("'", '"'), setting.name


def test_the_failure_signal_example_counts_failures() -> None:
    counted: list[tuple[str, str]] = []

    class Counter:
        def labels(self, hook_type: str, reason: str) -> Counter:
            counted.append((hook_type, reason))
            return self

        def inc(self) -> None:
            pass

    hooks = OktaHooks()
    hooks.token(lambda call: 1 / 0)
    app = build_app(hooks, OKTA_HOOKS_STRICT=False)
    namespace: dict[str, Any] = {"app": app, "FAILURES": Counter()}
    exec(compile(python_block("Reliability and failure handling"), "README", "exec"), namespace)  # noqa: S102

    response = app.test_client().post(
        "/okta/hooks/token", json=token_payload_sample(), headers=okta_headers()
    )

    assert response.status_code == 204
    assert counted == [("token", "handler_error")]
