"""The test kit itself: realistic calls Okta could send, an Okta-like client, clear assertions."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask

from flask_okta_hooks import (
    HOOK_TYPES,
    AssertionSection,
    DeliveryStatus,
    EventHookRequest,
    HookType,
    LogOutcome,
    OktaHooks,
    OutcomeResult,
    PasswordImportHookRequest,
    RegistrationFlow,
    ResponseRuleError,
    SamlHookRequest,
    Severity,
    TelephonyRequestType,
    Token,
    TokenHookRequest,
)
from flask_okta_hooks.lazy import lazy_property
from flask_okta_hooks.oauth import verifier_for
from flask_okta_hooks.routes import hook_type_named
from flask_okta_hooks.testing import (
    DROP,
    FACTORIES,
    HookResult,
    HookWarning,
    OktaClient,
    SigningKey,
    assert_app_user_profile_updated,
    assert_assertion_replaced,
    assert_attribute_added,
    assert_claim_added,
    assert_claim_removed,
    assert_claim_replaced,
    assert_command,
    assert_empty_response,
    assert_error,
    assert_events_accepted,
    assert_lifetime_set,
    assert_no_commands,
    assert_okta_accepts,
    assert_password_unverified,
    assert_password_verified,
    assert_profile_updated,
    assert_registration_allowed,
    assert_registration_denied,
    assert_telephony_fallback,
    assert_telephony_status,
    assert_user_created,
    assert_user_linked,
    assert_verification_answered,
    event_hook_request,
    get_path,
    load_sample,
    log_event,
    make_payload,
    make_request,
    okta_verdict,
    registration_request,
    request_from_payload,
    saml_request,
    sample_names,
    set_path,
    telephony_request,
    token_request,
    user_import_request,
    variants,
)

from .conftest import REFERENCE_DIR, SECRET, build_app, safe_outcome_handler

HOOK_IDS = [hook_type.slug for hook_type in HOOK_TYPES]
#: Okta's reference data names a hook type's files by this name where it is not the slug.
REFERENCE_NAMES = {"events": "event-hook"}
CASES = [
    pytest.param(hook_type, variant, id=f"{hook_type.slug}-{variant or 'default'}")
    for hook_type in HOOK_TYPES
    for variant in (None, *variants(hook_type))
]


def read_every_section(call: Any) -> None:
    """Read every typed section of a request, so a malformed one would raise."""
    for name in dir(type(call)):
        if isinstance(getattr(type(call), name), lazy_property):
            getattr(call, name)


# --- payloads Okta could send ------------------------------------------------------------


@pytest.mark.parametrize("hook_type", HOOK_TYPES, ids=HOOK_IDS)
def test_every_hook_type_has_a_shipped_sample(hook_type: HookType) -> None:
    assert hook_type.slug in sample_names()
    assert load_sample(hook_type.slug)["eventType"] == hook_type.event_type


@pytest.mark.parametrize(("hook_type", "variant"), CASES)
def test_every_factory_output_passes_okta_request_schema(
    hook_type: HookType, variant: str | None
) -> None:
    name = REFERENCE_NAMES.get(hook_type.slug, hook_type.slug)
    path = REFERENCE_DIR / "schemas" / "corrected" / f"{name}.request.schema.json"
    if not path.is_file():
        pytest.skip(f"no request schema for {hook_type.slug} at {path}")
    schema = json.loads(path.read_text())

    jsonschema.Draft202012Validator(schema).validate(make_payload(hook_type, variant))


@pytest.mark.parametrize(("hook_type", "variant"), CASES)
def test_every_factory_output_is_typed_without_error(
    hook_type: HookType, variant: str | None
) -> None:
    call = make_request(hook_type, variant)

    assert isinstance(call, hook_type.request_class)
    read_every_section(call)


@pytest.mark.parametrize(("hook_type", "variant"), CASES)
def test_every_factory_output_is_served_by_the_endpoint(
    hook_type: HookType, variant: str | None
) -> None:
    seen: list[Any] = []
    hooks = OktaHooks()

    def handler(call: Any) -> Any:
        read_every_section(call)
        seen.append(call)
        return safe_outcome_handler(hook_type)(call)

    hooks.mount(hook_type, handler)

    result = OktaClient(build_app(hooks)).post(hook_type, variant=variant)

    assert result.status_code in (200, 204)
    assert_okta_accepts(result)
    assert len(seen) == 1


def test_every_call_is_fresh() -> None:
    first = token_request()
    first["data"]["access"]["claims"]["x"] = 1

    assert "x" not in token_request()["data"]["access"]["claims"]


def test_token_factory_options() -> None:
    payload = token_request(
        id_claims={"nonce": DROP, "tier": "gold"},
        access_claims={"groups_hint": ["staff"]},
        login="ada@example.com",
        user_id="00u000000000000000x7",
        client_id="0oa000000000000000x7",
        grant_type="refresh_token",
        scopes=["openid", "offline_access"],
        drop=("refresh_token",),
    )
    call = TokenHookRequest.from_payload(payload)

    assert call.login == "ada@example.com"
    assert call.session is not None
    assert call.session.login == "ada@example.com"
    assert call.user is not None
    assert call.user.id == "00u000000000000000x7"
    assert call.client_id == "0oa000000000000000x7"
    assert call.grant_type == "refresh_token"
    assert call.granted_scopes == ("openid", "offline_access")
    assert call.protocol.request.scope == "openid offline_access"
    assert call.id_token is not None
    assert "nonce" not in call.id_token.claims
    assert call.id_token.claims["tier"] == "gold"
    assert call.id_token.claims["aud"] == "0oa000000000000000x7"
    assert call.access_token is not None
    assert call.access_token.claims["groups_hint"] == ["staff"]
    assert call.access_token.claims["sub"] == "ada@example.com"
    assert call.refresh_token_jti is None


def test_a_client_credentials_call_has_no_user_and_no_id_token() -> None:
    call = make_request("token", "client-credentials")

    assert call.grant_type == "client_credentials"
    assert call.id_token is None
    assert call.user is None
    assert call.session is None
    assert call.access_token is not None


@pytest.mark.parametrize(
    ("flow", "expected", "request_type"),
    [
        ("self-service", RegistrationFlow.SELF_SERVICE_REGISTRATION, "self.service.registration"),
        ("progressive", RegistrationFlow.PROGRESSIVE_PROFILE, "progressive.profile"),
        (
            RegistrationFlow.PROGRESSIVE_PROFILE,
            RegistrationFlow.PROGRESSIVE_PROFILE,
            "progressive.profile",
        ),
        ("classic", RegistrationFlow.SELF_SERVICE_REGISTRATION, None),
    ],
)
def test_registration_factory_flows(
    flow: Any, expected: RegistrationFlow, request_type: str | None
) -> None:
    payload = registration_request(flow=flow)
    call = make_request("registration", flow=flow)

    assert payload.get("requestType") == request_type
    assert call.flow is expected
    assert call.action == (None if flow == "classic" else "ALLOW")


def test_registration_factory_profiles() -> None:
    ssr = make_request("registration", profile={"email": "eve@blocked.test", "lastName": DROP})
    pp = make_request(
        "registration",
        flow="progressive",
        profile={"department": "Ops"},
        profile_update={"employeeNumber": "4242"},
    )

    assert ssr.submitted.email == "eve@blocked.test"
    assert "lastName" not in ssr.submitted.attributes
    assert pp.submitted.attributes == {"employeeNumber": "4242"}
    assert pp.user is not None
    assert pp.user.profile.get("department") == "Ops"
    with pytest.raises(ValueError, match="progressive"):
        registration_request(profile_update={"x": 1})
    with pytest.raises(ValueError, match="no registration flow"):
        registration_request(flow="sideways")


def test_password_import_factory() -> None:
    call = make_request("password-import", username="alan@example.com", password="Enigma-1912")

    assert isinstance(call, PasswordImportHookRequest)
    assert call.username == "alan@example.com"
    assert call.password.reveal() == "Enigma-1912"
    assert make_request("password-import", "classic").request_info.url == "/api/v1/authn"  # type: ignore[union-attr]


def test_user_import_factory() -> None:
    matched = make_request(
        "user-import", matched_user_id="00u1abc", app_user={"department": None}, conflicts=[]
    )
    forced = make_request("user-import", matched_user_id="00u1abc", result="CREATE_USER")

    assert matched.matched_user_id == "00u1abc"
    assert matched.default_result == "LINK_USER"
    assert matched.app_user_profile.get("department") is None
    assert matched.conflicts == ()
    assert forced.default_result == "CREATE_USER"
    assert (
        user_import_request(profile={"login": "x@example.com"})["data"]["user"]["profile"]["login"]
        == "x@example.com"
    )


def test_telephony_factory_keeps_the_code_in_the_message() -> None:
    call = make_request(
        "telephony",
        request_type=TelephonyRequestType.PASSWORD_RESET,
        otp_code="314159",
        phone_number="+15555550100",
        locale="FR-FR",
    )
    voice = make_request("telephony", "voice")

    assert call.request_type is TelephonyRequestType.PASSWORD_RESET
    assert call.message_profile.otp_code.reveal() == "314159"
    assert call.message_profile.message is not None
    assert "314159" in call.message_profile.message.reveal()
    assert call.message_profile.phone_number == "+15555550100"
    assert call.message_profile.locale == "FR-FR"
    assert voice.message_profile.message is None
    assert (
        telephony_request(message="Code: 1")["data"]["messageProfile"]["msgTemplate"] == "Code: 1"
    )


def test_event_hook_factory_carries_the_events_given() -> None:
    published = datetime(2025, 3, 12, 8, 30, 1, 250000, tzinfo=UTC)
    imported = log_event(
        "user.import.password",
        uuid="e-1",
        published=published,
        outcome="SUCCESS",
        actor={"id": "00u1abc", "type": "User", "alternateId": "ada@example.com"},
        targets=[{"id": "00u1abc", "type": "User", "alternateId": "ada@example.com"}],
        severity="WARN",
        legacyEventType=DROP,
        overrides={"debugContext.debugData.requestUri": "/idp/idx/challenge/answer"},
    )
    call = make_request("events", events=[imported, "user.session.end"], event_id="d-1")

    assert isinstance(call, EventHookRequest)
    assert call.event_id == "d-1"
    first, second = call.events
    assert (first.event_type, first.uuid, first.published) == (
        "user.import.password",
        "e-1",
        published,
    )
    assert imported["published"] == "2025-03-12T08:30:01.250Z"
    assert first.outcome == LogOutcome(result=OutcomeResult.SUCCESS, reason=None)
    assert first.actor is not None
    assert first.actor.alternate_id == "ada@example.com"
    assert [(t.type, t.id) for t in first.targets] == [("User", "00u1abc")]
    assert first.severity is Severity.WARN
    assert first.legacy_event_type is None
    assert first.debug_data["requestUri"] == "/idp/idx/challenge/answer"
    assert second.event_type == "user.session.end"
    assert second.uuid not in (None, "e-1")


def test_log_events_are_distinct_unless_they_share_a_uuid() -> None:
    one, two = log_event(), log_event()

    assert one["uuid"] != two["uuid"]
    assert one["eventType"] == "user.lifecycle.deactivate"
    assert log_event(uuid="same")["uuid"] == log_event(uuid="same")["uuid"] == "same"
    assert "uuid" not in log_event(drop=("uuid",))
    assert log_event(outcome={"result": "FAILURE", "reason": "x"})["outcome"]["reason"] == "x"
    with pytest.raises(ValueError, match="aware datetime"):
        log_event(published=datetime(2025, 1, 1))


def test_the_default_delivery_is_the_shipped_batch() -> None:
    payload = event_hook_request()

    assert payload == load_sample("events")
    assert [e["eventType"] for e in payload["data"]["events"]] == [
        "user.lifecycle.deactivate",
        "user.session.start",
    ]
    assert event_hook_request(events=[])["data"]["events"] == []
    assert "events" not in event_hook_request(drop=("events",))["data"]


def test_saml_factory_adds_attribute_statements() -> None:
    call = make_request(
        "saml",
        claims={
            "groups": ["Everyone", "Admins"],
            "clearance": 3,
            "active": True,
            "employeeNumber": DROP,
        },
        login="grace@example.com",
        audience="https://sp.example.com",
    )

    assert isinstance(call, SamlHookRequest)
    assert call.claims["groups"].plain_values == ("Everyone", "Admins")
    assert call.claims["clearance"].values[0].xsi_type == "xs:integer"
    assert call.claims["clearance"].plain_values == ("3",)
    assert call.claims["active"].plain_values == ("true",)
    assert "employeeNumber" not in call.claims
    assert call.subject is not None
    assert call.subject.name_id == "grace@example.com"
    assert call.conditions is not None
    assert call.conditions.audience_restriction == ("https://sp.example.com",)
    whole = {"attributes": {}, "attributeValues": [{"value": "x"}]}
    assert saml_request(claims={"raw": whole})["data"]["assertion"]["claims"]["raw"] == whole


def test_overrides_reach_any_member_by_path() -> None:
    payload = token_request(
        overrides={
            "data.context.user.profile.login": "z@example.com",
            ("data", "access", "claims", "https://example.com/tier"): "gold",
            "data.context.session.amr.0": "SMS",
            "data.context.policy": DROP,
            "data.newSection.deep.value": 1,
            "requestType": "anything",
        }
    )

    assert get_path(payload, "data.context.user.profile.login") == "z@example.com"
    assert payload["data"]["access"]["claims"]["https://example.com/tier"] == "gold"
    assert get_path(payload, "data.context.session.amr") == ["SMS", "MFA"]
    assert get_path(payload, "data.context.policy", "absent") == "absent"
    assert payload["data"]["newSection"] == {"deep": {"value": 1}}
    assert payload["requestType"] == "anything"


def test_paths_that_cannot_be_followed_say_why() -> None:
    payload = token_request()
    with pytest.raises(KeyError, match="not an index"):
        set_path(payload, "data.context.session.amr.7", "x")
    with pytest.raises(ValueError, match="at least one"):
        set_path(payload, "", 1)
    set_path(payload, "data.absent.child", DROP)  # nothing to remove: no error
    assert "absent" not in payload["data"]


def test_unknown_hook_types_variants_and_samples_are_named() -> None:
    with pytest.raises(LookupError, match="the hook types are token, saml"):
        make_payload("tokens")
    with pytest.raises(LookupError, match="variants are"):
        make_payload("token", "hybrid")
    with pytest.raises(LookupError, match="no sample called"):
        load_sample("nope")
    assert (
        make_payload("password_import")["eventType"] == "com.okta.user.credential.password.import"
    )


def test_every_factory_is_for_a_known_hook_type() -> None:
    assert set(FACTORIES) <= {hook_type.slug for hook_type in HOOK_TYPES}


def test_a_call_in_wire_format_becomes_its_typed_request() -> None:
    assert isinstance(request_from_payload(token_request()), TokenHookRequest)
    with pytest.raises(LookupError, match="eventType"):
        request_from_payload({"eventType": "com.example.other", "data": {}})


# --- the client ----------------------------------------------------------------------------


def token_app(**config: Any) -> Flask:
    hooks = OktaHooks()

    @hooks.token
    def enrich(call: TokenHookRequest) -> Any:
        return call.respond().add_access_claim("tier", "gold")

    @hooks.token("/token/partners")
    def partners(call: TokenHookRequest) -> None:
        return None

    return build_app(hooks, **config)


def test_the_client_sends_the_configured_secret_and_okta_headers() -> None:
    app = token_app(
        OKTA_HOOKS_AUTH_HEADER="X-Okta-Secret", OKTA_HOOKS_SECRETS=["rotated-in-0123456789", SECRET]
    )
    result = OktaClient(app).post("token")

    assert result.status_code == 200
    assert result.response.request.headers["X-Okta-Secret"] == "rotated-in-0123456789"
    assert result.response.request.headers["Content-Type"] == "application/json"
    assert result.mimetype == "application/json"
    assert result.json == result.body == result.get_json()
    assert isinstance(result.request, TokenHookRequest)
    assert repr(result) == "<HookResult token /okta/hooks/token -> 200>"


def test_the_client_reaches_each_endpoint_of_a_type_by_path() -> None:
    client = OktaClient(token_app())

    assert client.route("token").rule == "/okta/hooks/token"  # the default path first
    partners = client.post("token", path="/okta/hooks/token/partners")
    main = client.post("token", path="/okta/hooks/token")

    assert partners.status_code == 204
    assert main.status_code == 200
    # The path it was mounted at, below the blueprint's prefix, names it too.
    assert client.post("token", path="/token/partners").route.rule == "/okta/hooks/token/partners"
    with pytest.raises(LookupError, match="serves no saml hook"):
        client.post("saml")
    with pytest.raises(LookupError, match="at /elsewhere"):
        client.post("token", path="/elsewhere")


def test_the_client_can_send_unauthenticated_raw_and_odd_calls() -> None:
    client = OktaClient(token_app())
    path = "/okta/hooks/token"

    assert client.post("token", path=path, authenticated=False).status_code == 401
    assert client.post("token", path=path, headers={"Authorization": "nope"}).status_code == 401
    assert client.post("token", b"{oops", path=path).status_code == 400
    no_type = client.post("token", path=path, headers={"Content-Type": ""})
    assert no_type.status_code == 415
    broken = client.post("token", {"eventType": "x", "data": {}}, path=path)
    assert broken.status_code == 400
    assert broken.request is None
    with pytest.raises(TypeError, match="not both"):
        client.post("token", token_request(), login="x")


def test_the_client_needs_no_secret_when_auth_is_off() -> None:
    app = token_app(OKTA_HOOKS_AUTH="none", OKTA_HOOKS_SECRETS=None)

    assert OktaClient(app).post("token", path="/okta/hooks/token").status_code == 200


def events_app(seen: list[str | None], **config: Any) -> Flask:
    hooks = OktaHooks()

    @hooks.event("user.lifecycle.deactivate")
    def deactivated(event: Any) -> None:
        time.sleep(0.05)  # the answer is long gone by now
        seen.append(event.uuid)

    return build_app(hooks, **config)


def test_the_client_verifies_an_event_hook_as_okta_does() -> None:
    client = OktaClient(events_app([]))

    result = client.verify("c-1")
    random = client.verify()

    assert result.status_code == 200
    assert result.method == "GET"
    assert result.challenge == "c-1"
    assert result.request is None
    sent = result.response.request.headers
    assert sent["X-Okta-Verification-Challenge"] == "c-1"
    assert sent["Authorization"] == SECRET
    assert repr(result) == "<HookResult events GET /okta/hooks/events -> 200>"
    assert_verification_answered(result)
    assert_verification_answered(result, "c-1")
    assert random.challenge is not None
    assert len(random.challenge) >= 24
    assert_verification_answered(random)
    assert client.verify("c-2", authenticated=False).status_code == 401
    missing = client.verify("c-3", headers={"X-Okta-Verification-Challenge": ""})
    assert missing.status_code == 400
    with pytest.raises(ValueError, match="no verification GET to a token hook"):
        client.verify("c", hook="token")


def test_the_client_delivers_events_and_waits_for_their_handlers() -> None:
    seen: list[str | None] = []
    client = OktaClient(events_app(seen))

    result = client.deliver(log_event(uuid="a"), "user.session.start", event_id="d-9")
    sample_batch = client.deliver()

    assert result.status_code == 204
    assert isinstance(result.request, EventHookRequest)
    assert result.request.event_id == "d-9"
    assert [e.event_type for e in result.request.events] == [
        "user.lifecycle.deactivate",
        "user.session.start",
    ]
    assert seen[0] == "a"  # handled when deliver returned
    assert_events_accepted(result)
    assert_events_accepted(sample_batch)
    assert seen[1] == load_sample("events")["data"]["events"][0]["uuid"]


def test_deliver_without_waiting_returns_at_the_answer() -> None:
    release = threading.Event()
    hooks = OktaHooks()
    hooks.event()(lambda event: release.wait(5))
    client = OktaClient(build_app(hooks))

    result = client.deliver(log_event(), wait=False)

    assert result.status_code == 204
    with pytest.raises(AssertionError, match=r"event handlers still running after 0\.05 s"):
        client.drain(timeout=0.05)
    release.set()
    client.drain()


def test_event_hooks_keep_the_header_secret_when_the_app_uses_oauth() -> None:
    seen: list[str | None] = []
    app = events_app(seen, **OAUTH_WITH_SECRET)
    app.register_blueprint(token_hooks())
    client = OktaClient(app)

    assert client.auth_headers(client.route("events")) == {"Authorization": SECRET}
    assert client.auth_headers(client.route("token"))["Authorization"].startswith("Bearer ey")
    assert_verification_answered(client.verify("c-oauth"))
    assert_events_accepted(client.deliver(log_event(uuid="o")))
    assert client.post("token").status_code == 200
    assert seen == ["o"]


ISSUER = "https://example.okta.com/oauth2/aus5kq2m1hWdT7bXy4x7"
OAUTH = {
    "OKTA_HOOKS_AUTH": "oauth",
    "OKTA_HOOKS_SECRETS": None,
    "OKTA_HOOKS_OAUTH_ISSUER": ISSUER,
    "OKTA_HOOKS_OAUTH_AUDIENCE": "api://okta-hooks",
    "OKTA_HOOKS_OAUTH_CLIENT_ID": "0oahookclient",
    "OKTA_HOOKS_OAUTH_SCOPE": "okta.hooks",
}


OAUTH_WITH_SECRET = {**OAUTH, "OKTA_HOOKS_SECRETS": [SECRET]}


def token_hooks() -> OktaHooks:
    hooks = OktaHooks("token_hooks", url_prefix="/okta/hooks")
    hooks.token(lambda call: call.respond().add_access_claim("tier", "gold"))
    return hooks


@pytest.fixture
def app() -> Flask:
    return token_app(**OAUTH)


def test_okta_client_signs_bearer_tokens_the_app_trusts(okta_client: OktaClient) -> None:
    result = okta_client.post("token", path="/okta/hooks/token")

    assert result.status_code == 200
    assert_claim_added(result, token=Token.ACCESS, name="tier", value="gold")
    header = result.response.request.headers["Authorization"]
    assert header.startswith("Bearer ey")


def test_a_token_the_configuration_rejects_is_a_401(okta_client: OktaClient) -> None:
    path = "/okta/hooks/token"

    assert (
        okta_client.post("token", path=path, token_claims={"aud": "api://other"}).status_code == 401
    )
    assert okta_client.post("token", path=path, token_claims={"scp": ["other"]}).status_code == 401
    assert okta_client.post("token", path=path).status_code == 200


def test_tokens_follow_the_verifier_clock(okta_client: OktaClient, app: Flask) -> None:
    verifier_for(app).clock = lambda: 2_000_000_000.0

    assert okta_client.post("token", path="/okta/hooks/token").status_code == 200


def test_a_foreign_key_is_not_trusted(app: Flask) -> None:
    trusted, foreign = SigningKey(), SigningKey()
    trusted.install(app)
    token = foreign.token_for(
        app.extensions["okta_hooks"]["OKTA_HOOKS_"].settings.get(app.config).oauth
    )
    client = OktaClient(app, signing_key=trusted)

    result = client.post(
        "token", path="/okta/hooks/token", headers={"Authorization": f"Bearer {token}"}
    )

    assert result.status_code == 401


def test_the_plugin_is_registered_through_its_entry_point() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    commands = {ep.name: ep.value for ep in entry_points(group="flask.commands")}

    assert plugins["okta_hooks"] == "flask_okta_hooks.pytest_plugin"
    assert commands["okta-hooks"] == "flask_okta_hooks.cli:cli"


def test_okta_client_without_an_app_fixture_says_what_is_missing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_needs_app(okta_client):
            pass
        """
    )

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*okta_client needs an `app` fixture*"])


