"""The README's promises: its quickstart runs, its configuration table is complete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask_okta_hooks.config import SETTINGS

from .conftest import okta_headers, token_payload_sample

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


def test_the_configuration_table_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `OKTA_HOOKS_(\w+)` \| `?([^|`]+)`? \|", README, re.MULTILINE))

    assert list(rows) == [setting.name for setting in SETTINGS]
    for setting in SETTINGS:
        assert rows[setting.name] == repr(setting.default).replace("'", '"'), setting.name
