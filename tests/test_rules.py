"""The rules table: documented rules and precautions, waivers, and results no walk can finish."""

from __future__ import annotations

import ast
import logging
import re
import threading
from pathlib import Path
from typing import Any

import pytest

import flask_okta_hooks
from flask_okta_hooks import (
    ConfigurationError,
    HandlerResultError,
    OktaHooks,
    ResponseRuleError,
    runner,
)
from flask_okta_hooks.cli import cli
from flask_okta_hooks.hook_types import HOOK_TYPES_BY_SLUG
from flask_okta_hooks.rules import PRECAUTIONS, RULES, Source, waivable
from flask_okta_hooks.testing import OktaClient, assert_okta_accepts

from .conftest import build_app, post_json, token_payload_sample

PACKAGE = Path(flask_okta_hooks.__file__).parent
RULE_ID = re.compile(r"[a-z]+(_[a-z]+)*")
#: Calls that name a rule by their first argument, and keywords that name one.
RULE_CALLS = frozenset({"Violation", "_bad", "bad"})
RULE_KEYWORDS = frozenset({"rule", "shape_rule", "value_rule"})


def rule_ids_in_source() -> dict[str, set[str]]:
    """Every rule id written in the package's source, with the modules that use it."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            named = [node.args[0]] if name in RULE_CALLS and node.args else []
            named += [kw.value for kw in node.keywords if kw.arg in RULE_KEYWORDS]
            for value in named:
                text = value.value if isinstance(value, ast.Constant) else None
                if type(text) is str and RULE_ID.fullmatch(text):
                    found.setdefault(text, set()).add(path.name)
    return found


def test_every_rule_id_used_in_the_package_is_in_the_table() -> None:
    used = rule_ids_in_source()

    assert len(used) > 50  # the scan sees the checks
    missing = {rule: sorted(modules) for rule, modules in used.items() if rule not in RULES}
    assert missing == {}


def test_every_rule_in_the_table_is_used() -> None:
    # Some ids reach Violation through a variable: look for the quoted id anywhere.
    source = "".join(path.read_text() for path in PACKAGE.rglob("*.py") if path.name != "rules.py")
    assert [rule for rule in RULES if f'"{rule}"' not in source] == []


def test_every_documented_rule_cites_the_contract_and_every_rule_says_what_it_is() -> None:
    for rule in RULES.values():
        assert rule.description
        assert "\n" not in rule.description
        if rule.source is Source.DOCUMENTED:
            assert re.fullmatch(r"[\d.,\- ]+", rule.reference), rule.id
    assert {r.id for r in RULES.values() if r.source is Source.PRECAUTION} == PRECAUTIONS


@pytest.mark.parametrize("rule", sorted(r for r in RULES if r not in PRECAUTIONS))
def test_a_documented_rule_cannot_be_waived(rule: str) -> None:
    call = flask_okta_hooks.TokenHookRequest.from_payload(token_payload_sample())

    with pytest.raises(ValueError, match="documented by Okta"):
        call.respond().waive(rule)
    with pytest.raises(ConfigurationError, match="documented by Okta"):
        build_app(OktaHooks(), OKTA_HOOKS_WAIVED_RULES=[rule])


@pytest.mark.parametrize("value", [["no_such_rule"], "claim_name", [1], None])
def test_a_waiver_list_is_checked_at_start_up(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_WAIVED_RULES"):
        build_app(OktaHooks(), OKTA_HOOKS_WAIVED_RULES=value)


def test_every_precaution_can_be_waived() -> None:
    assert waivable(PRECAUTIONS) == PRECAUTIONS


# --- a precaution in production, in strict mode, and waived ----------------------------------

ODD_CLAIM = "tier\nanna@example.com"


def odd_claim_app(**config: Any) -> Any:
    hooks = OktaHooks()
    hooks.token(lambda call: call.respond().add_access_claim(ODD_CLAIM, "gold"))
    return build_app(hooks, **config).test_client()


def test_in_production_a_precaution_warns_once_and_the_answer_is_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="flask_okta_hooks"):
        response = post_json(
            odd_claim_app(OKTA_HOOKS_STRICT=False), "/token", token_payload_sample()
        )

    assert response.status_code == 200
    assert response.get_json()["commands"][0]["value"][0]["path"] == "/claims/" + ODD_CLAIM
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "rules=claim_name@commands[0].value[0]" in warnings[0].getMessage()
    assert "anna@example.com" not in caplog.text
    assert "outcome=ok" in caplog.text


def test_in_strict_mode_a_precaution_raises_and_says_how_to_waive_it() -> None:
    with pytest.raises(ResponseRuleError) as caught:
        post_json(odd_claim_app(), "/token", token_payload_sample())

    assert caught.value.rules == ("claim_name",)
    assert "response.waive('claim_name')" in str(caught.value)
    assert "@hooks.<hook type>(waive=['claim_name'])" in str(caught.value)
    assert "OKTA_HOOKS_WAIVED_RULES = ['claim_name']" in str(caught.value)


def test_a_precaution_waived_for_the_app_is_sent_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = odd_claim_app(OKTA_HOOKS_WAIVED_RULES=["claim_name"])

    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        response = post_json(client, "/token", token_payload_sample())

    assert response.status_code == 200
    assert caplog.records == []


def test_a_precaution_waived_for_an_endpoint_is_sent_there_only(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "INLINE_AFTER", 3)  # the calls after the third run inline

    def odd(call: Any) -> Any:
        return call.respond().add_access_claim(ODD_CLAIM, "gold")

    def odd_wire(call: Any) -> Any:
        return odd(call).to_dict()  # a body in wire format is covered too

    hooks = OktaHooks()
    hooks.token("/waived", waive="claim_name")(odd)
    hooks.token("/waived-wire", waive=["claim_name", "unknown_flow"])(odd_wire)
    hooks.token("/strict")(odd)
    client = build_app(hooks).test_client()

    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        for path in ("/waived", "/waived-wire") * 6:  # on a worker, then on the request thread
            response = post_json(client, path, token_payload_sample())
            assert response.status_code == 200, path
            assert response.get_json()["commands"][0]["value"][0]["path"] == "/claims/" + ODD_CLAIM
    assert caplog.records == []
    with pytest.raises(ResponseRuleError, match="claim_name"):
        post_json(client, "/strict", token_payload_sample())


def test_the_test_kit_and_simulate_pass_a_waived_precaution_and_name_it() -> None:
    def odd(call: Any) -> Any:
        return call.respond().add_access_claim(ODD_CLAIM, "gold")

    hooks = OktaHooks()
    hooks.token("/waived", waive="claim_name")(odd)
    hooks.token("/strict")(odd)
    app = build_app(hooks)

    assert_okta_accepts(OktaClient(app).post("token", path="/okta/hooks/waived"))
    with pytest.raises(ResponseRuleError, match="claim_name"):  # strict in tests
        OktaClient(app).post("token", path="/okta/hooks/strict")
    waived = app.test_cli_runner().invoke(
        cli, ["simulate", "token", "--path", "/okta/hooks/waived"]
    )
    strict = app.test_cli_runner().invoke(
        cli, ["simulate", "token", "--path", "/okta/hooks/strict"]
    )

    assert waived.exit_code == 0, waived.output
    assert "Precautions broken" in waived.output
    assert "[claim_name]" in waived.output
    assert "Okta accepts this answer" in waived.output
    assert strict.exit_code == 1, strict.output
    assert "[claim_name]" in strict.output + str(strict.exception)


def test_an_endpoint_waiver_is_checked_when_mounted() -> None:
    hooks = OktaHooks()
    with pytest.raises(ValueError, match="documented by Okta"):
        hooks.token(waive=["reserved_claim"])(lambda call: None)
    with pytest.raises(ValueError, match="'claim' is not a rule"):
        hooks.token(waive=["claim"])(lambda call: None)
    assert hooks.endpoints == {}


def test_a_waiver_covers_only_the_rules_it_names() -> None:
    hooks = OktaHooks()
    hooks.token(
        lambda call: call.respond().add_access_claim(ODD_CLAIM, "gold").waive("attribute_name")
    )

    with pytest.raises(ResponseRuleError, match="claim_name"):
        post_json(build_app(hooks).test_client(), "/token", token_payload_sample())


def test_a_documented_rule_is_refused_whatever_is_waived() -> None:
    hooks = OktaHooks()
    hooks.token(
        lambda call: {
            "commands": [
                {
                    "type": "com.okta.identity.patch",
                    "value": [
                        {"op": "add", "path": "/claims/iss", "value": "x"},
                    ],
                }
            ]
        }
    )
    client = build_app(hooks, OKTA_HOOKS_STRICT=False, OKTA_HOOKS_WAIVED_RULES=list(PRECAUTIONS))

    response = post_json(client.test_client(), "/token", token_payload_sample())

    assert response.status_code == 204


# --- results no walk can finish ---------------------------------------------------------------


def cyclic() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def cyclic_dict() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = {"again": [loop]}
    return loop


UNUSABLE = {
    "claim value": lambda call: call.respond().add_access_claim("loop", cyclic()),
    "deep claim value": lambda call: call.respond().add_access_claim("deep", nested(10_000)),
    "debug value": lambda call: call.respond().debug(loop=cyclic_dict()),
    "hand-built body": lambda call: {
        "commands": [
            {
                "type": "com.okta.access.patch",
                "value": [{"op": "add", "path": "/claims/loop", "value": cyclic_dict()}],
            }
        ]
    },
    "hand-built debugContext": lambda call: {"debugContext": {"deep": nested(10_000)}},
    "cycle in every element": lambda call: call.respond().debug(loop=wide_cycle()),
    "one list a million times": lambda call: call.respond().add_access_claim(
        "many", [list(range(1000))] * 1000
    ),
}


def wide_cycle() -> list[Any]:
    loop: list[Any] = []
    loop.extend([loop] * 1000)
    return loop


def call_with_time_limit(client: Any, limit: float = 20.0) -> Any:
    """POST the token sample from another thread, so that a walk that never ends fails
    the test instead of hanging it."""
    answers: list[Any] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            answers.append(post_json(client, "/token", token_payload_sample()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), "the call did not finish"
    if errors:
        raise errors[0]
    return answers[0]


@pytest.mark.parametrize("handler", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_a_cyclic_or_absurdly_deep_result_is_unusable_and_frees_the_worker(
    handler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = OktaHooks()
    hooks.token(handler)
    hooks.mount(
        HOOK_TYPES_BY_SLUG["token"],
        lambda call: call.respond().add_access_claim("tier", "gold"),
        "/ok",
    )
    app = build_app(hooks, OKTA_HOOKS_STRICT=False, OKTA_HOOKS_WORKERS=1)
    client = app.test_client()

    with caplog.at_level(logging.INFO, logger="flask_okta_hooks"):
        response = call_with_time_limit(client)
        after = post_json(client, "/ok", token_payload_sample())

    assert response.status_code == 204  # the token hook's safe outcome
    assert "reason=unusable_result" in caplog.text
    assert after.status_code == 200  # the one worker is free again


@pytest.mark.parametrize("handler", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_in_strict_mode_a_cyclic_or_absurdly_deep_result_raises(handler: Any) -> None:
    hooks = OktaHooks()
    hooks.token(handler)

    # The longest deadline: on a loaded machine the walk must not meet it first.
    app = build_app(hooks, OKTA_HOOKS_DEADLINE=2.5)
    with pytest.raises(HandlerResultError, match=r"contains itself|more values"):
        call_with_time_limit(app.test_client())


def test_a_value_shared_twice_is_not_a_cycle() -> None:
    shared = {"a": [1, 2]}
    hooks = OktaHooks()
    hooks.token(lambda call: call.respond().add_access_claim("pair", [shared, shared]))

    response = call_with_time_limit(build_app(hooks).test_client())

    assert response.get_json()["commands"][0]["value"][0]["value"] == [shared, shared]