def test_the_plugin_works_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from flask import Flask
        from flask_okta_hooks import OktaHooks, Token
        from flask_okta_hooks.testing import assert_claim_added

        @pytest.fixture
        def app():
            hooks = OktaHooks()

            @hooks.token
            def enrich(call):
                return call.respond().add_access_claim("tier", "gold")

            app = Flask("users_app")
            app.config["OKTA_HOOKS_SECRETS"] = ["a-secret-of-the-users-own-0001"]
            app.register_blueprint(hooks)
            return app

        def test_gold(okta_client):
            result = okta_client.post("token")
            assert_claim_added(result, token=Token.ACCESS, name="tier", value="gold")
        """
    )

    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_event_hooks_are_tested_with_the_plugin_in_a_users_project(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from flask import Flask
        from flask_okta_hooks import OktaHooks
        from flask_okta_hooks.testing import (
            assert_events_accepted, assert_verification_answered, log_event,
        )

        disabled = []

        @pytest.fixture
        def app():
            hooks = OktaHooks()

            @hooks.event("user.lifecycle.deactivate")
            def offboard(event):
                disabled.extend(t.alternate_id for t in event.targets if t.type == "User")

            app = Flask("users_app")
            app.config["OKTA_HOOKS_SECRETS"] = ["a-secret-of-the-users-own-0001"]
            app.register_blueprint(hooks)
            return app

        def test_verified(okta_client):
            assert_verification_answered(okta_client.verify("a-challenge"), "a-challenge")

        def test_offboarded(okta_client):
            event = log_event(
                "user.lifecycle.deactivate",
                targets=[{"id": "00u1", "type": "User", "alternateId": "ada@example.com"}],
            )
            assert_events_accepted(okta_client.deliver(event, event))  # one event, twice
            assert disabled == ["ada@example.com"]  # handled once, before deliver returned
        """
    )

    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


