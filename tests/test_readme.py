"""The README's and the documentation's promises: their code runs as shown, the README is
a landing page whose links lead somewhere, the configuration they name exists."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from flask_okta_hooks import OktaHooks
from flask_okta_hooks.config import SETTINGS
from flask_okta_hooks.testing import OktaClient, assert_okta_accepts

from .conftest import build_app, okta_headers, token_payload_sample
from .docs_pages import DOCS, README, ROOT, code_block, page, section
from .test_events import delivery, log_event


def quickstart() -> str:
    """The README's Quickstart code, which docs/quickstart.md includes."""
    return code_block(section(page("README.md"), "Quickstart"))


def test_the_quickstart_serves_a_token_hook() -> None:
    namespace: dict[str, Any] = {"__name__": "quickstart"}
    exec(compile(quickstart(), "README quickstart", "exec"), namespace)  # noqa: S102
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
    exec(compile(code_block(page("events.md")), "docs/events.md", "exec"), namespace)  # noqa: S102
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


def test_the_configuration_page_is_built_from_the_settings() -> None:
    configuration = page("configuration.md")

    assert "```{okta-hooks-settings}\n```" in configuration  # the table, made at build time
    assert "| `OKTA_HOOKS_" not in configuration  # and no hand-written one beside it
    assert "```{okta-hooks-rules}\n```" in page("rules.md")


def test_every_setting_the_docs_name_exists() -> None:
    names = {setting.name for setting in SETTINGS}
    texts = [README.read_text(), *(path.read_text() for path in DOCS.rglob("*.md"))]

    named = {name for text in texts for name in re.findall(r"\bOKTA_HOOKS_([A-Z_]+)", text)}

    assert named - names == {"DEADLNE"}  # the misspelling the configuration page shows


def test_the_readme_is_a_landing_page_whose_links_lead_somewhere() -> None:
    text = README.read_text()
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)

    assert len(text.encode()) < 6 * 1024
    assert "docs/index.md" in links
    for link in links:
        assert (ROOT / link).is_file(), link


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
    example = code_block(page("reliability.md"), containing="hook_failed")
    exec(compile(example, "docs/reliability.md", "exec"), namespace)  # noqa: S102

    response = app.test_client().post(
        "/okta/hooks/token", json=token_payload_sample(), headers=okta_headers()
    )

    assert response.status_code == 204
    assert counted == [("token", "handler_error")]


def test_the_oauth_example_configures_bearer_authentication() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)
    app = Flask(__name__)
    namespace: dict[str, Any] = {"app": app}
    example = code_block(page("authentication.md"))
    exec(compile(example, "docs/authentication.md", "exec"), namespace)  # noqa: S102
    app.register_blueprint(hooks)  # the settings pass the start-up checks

    refused = app.test_client().post(
        "/okta/hooks/token", json=token_payload_sample(), headers=okta_headers()
    )

    assert app.config["OKTA_HOOKS_AUTH"] == "oauth"
    assert refused.status_code == 401  # the shared secret is no bearer token


HOOK_PAGES = ("token", "saml", "registration", "password-import", "user-import", "telephony")


@pytest.mark.parametrize("hook", HOOK_PAGES)
def test_each_hook_page_example_answers_the_sample_call_as_okta_accepts(hook: str) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_{hook}"}
    example = code_block(page(f"hooks/{hook}.md"))
    exec(compile(example, f"docs/hooks/{hook}.md", "exec"), namespace)  # noqa: S102

    result = OktaClient(build_app(namespace["hooks"])).post(hook)

    assert result.status_code == 200, result.failure
    assert result.body is not None
    assert result.body.get("commands")
    assert_okta_accepts(result)


#: The pages' Python blocks, each run by a test of this module, test_readme_testing.py,
#: test_metrics.py (reliability.md: the signal and the metrics examples) or
#: test_celery_intake.py (events.md: the Celery set-up).
EXECUTED_PYTHON_BLOCKS = {
    "authentication.md": 1,
    "events.md": 2,
    "reliability.md": 2,
    "testing.md": 1,
    **{f"hooks/{hook}.md": 1 for hook in HOOK_PAGES},
}


def test_every_python_block_of_the_docs_is_run_by_a_test() -> None:
    blocks = {
        str(path.relative_to(DOCS)): path.read_text().count("```python\n")
        for path in sorted(DOCS.rglob("*.md"))
    }

    assert {name: count for name, count in blocks.items() if count} == EXECUTED_PYTHON_BLOCKS
