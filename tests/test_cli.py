"""``flask okta-hooks ...`` through Flask's CLI runner; ``simulate --url`` over loopback HTTP."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from flask import Blueprint, Flask
from flask.cli import FlaskGroup
from openapi_spec_validator import validate as validate_openapi
from werkzeug.serving import make_server

from flask_okta_hooks import HOOK_TYPES, LogEvent, OktaHooks, Token, TokenHookRequest
from flask_okta_hooks.cli import cli
from flask_okta_hooks.testing import make_payload, variants

from .conftest import SECRET, build_app, safe_outcome_handler

ISSUER = "https://example.okta.com/oauth2/aus5kq2m1hWdT7bXy4x7"


def every_hook_app(**config: Any) -> Flask:
    hooks = OktaHooks()
    for hook_type in HOOK_TYPES:
        hooks.mount(hook_type, safe_outcome_handler(hook_type))
    return build_app(hooks, **config)


def run(app: Flask, *args: str, input: str | None = None) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), input=input)


# --- routes ----------------------------------------------------------------------------------


def test_routes_lists_every_endpoint_with_its_type() -> None:
    result = run(every_hook_app(), "routes")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["TYPE", "OKTA", "EVENT", "TYPE", "METHOD", "URL"]
    for hook_type in HOOK_TYPES:
        row = next(line.split() for line in lines if line.startswith(hook_type.slug + " "))
        assert row == [
            hook_type.slug,
            hook_type.event_type,
            ",".join(hook_type.methods),
            "/okta/hooks/" + hook_type.slug,
        ]
    assert "Authentication (OKTA_HOOKS_*): shared secret in the Authorization header" in lines
    assert "set SERVER_NAME" in result.output
    assert SECRET not in result.output


def test_routes_lists_both_methods_of_event_hooks_and_their_verification() -> None:
    result = run(every_hook_app(), "routes", "--base-url", "https://hooks.example.com")

    lines = result.output.splitlines()
    assert [
        "events",
        "com.okta.event_hook",
        "GET,POST",
        "https://hooks.example.com/okta/hooks/events",
    ] in [line.split() for line in lines]
    assert next(line.split()[:3] for line in lines if line.startswith("token ")) == [
        "token",
        "com.okta.oauth2.tokens.transform",
        "POST",
    ]
    assert (
        "Event hook URLs answer Okta's verification GET (X-Okta-Verification-Challenge): "
        "verify them in Okta once registered (try it: flask okta-hooks simulate events "
        "--verify)."
    ) in lines
    assert (
        "Register each URL in Okta (Workflow > Inline Hooks or Workflow > Event Hooks); "
        "Okta requires https."
    ) in lines


def test_routes_says_event_hooks_keep_the_header_secret_in_oauth_mode() -> None:
    app = every_hook_app(
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_OAUTH_ISSUER=ISSUER,
        OKTA_HOOKS_OAUTH_AUDIENCE="api://hooks",
    )

    result = run(app, "routes")

    assert (
        "Authentication (OKTA_HOOKS_*): OAuth 2.0 bearer token (token, saml, registration, "
        "password-import, user-import, telephony); shared secret in the Authorization header "
        "(events)"
    ) in result.output.splitlines()
    assert SECRET not in result.output


def test_routes_prints_the_urls_to_register() -> None:
    https = run(every_hook_app(), "routes", "--base-url", "https://hooks.example.com/")
    named = run(
        every_hook_app(SERVER_NAME="hooks.example.com", PREFERRED_URL_SCHEME="https"), "routes"
    )
    plain = run(every_hook_app(SERVER_NAME="localhost:5000"), "routes")

    assert "https://hooks.example.com/okta/hooks/token" in https.output
    assert "Okta requires https" in https.output
    assert "https://hooks.example.com/okta/hooks/saml" in named.output
    assert "http://localhost:5000/okta/hooks/saml" in plain.output
    assert "Okta only calls https:// URLs" in plain.output


def test_routes_follows_renamed_nested_and_second_blueprints() -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)
    hooks.token("/token/partners")(lambda call: None)
    partners = OktaHooks("partner_hooks", url_prefix="/partners", config_prefix="PARTNER_HOOKS_")
    partners.telephony(safe_outcome_handler(HOOK_TYPES[-1]))
    parent = Blueprint("api", __name__, url_prefix="/api")
    parent.register_blueprint(hooks)
    app = Flask("cli_test")
    app.config.update(
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_OAUTH_ISSUER=ISSUER,
        OKTA_HOOKS_OAUTH_AUDIENCE="api://hooks",
        PARTNER_HOOKS_SECRETS=[SECRET],
    )
    app.register_blueprint(parent)
    app.register_blueprint(partners)

    result = run(app, "routes")

    assert "/api/okta/hooks/token/partners" in result.output
    assert "/api/okta/hooks/token\n" in result.output
    assert "/partners/telephony" in result.output
    assert "Authentication (OKTA_HOOKS_*): OAuth 2.0 bearer token" in result.output
    assert "Authentication (PARTNER_HOOKS_*): shared secret" in result.output


def test_routes_without_endpoints_says_so() -> None:
    app = Flask("empty")

    assert "No Okta hook endpoints" in run(app, "routes").output


def test_the_group_is_found_through_the_flask_commands_entry_point() -> None:
    app = every_hook_app()
    group = FlaskGroup(create_app=lambda: app)

    result = app.test_cli_runner().invoke(group, ["okta-hooks", "routes"])

    assert result.exit_code == 0, result.output
    assert "/okta/hooks/telephony" in result.output


def test_the_commands_do_not_import_the_test_kit() -> None:
    # The test kit may need test-only packages; the commands ship in production images.
    code = (
        "import sys, flask_okta_hooks.cli, flask_okta_hooks.openapi; "
        "print(sorted(m for m in sys.modules if m.startswith('flask_okta_hooks.testing')))"
    )

    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout.strip() == "[]"


# --- sample ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hook_type", HOOK_TYPES, ids=[t.slug for t in HOOK_TYPES])
def test_sample_prints_the_kits_call(hook_type: Any) -> None:
    result = run(Flask("any"), "sample", hook_type.slug)

    assert result.exit_code == 0
    assert json.loads(result.output) == make_payload(hook_type)
    for variant in variants(hook_type):
        shown = run(Flask("any"), "sample", hook_type.slug, "--variant", variant)
        assert json.loads(shown.output) == make_payload(hook_type, variant)


def test_sample_takes_field_changes() -> None:
    result = run(
        Flask("any"),
        "sample",
        "token",
        "--set",
        "data.context.user.profile.login=ada@example.com",
        "--set",
        "data.access.claims.level=3",
        "--set",
        'data.access.claims.tags=["a"]',
        "--set",
        "data.identity=",
    )

    payload = json.loads(result.output)
    assert payload["data"]["context"]["user"]["profile"]["login"] == "ada@example.com"
    assert payload["data"]["access"]["claims"]["level"] == 3
    assert payload["data"]["access"]["claims"]["tags"] == ["a"]
    assert "identity" not in payload["data"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sample", "tokens"], "'tokens' is not one of"),
        (["sample", "token", "--variant", "hybrid"], "no token variant 'hybrid'"),
        (["sample", "token", "--set", "nothing"], "is not PATH=VALUE"),
        (["sample", "token", "--set", "data.context.session.amr.9=x"], "not an index"),
    ],
)
def test_sample_usage_errors_are_clear(args: list[str], message: str) -> None:
    result = run(Flask("any"), *args)

    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ("token", "no token variant 'nope'; the variants are: client-credentials\n"),
        ("registration", "the variants are: classic, progressive-profile\n"),
        ("events", "Invalid value for --variant: the events hook type has no variants\n"),
    ],
)
def test_an_unknown_variant_lists_the_variants_once(hook: str, message: str) -> None:
    result = run(Flask("any"), "sample", hook, "--variant", "nope")

    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("variants") == 1


# --- simulate in process -----------------------------------------------------------------


def enriching_app(**config: Any) -> Flask:
    hooks = OktaHooks()

    @hooks.token
    def enrich(call: TokenHookRequest) -> Any:
        return call.respond().add_claim(Token.ACCESS, "tier", "gold")

    @hooks.telephony
    def forgetful(call: Any) -> None:
        return None  # not an answer Okta takes from a telephony hook

    @hooks.registration
    def careless(call: Any) -> Any:
        return {"commands": [{"type": "com.okta.user.profile.update", "value": {"password": "x"}}]}

    return build_app(hooks, TESTING=False, **config)


def test_simulate_in_process_prints_the_answer_and_the_verdict() -> None:
    result = run(enriching_app(), "simulate", "token")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("POST /okta/hooks/token\n  Authorization: ****\n")
    assert "Status: 200" in result.output
    assert '"path": "/claims/tier"' in result.output
    assert "Okta's rules: OK" in result.output
    assert SECRET not in result.output


def test_simulate_shows_the_safe_outcome_and_why() -> None:
    result = run(enriching_app(), "simulate", "telephony")

    assert result.exit_code == 1, result.output
    assert "The telephony service could not send the code." in result.output
    assert "Note: log: okta hook call: hook=telephony" in result.output
    assert "outcome=fallback" in result.output
    assert "reason=unusable_result" in result.output
    assert "Handler: failed (unusable_result); the answer above is the failure outcome" in (
        result.output
    )
    assert "Okta accepts" not in result.output


def test_simulate_fails_when_a_broken_rule_gets_the_failure_outcome() -> None:
    hooks = OktaHooks()

    @hooks.token
    def claims_the_issuer(call: TokenHookRequest) -> Any:
        return call.respond().add_access_claim("iss", "https://issuer.example.com")

    result = run(build_app(hooks, TESTING=False), "simulate", "token")

    assert result.exit_code == 1, result.output
    assert "Status: 204" in result.output
    assert "Handler: failed (rule_violation:reserved_claim)" in result.output
    assert "'iss' is reserved in the ACCESS token" in result.output
    assert "Okta accepts" not in result.output


def test_simulate_fails_when_okta_would_drop_the_answer() -> None:
    result = run(enriching_app(OKTA_HOOKS_VALIDATE_RESPONSES=False), "simulate", "registration")

    assert result.exit_code == 1
    assert "Okta's rules: broken" in result.output
    assert "[sets_password]" in result.output
    assert "Okta stops the flow: the user is denied" in result.output


def test_simulate_takes_a_payload_file_and_changes(tmp_path: Any) -> None:
    call = make_payload("token", drop=("access",))
    path = tmp_path / "call.json"
    path.write_text(json.dumps(call))

    from_file = run(enriching_app(), "simulate", "token", "--payload", str(path))
    from_stdin = run(enriching_app(), "simulate", "token", "--payload", "-", input=json.dumps(call))
    changed = run(enriching_app(), "simulate", "token", "--set", "data.access=")

    for result in (from_file, from_stdin, changed):
        # No access token is minted, so the handler's access claim breaks Okta's rules and
        # the app answers with the token hook's safe outcome: an empty 204, a failure.
        assert result.exit_code == 1, result.output
        assert "Status: 204" in result.output
        assert "Handler: failed (rule_violation:token_not_minted)" in result.output
        assert "no ACCESS token is minted in this request" in result.output


def test_simulate_masks_secrets_in_the_request_it_shows() -> None:
    app = every_hook_app(TESTING=False)

    result = run(
        app,
        "simulate",
        "password-import",
        "--set",
        "data.context.credential.password=Hunter2!",
        "--show-request",
    )

    assert result.exit_code == 0, result.output
    assert "Hunter2!" not in result.output
    assert '"password": "<secret>"' in result.output
    assert '"username": "alan.turing@example.com"' in result.output


def test_simulate_signs_bearer_tokens_for_oauth_apps() -> None:
    app = enriching_app(
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_SECRETS=None,
        OKTA_HOOKS_OAUTH_ISSUER=ISSUER,
        OKTA_HOOKS_OAUTH_AUDIENCE="api://hooks",
    )

    result = run(app, "simulate", "token")

    assert result.exit_code == 0, result.output
    assert "Authorization: Bearer ****" in result.output
    assert "signed by a local test key" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "saml"], "serves no saml hook"),
        (["simulate", "token", "--payload", "-"], "not JSON"),
        (["simulate", "token", "--variant", "x", "--payload", "-"], "exclude each other"),
    ],
)
def test_simulate_usage_errors_are_clear(args: list[str], message: str) -> None:
    result = run(enriching_app(), *args, input="[")

    assert result.exit_code == 2
    assert message in result.output


# --- simulate: event hooks ------------------------------------------------------------------

SAMPLE_DEACTIVATION = make_payload("events")["data"]["events"][0]["uuid"]


def events_app(seen: list[str | None], **config: Any) -> Flask:
    """An app whose deactivation handler records uuids and whose sign-in handler fails."""
    hooks = OktaHooks()

    @hooks.event("user.lifecycle.deactivate")
    def deactivated(event: LogEvent) -> None:
        seen.append(event.uuid)

    @hooks.event("user.session.start")
    def broken(event: LogEvent) -> None:
        raise RuntimeError(f"directory down for {event.actor.alternate_id if event.actor else ''}")

    return build_app(hooks, TESTING=False, **config)


def test_simulate_events_posts_a_batch_and_a_204_is_the_right_answer() -> None:
    seen: list[str | None] = []

    result = run(events_app(seen), "simulate", "events")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("POST /okta/hooks/events\n  Authorization: ****\n")
    assert "Status: 204" in result.output
    assert "(empty body)" in result.output
    assert "Okta's rules: OK, Okta accepts this answer." in result.output
    # The handlers ran after the answer, and the command waited for them.
    assert seen == [SAMPLE_DEACTIVATION]
    assert (
        "Note: log: okta event handler failed: event_type='user.session.start' "
        "uuid='6a0d93f1-fe6b-11ef-8d3a-5b9c2e7f1a04' error=RuntimeError"
    ) in result.output
    assert "sally.admin@example.com" not in result.output
    assert SECRET not in result.output


def test_simulate_events_fails_when_the_delivery_is_not_accepted() -> None:
    class Unreachable:
        def claim(self, key: str) -> bool:
            raise ConnectionError("store down")

        def release(self, key: str) -> None:
            pass

    result = run(events_app([], OKTA_HOOKS_EVENTS_DEDUPE=Unreachable()), "simulate", "events")

    assert result.exit_code == 1
    assert "Status: 503" in result.output
    assert '"code": "dedupe_unavailable"' in result.output
    assert "Okta treats HTTP 503 as a failed hook call" in result.output
    assert "sends it once more after a timeout or a 5xx" in result.output


def test_simulate_events_verify_sends_okta_s_verification_get() -> None:
    result = run(events_app([]), "simulate", "events", "--verify", "--challenge", "c-0451")
    random = run(events_app([]), "simulate", "events", "--verify")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        "GET /okta/hooks/events",
        "  Authorization: ****",
        "  X-Okta-Verification-Challenge: c-0451",
    ]
    assert lines[3].startswith("Status: 200 in ")
    assert '"verification": "c-0451"' in result.output
    assert "Okta's verification: OK, Okta marks the hook verified." in result.output
    assert random.exit_code == 0, random.output
    assert "Okta's verification: OK" in random.output


def test_simulate_events_uses_the_header_secret_in_oauth_mode() -> None:
    seen: list[str | None] = []
    app = events_app(
        seen,
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_OAUTH_ISSUER=ISSUER,
        OKTA_HOOKS_OAUTH_AUDIENCE="api://hooks",
    )

    delivered = run(app, "simulate", "events")
    verified = run(app, "simulate", "events", "--verify")

    for result in (delivered, verified):
        assert result.exit_code == 0, result.output
        assert "  Authorization: ****\n" in result.output
        assert "Bearer" not in result.output
        assert "signed by a local test key" not in result.output
    assert seen == [SAMPLE_DEACTIVATION]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "token", "--verify"], "Okta sends no verification GET to token hooks"),
        (["simulate", "events", "--verify", "--set", "data.events="], "leave out --variant"),
        (["simulate", "events", "--challenge", "c"], "--challenge goes with --verify"),
    ],
)
def test_simulate_verify_usage_errors_are_clear(args: list[str], message: str) -> None:
    result = run(events_app([]), *args)

    assert result.exit_code == 2
    assert message in result.output


# --- simulate --url ------------------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` over loopback HTTP from a real server thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def served() -> Iterator[tuple[Flask, str]]:
    """The enriching app served over loopback HTTP."""
    app = enriching_app()
    with serving(app) as base:
        yield app, base + "/okta/hooks"


def test_simulate_url_uses_the_apps_secret(served: tuple[Flask, str]) -> None:
    app, base = served

    result = run(app, "simulate", "token", "--url", base + "/token")

    assert result.exit_code == 0, result.output
    assert f"POST {base}/token" in result.output
    assert "Okta's rules: OK" in result.output
    assert SECRET not in result.output


@pytest.mark.parametrize("auth", ["header", "none"])
def test_simulate_url_sends_the_custom_headers_the_app_requires(auth: str) -> None:
    gateway_key = "gateway-key-41c9e07d"
    app = enriching_app(
        OKTA_HOOKS_REQUIRED_HEADERS={"X-Gateway-Key": [gateway_key, "older-key"]},
        OKTA_HOOKS_AUTH=auth,
    )
    with serving(app) as base:
        result = run(app, "simulate", "token", "--url", base + "/okta/hooks/token")
        # An app configured without the header (or none found) sends none: refused.
        refused = run(enriching_app(), "simulate", "token", "--url", base + "/okta/hooks/token")

    assert result.exit_code == 0, result.output
    assert "Okta's rules: OK" in result.output
    assert "X-Gateway-Key: ****" in result.output
    assert gateway_key not in result.output
    assert refused.exit_code == 1
    assert "Status: 401" in refused.output


def test_simulate_url_with_a_wrong_secret_fails(served: tuple[Flask, str]) -> None:
    app, base = served
    wrong = "wrong-secret-value-7f3a"

    result = run(app, "simulate", "token", "--url", base + "/token", "--secret", wrong)

    assert result.exit_code == 1
    assert "Status: 401" in result.output
    assert "Okta treats HTTP 401 as a failed hook call" in result.output
    assert wrong not in result.output


def test_simulate_url_judges_an_empty_telephony_answer(served: tuple[Flask, str]) -> None:
    server_app = Flask("bare")
    server_app.add_url_rule("/t", "t", lambda: ("", 204), methods=["POST"])
    with serving(server_app) as base:
        result = run(Flask("none"), "simulate", "telephony", "--url", base + "/t", "--secret", "s")

    assert result.exit_code == 1
    assert "[empty_not_allowed]" in result.output


def test_simulate_url_verifies_a_served_event_hook() -> None:
    app = events_app([])
    with serving(app) as base:
        url = base + "/okta/hooks/events"
        verified = run(app, "simulate", "events", "--verify", "--challenge", "c-7", "--url", url)
        delivered = run(app, "simulate", "events", "--url", url)

    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith(f"GET {url}\n  Authorization: ****\n")
    assert "X-Okta-Verification-Challenge: c-7" in verified.output
    assert "Okta's verification: OK" in verified.output
    assert delivered.exit_code == 0, delivered.output
    assert "Status: 204" in delivered.output
    for result in (verified, delivered):
        assert SECRET not in result.output


def test_simulate_url_fails_a_verification_that_does_not_echo_the_challenge() -> None:
    server_app = Flask("bare")
    server_app.add_url_rule("/e", "e", lambda: {"challenge": "c-8"}, methods=["GET"])
    with serving(server_app) as base:
        result = run(
            Flask("none"),
            "simulate",
            "events",
            "--verify",
            "--challenge",
            "c-8",
            "--url",
            base + "/e",
            "--secret",
            "s",
        )

    assert result.exit_code == 1
    assert "Okta's verification: failed" in result.output
    assert 'the body must be exactly {"verification": "c-8"} [verification_answer]' in result.output
    assert "Okta would leave the hook unverified and send it no events." in result.output


def test_simulate_url_reports_an_unreachable_endpoint() -> None:
    result = run(Flask("none"), "simulate", "token", "--url", "http://127.0.0.1:9/x")

    assert result.exit_code == 1
    assert "no answer from http://127.0.0.1:9/x" in result.output


# --- openapi ---------------------------------------------------------------------------------


def test_openapi_documents_every_endpoint_and_validates() -> None:
    result = run(every_hook_app(), "openapi", "--base-url", "https://hooks.example.com")

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://hooks.example.com"}]
    for hook_type in HOOK_TYPES:
        operations = document["paths"][f"/okta/hooks/{hook_type.slug}"]
        assert set(operations) == {method.lower() for method in hook_type.methods}
        operation = operations["post"]
        statuses = set(operation["responses"])
        assert {"400", "401", "405", "413", "415"} <= statuses
        assert ("204" in statuses) is hook_type.empty_allowed
        assert ("200" in statuses) is hook_type.response_class.reads_body
        methods = " and ".join(hook_type.methods)
        assert operation["responses"]["405"]["description"].startswith(f"Any method but {methods};")
        body = operation["requestBody"]["content"]["application/json"]
        assert body["schema"] == {
            "$ref": f"#/components/schemas/{hook_type.request_class.__name__}"
        }
        assert body["example"] == make_payload(hook_type)
        assert operation["security"] == [{"okta_hooks_secret": []}]
        if not hook_type.response_class.reads_body:
            # Okta reads no answer: no response body is described at all.
            assert hook_type.response_class.__name__ not in document["components"]["schemas"]
            continue
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{hook_type.response_class.__name__}"}
        response = document["components"]["schemas"][hook_type.response_class.__name__]
        assert set(response["properties"]) == {"commands", "error", "debugContext"}
        command = response["properties"]["commands"]["items"]
        command_schema = document["components"]["schemas"][command["$ref"].rsplit("/", 1)[-1]]
        assert command_schema["properties"]["type"]["enum"] == sorted(
            hook_type.response_class.command_types
        )


def test_openapi_documents_the_event_hook_verification_and_the_204() -> None:
    document = json.loads(run(every_hook_app(), "openapi").output)
    events = document["paths"]["/okta/hooks/events"]

    verification = events["get"]
    assert verification["operationId"] == "okta_hooks.events_verification"
    assert verification["security"] == [{"okta_hooks_secret": []}]
    assert verification["parameters"] == [
        {
            "name": "X-Okta-Verification-Challenge",
            "in": "header",
            "required": True,
            "description": "The challenge to echo.",
            "schema": {"type": "string", "minLength": 1},
        }
    ]
    assert set(verification["responses"]) == {"200", "400", "401", "405"}
    answer = verification["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {
        "type": "object",
        "required": ["verification"],
        "properties": {"verification": {"type": "string"}},
        "additionalProperties": False,
    }
    assert set(answer["example"]) == {"verification"}
    assert "longer than 1024 bytes" in verification["responses"]["400"]["description"]
    assert "requestBody" not in verification

    delivery = events["post"]
    assert set(delivery["responses"]) == {"204", "400", "401", "405", "413", "415", "503"}
    assert delivery["responses"]["204"] == {
        "description": "The delivery is accepted; its events are handled after this answer."
    }
    assert "Okta sends it once more" in delivery["responses"]["503"]["description"]
    assert "sends it once more after a timeout or a 5xx" in delivery["description"]


def test_openapi_describes_the_events_of_a_delivery() -> None:
    document = json.loads(run(every_hook_app(), "openapi").output)
    schemas = document["components"]["schemas"]

    request = schemas["EventHookRequest"]
    assert request["properties"]["eventType"]["enum"] == ["com.okta.event_hook"]
    assert "cloudEventsVersion" in request["properties"]
    events = request["properties"]["data"]["properties"]["events"]
    assert events["type"] == "array"
    event = events["items"]["properties"]
    assert event["uuid"]["maxLength"] == 128
    assert event["published"]["format"] == "date-time"
    assert event["actor"] == {"$ref": "#/components/schemas/LogActor"}
    assert event["target"] == {"type": "array", "items": {"$ref": "#/components/schemas/LogTarget"}}
    assert event["request"]["properties"]["ipChain"]["items"] == {
        "$ref": "#/components/schemas/IpAddress"
    }
    assert events["items"]["required"] == ["eventType"]
    assert schemas["Geolocation"]["properties"]["lat"]["type"] == ["number", "null"]
    assert schemas["LogTarget"]["properties"]["changeDetails"]["type"] == ["object", "null"]


def test_openapi_keeps_the_header_secret_for_event_hooks_in_oauth_mode() -> None:
    app = every_hook_app(
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_OAUTH_ISSUER=ISSUER,
        OKTA_HOOKS_OAUTH_AUDIENCE="api://hooks",
    )

    document = json.loads(run(app, "openapi").output)

    validate_openapi(document)
    paths = document["paths"]
    assert paths["/okta/hooks/token"]["post"]["security"] == [{"okta_hooks_oauth": []}]
    for method in ("get", "post"):
        assert paths["/okta/hooks/events"][method]["security"] == [{"okta_hooks_secret": []}]
    assert "503" in paths["/okta/hooks/token"]["post"]["responses"]
    assert "503" not in paths["/okta/hooks/events"]["get"]["responses"]


def test_openapi_request_schemas_describe_the_typed_sections() -> None:
    document = json.loads(run(every_hook_app(), "openapi").output)
    schemas = document["components"]["schemas"]

    token = schemas["TokenHookRequest"]
    assert token["properties"]["eventType"]["enum"] == ["com.okta.oauth2.tokens.transform"]
    data = token["properties"]["data"]["properties"]
    assert data["access"] == {"$ref": "#/components/schemas/MintedToken"}
    assert data["context"]["properties"]["user"] == {"$ref": "#/components/schemas/OktaUser"}
    assert "additionalProperties" not in token  # Okta adds members over time
    message = schemas["MessageProfile"]["properties"]
    assert message["otpCode"]["format"] == "password"
    assert schemas["OktaSession"]["properties"]["amr"]["items"] == {"type": "string"}


def test_openapi_describes_oauth_and_yaml() -> None:
    app = enriching_app(
        OKTA_HOOKS_AUTH="oauth",
        OKTA_HOOKS_SECRETS=None,
        OKTA_HOOKS_OAUTH_ISSUER=ISSUER,
        OKTA_HOOKS_OAUTH_AUDIENCE="api://hooks",
    )

    result = run(app, "openapi", "--format", "yaml", "--title", "Acme hooks")

    document = yaml.safe_load(result.output)
    validate_openapi(document)
    assert document["info"]["title"] == "Acme hooks"
    assert document["components"]["securitySchemes"]["okta_hooks_oauth"]["scheme"] == "bearer"
    assert "503" in document["paths"]["/okta/hooks/token"]["post"]["responses"]


def test_the_openapi_extra_carries_what_the_command_imports() -> None:
    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    extra = config["options.extras_require"]["openapi"].split()
    names = {re.split(r"[<>=!~\[;]", line, maxsplit=1)[0].lower() for line in extra}

    assert {"apispec", "pyyaml"} <= names


@pytest.mark.parametrize(
    ("missing", "args", "needs"),
    [
        ("apispec", [], "the openapi command needs apispec"),
        ("yaml", ["--format", "yaml"], "--format yaml needs PyYAML"),
    ],
)
def test_openapi_without_its_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, missing: str, args: list[str], needs: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import raises ImportError
    monkeypatch.delitem(sys.modules, "flask_okta_hooks.openapi", raising=False)

    result = run(every_hook_app(), "openapi", *args)

    assert result.exit_code == 1
    assert needs in result.output
    assert "pip install 'flask-okta-hooks[openapi]'" in result.output
    assert "(from a checkout of the repository: pip install '.[openapi]')" in result.output


def test_openapi_writes_a_file(tmp_path: Any) -> None:
    target = tmp_path / "openapi.json"

    result = run(every_hook_app(), "openapi", "--output", str(target))

    assert result.exit_code == 0
    validate_openapi(json.loads(target.read_text()))