# --- assertions ----------------------------------------------------------------------------


def failure(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        check(*args, **kwargs)
    return str(caught.value)


def test_token_assertions_on_typed_responses() -> None:
    call = make_request("token", id_claims={"airports": ["LHR"]})
    response = (
        call.respond()
        .add_access_claim("tier", "gold")
        .add_claim(Token.ID, ("airports", "-"), "SFO")
        .replace_claim(Token.ACCESS, "department", "Ops")
        .remove_claim(Token.ID, "airports")
        .set_lifetime(Token.ACCESS, 900)
    )

    assert_claim_added(response, token=Token.ACCESS, name="tier", value="gold")
    assert_claim_added(response, token="identity", name=("airports", "-"))
    assert_claim_replaced(response, token=Token.ACCESS, name="department", value="Ops")
    assert_claim_removed(response, token=Token.ID, name="airports")
    assert_lifetime_set(response, token=Token.ACCESS, seconds=900)
    assert_command(response, "com.okta.access.patch")
    assert_okta_accepts(response)
    message = failure(assert_claim_added, response, token=Token.ACCESS, name="tier", value="silver")
    assert "expected the access token to get claim 'tier' = 'silver'" in message
    assert '"path":"/claims/tier","value":"gold"' in message
    assert "claim 'tier' to be removed from the ID token" in failure(
        assert_claim_removed, response, token=Token.ID, name="tier"
    )


def test_uri_claim_names_are_matched_escaped() -> None:
    call = make_request("token")
    response = call.respond().add_access_claim("https://example.com/tier", 1)

    assert_claim_added(response, token=Token.ACCESS, name="https://example.com/tier", value=1)


def test_empty_and_no_command_assertions() -> None:
    call = make_request("token")

    assert_empty_response(None)
    assert_empty_response(call.respond())
    assert_no_commands(None)
    assert_no_commands(call.respond().error("no"))
    assert "expected an empty response" in failure(
        assert_empty_response, call.respond().add_access_claim("x", 1)
    )
    assert "expected no commands" in failure(
        assert_no_commands, {"commands": [{"type": "com.okta.access.patch", "value": []}]}
    )


def test_error_assertion() -> None:
    call = make_request("registration")
    response = call.respond().deny("Use your work email", field="email", reason="DOMAIN")

    assert_error(
        response, "Use your work email", reason="DOMAIN", location="data.userProfile.email"
    )
    assert "an error cause with {'reason': 'OTHER'}" in failure(
        assert_error, response, reason="OTHER"
    )
    assert "expected an error object" in failure(assert_error, call.respond().allow())
    assert "errorSummary 'x'" in failure(assert_error, response, "x")


def test_registration_assertions() -> None:
    call = make_request("registration", profile={"email": "eve@blocked.test"})
    denied = call.respond().deny("Use your work email", field="email")

    assert_registration_denied(denied, field="email", message="Use your work email")
    assert_registration_denied(call.respond().deny())
    assert_registration_denied(call.respond().error("Closed"), message="Closed")
    assert_registration_allowed(None)
    assert_registration_allowed(call.respond().allow().update_profile(locale="en_US"))
    assert_profile_updated(call.respond().update_profile(locale="en_US"), locale="en_US")
    assert "no error cause at data.userProfile.login" in failure(
        assert_registration_denied, denied, field="login"
    )
    assert "with message 'other'" in failure(assert_registration_denied, denied, message="other")
    assert "expected the registration to be denied" in failure(assert_registration_denied, None)
    assert "expected the registration to be allowed" in failure(assert_registration_allowed, denied)
    assert "updated: {}" in failure(assert_profile_updated, None, locale="en_US")


def test_password_assertions() -> None:
    call = make_request("password-import")
    trusting = make_request("password-import", overrides={"data.action.credential": "VERIFIED"})

    assert_password_verified(call.respond().verified())
    assert_password_unverified(call.respond().unverified())
    assert_password_unverified(None)
    assert_password_unverified(call.respond().error("Locked"))
    assert "expected the password to be VERIFIED" in failure(assert_password_verified, None)
    assert "the call's default: VERIFIED" in failure(assert_password_unverified, trusting.respond())
    assert "expected the password to be UNVERIFIED" in failure(
        assert_password_unverified, call.respond().verified()
    )


def test_user_import_assertions() -> None:
    call = make_request("user-import")
    matched = make_request("user-import", "matched")

    assert_user_created(call.respond())
    assert_user_created(matched.respond().create_user())
    assert_user_linked(matched.respond().link_user(), "00u5d9h3l7QcZbXa6x7")
    assert_app_user_profile_updated(
        call.respond().update_app_user_profile(department="QA"), department="QA"
    )
    assert "expected a new Okta user" in failure(assert_user_created, matched.respond())
    assert "linked to '00u5d9h3l7QcZbXa6x7'" in failure(
        assert_user_linked, matched.respond().link_user(), "00uother"
    )


def test_saml_assertions() -> None:
    call = make_request("saml")
    response = (
        call.respond()
        .add_attribute("groups2", ["Everyone", "Admins"])
        .replace(AssertionSection.SUBJECT, "nameId", "grace@example.org")
    )

    assert_attribute_added(response, "groups2", ["Everyone", "Admins"])
    assert_attribute_added(response, "groups2")
    assert_assertion_replaced(response, "/subject/nameId", "grace@example.org")
    assert_assertion_replaced(response, ("subject", "nameId"))
    assert "its values are ['Everyone', 'Admins']" in failure(
        assert_attribute_added, response, "groups2", ["Everyone"]
    )
    assert "expected SAML attribute 'other' to be added" in failure(
        assert_attribute_added, response, "other"
    )


def test_telephony_assertions() -> None:
    call = make_request("telephony")
    sent = call.respond().successful("ACME-SMS", transaction_id="tx-1", metadata="120ms")

    assert_telephony_status(
        sent, DeliveryStatus.SUCCESSFUL, provider="ACME-SMS", transaction_id="tx-1"
    )
    assert_telephony_status(call.respond().pending(), "PENDING")
    assert_telephony_fallback(call.respond().error("Provider down"))
    assert "expected a delivery result {'status': 'FAILED'}" in failure(
        assert_telephony_status, sent, "FAILED"
    )
    assert "expected the delivery handed back to Okta" in failure(assert_telephony_fallback, sent)


def test_okta_accepts_judges_status_rules_and_empty_answers() -> None:
    token = make_request("token", drop=("identity",))
    telephony = make_request("telephony")
    bad = {
        "commands": [
            {
                "type": "com.okta.identity.patch",
                "value": [{"op": "add", "path": "/claims/x", "value": 1}],
            }
        ]
    }

    assert_okta_accepts(None, token)
    assert_okta_accepts({}, token_request())
    message = failure(assert_okta_accepts, bad, token)
    assert "an answer Okta accepts for a token hook" in message
    assert "[token_not_minted]" in message
    assert "[empty_not_allowed]" in failure(assert_okta_accepts, None, telephony)
    with pytest.raises(ValueError, match="pass the request"):
        assert_okta_accepts({})


def test_okta_verdict_for_statuses_bodies_and_sizes() -> None:
    token_type = HOOK_TYPES[0]
    call = make_request("token")

    assert okta_verdict(token_type, call, 204, b"") == []
    assert [v.rule for v in okta_verdict(token_type, call, 500, b"")] == ["status"]
    assert "token issued" not in str(okta_verdict(token_type, call, 401, b"")[0])
    assert "goes on without the hook's changes" in str(okta_verdict(token_type, call, 401, b"")[0])
    assert [v.rule for v in okta_verdict(token_type, call, 200, b"[1]")] == ["body_shape"]
    assert [v.rule for v in okta_verdict(token_type, call, 204, b"{}")] == ["empty_with_body"]
    big = json.dumps({"debugContext": {"x": "y" * 300_000}}).encode()
    assert [v.rule for v in okta_verdict(token_type, call, 200, big)] == ["response_too_large"]


def test_verification_assertion_names_what_okta_wants() -> None:
    client = OktaClient(events_app([]))
    result = client.verify("c-1")
    flask_response = client.test_client.get(
        "/okta/hooks/events",
        headers={"Authorization": SECRET, "X-Okta-Verification-Challenge": "c-2"},
    )

    assert_verification_answered(flask_response, "c-2")
    message = failure(assert_verification_answered, result, "c-other")
    assert "expected the verification challenge 'c-other' echoed" in message
    assert 'got: HTTP 200 {"verification":"c-1"}' in message
    assert 'the body must be exactly {"verification": "c-other"} [verification_answer]' in message
    refused = failure(assert_verification_answered, client.verify("c", authenticated=False))
    assert "Okta takes only a 200 as verified, not HTTP 401 [status]" in refused
    with pytest.raises(ValueError, match="pass the challenge"):
        assert_verification_answered(flask_response)


def test_events_accepted_assertion_says_what_okta_does_otherwise() -> None:
    client = OktaClient(events_app([]))
    broken = client.post("events", {"eventType": "com.okta.event_hook", "data": {}})

    message = failure(assert_events_accepted, broken)
    assert "expected the event hook delivery to be accepted (an empty 204)" in message
    assert "got: HTTP 400" in message
    assert "never after a 4xx" in message
    token = serve_token()
    assert "not an event hook delivery" in failure(assert_events_accepted, token)
    assert_events_accepted(None)  # a handler's None: the empty 204


def serve_token() -> HookResult:
    return OktaClient(token_app()).post("token", path="/okta/hooks/token")


def test_okta_verdict_for_event_hook_answers() -> None:
    events_type = next(t for t in HOOK_TYPES if t.request_class is EventHookRequest)
    call = make_request("events")

    assert okta_verdict(events_type, call, 204, b"") == []
    assert okta_verdict(events_type, call, 200, b"") == []  # Okta reads no body
    assert [v.rule for v in okta_verdict(events_type, call, 200, b'{"x": 1}')] == ["unknown_member"]
    (status,) = okta_verdict(events_type, call, 503, b"")
    assert str(status) == (
        "Okta treats HTTP 503 as a failed hook call: Okta logs a failed delivery and sends it "
        "once more after a timeout or a 5xx, never after a 4xx; after that the events are "
        "not delivered [status]"
    )


def test_assertions_refuse_things_that_are_not_answers() -> None:
    with pytest.raises(TypeError, match="cannot read a hook answer"):
        assert_no_commands(42)


def test_domain_assertions_need_an_answer_okta_reads() -> None:
    app = token_app()
    result: HookResult = OktaClient(app).post(
        "token", path="/okta/hooks/token", authenticated=False
    )

    message = failure(assert_claim_added, result, token=Token.ACCESS, name="tier")
    assert "got: HTTP 401" in message
    assert "Okta reads only a 200 with JSON, or an empty 204" in message


# --- failure outcomes ----------------------------------------------------------------------


def production_app(handler: Any, hook: str = "token", **mount: Any) -> Flask:
    """An app configured as in production: a failing handler gets the failure outcome."""
    hooks = OktaHooks()
    hooks.mount(hook_type_named(hook), handler, **mount)
    return build_app(hooks, TESTING=False)


def adds_iss(call: TokenHookRequest) -> Any:
    return call.respond().add_access_claim("tier", "gold").add_access_claim("iss", "x")


def test_okta_accepts_fails_on_a_fallback_naming_the_broken_rule() -> None:
    result = OktaClient(production_app(adds_iss)).post("token")

    assert (result.status_code, result.outcome) == (204, "fallback")
    assert result.failure is not None
    assert str(result.failure) == "rule_violation:reserved_claim"
    message = failure(assert_okta_accepts, result)
    assert "the handler's answer was replaced by the failure outcome" in message
    assert "[reserved_claim]" in message
    assert "'iss' is reserved in the ACCESS token" in message


def broken(call: Any) -> Any:
    raise RuntimeError("the directory is down")


@pytest.mark.parametrize(
    ("hook", "check"),
    [
        ("token", assert_empty_response),
        ("token", assert_no_commands),
        ("registration", assert_registration_denied),
        ("password-import", assert_password_unverified),
        ("user-import", assert_user_created),
        ("telephony", assert_telephony_fallback),
    ],
)
def test_domain_assertions_fail_on_a_fallback_that_looks_like_the_answer(
    hook: str, check: Any
) -> None:
    result = OktaClient(production_app(broken, hook)).post(hook)

    assert result.outcome == "fallback"
    message = failure(check, result)
    assert "replaced by the failure outcome (handler_error:RuntimeError)" in message
    assert "TESTING = True" in message
    assert "the directory is down" not in message  # the message stays with the handler


def test_a_strict_app_raises_the_broken_rule_in_the_test() -> None:
    app = production_app(adds_iss)
    app.config["TESTING"] = True

    with pytest.raises(ResponseRuleError, match=r"'iss' is reserved.*\[reserved_claim\]"):
        OktaClient(app).post("token")


def test_answers_and_refusals_record_no_failure() -> None:
    client = OktaClient(token_app(TESTING=False))

    answered = client.post("token", path="/okta/hooks/token")
    refused = client.post("token", path="/okta/hooks/token", authenticated=False)

    assert (answered.outcome, answered.failure, answered.warnings) == ("ok", None, ())
    assert (refused.outcome, refused.failure) == ("refused", None)


def test_warnings_logged_during_a_call_are_recorded_and_shown() -> None:
    def policy(call: Any) -> Any:
        raise LookupError("no default tier")

    app = production_app(broken, on_failure=policy)

    with pytest.warns(HookWarning, match="token hook: okta hook failure policy failed"):
        result = OktaClient(app).post("token")

    (line,) = result.warnings
    assert "reason=handler_error:LookupError" in line


def test_shipped_samples_are_package_data() -> None:
    import flask_okta_hooks

    folder = Path(flask_okta_hooks.__file__).parent / "samples"
    assert sorted(p.stem for p in folder.glob("*.json")) == sample_names()
