"""What the package says about itself: its names, its version, its metadata."""

from __future__ import annotations

import configparser
import re
from importlib.metadata import version
from pathlib import Path

import pytest

import flask_okta_hooks
from flask_okta_hooks import HOOK_TYPES, TOKEN, OktaHooks, TokenHookRequest, TokenHookResponse

from .conftest import build_app, okta_headers, token_payload_sample

ROOT = Path(__file__).resolve().parents[1]


def test_every_hook_type_is_importable_by_its_constant_name() -> None:
    exported = {
        name: getattr(flask_okta_hooks, name)
        for name in flask_okta_hooks.__all__
        if getattr(flask_okta_hooks, name) in HOOK_TYPES
    }

    assert sorted(exported.values(), key=HOOK_TYPES.index) == list(HOOK_TYPES)
    for name, hook_type in exported.items():
        assert name == hook_type.slug.upper().replace("-", "_")


def test_the_readme_mount_with_a_fallback_serves_the_token_hook() -> None:
    def my_fallback(call: TokenHookRequest) -> TokenHookResponse:
        return call.respond().error("Sign-in is paused")

    hooks = OktaHooks()
    hooks.mount(TOKEN, lambda call: 1 / 0, on_failure=my_fallback)
    app = build_app(hooks, OKTA_HOOKS_STRICT=False)

    response = app.test_client().post(
        "/okta/hooks/token", json=token_payload_sample(), headers=okta_headers()
    )

    assert response.status_code == 200
    assert response.get_json() == {"error": {"errorSummary": "Sign-in is paused"}}


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def test_the_version_is_the_installed_distributions() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", flask_okta_hooks.__version__)
    assert version("flask-okta-hooks") == flask_okta_hooks.__version__


def test_setup_cfg_reads_the_version_from_the_package() -> None:
    assert setup_cfg()["metadata"]["version"] == "attr: flask_okta_hooks.__version__"


def test_the_changelog_has_an_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()

    assert "\n## [Unreleased]\n" in changelog


def extras() -> dict[str, list[str]]:
    section = setup_cfg()["options.extras_require"]
    return {name: section[name].split() for name in section}


@pytest.mark.parametrize("extra", sorted(extras()))
def test_no_extra_lists_a_distribution_twice(extra: str) -> None:
    names = [re.split(r"[<>=!~\[; ]", requirement)[0].lower() for requirement in extras()[extra]]

    assert len(names) == len(set(names)), names
