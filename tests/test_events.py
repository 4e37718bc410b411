"""Event hooks end to end: Okta's verification GET, deliveries, de-duplication, the worker."""

# Annotations are evaluated here (no ``from __future__ import annotations``), so that the
# README example at the end, which imports its own names, lints clean as it stands.

import asyncio
import copy
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_okta_hooks import (
    ConfigurationError,
    EventHookRequest,
    LogEvent,
    MemoryDedupeStore,
    OktaHooks,
    OutcomeResult,
    Severity,
)
from flask_okta_hooks.errors import InvalidPayload
from flask_okta_hooks.events import intake as intake_module
from flask_okta_hooks.hooks.events import MAX_CHALLENGE_BYTES

from .conftest import (
    PREFIX,
    SECRET,
    build_app,
    okta_headers,
    post_json,
    reference_file,
    response_schema,
    sample,
)

DEACTIVATE = "user.lifecycle.deactivate"
SESSION_START = "user.session.start"
#: Values of the samples that must never reach a log line.
PERSONAL = ("okta.trainer@okta.com", "john.doe@example.com", "174.89.174.56", "Toronto")


# --- payloads --------------------------------------------------------------------------------


def log_event(event_type: str = DEACTIVATE, uuid: str | None = "uuid-1", **extra: Any) -> Any:
    """Okta's user-deactivate LogEvent sample with another type, uuid or members."""
    event = copy.deepcopy(sample("event-hook.log-event.user-deactivate.json"))
    event["eventType"] = event_type
    if uuid is None:
        del event["uuid"]
    else:
        event["uuid"] = uuid
    event.update(extra)
    return event


def delivery(*events: Any, event_id: str = "delivery-1") -> Any:
    """Okta's event hook request sample carrying ``events``."""
    payload = copy.deepcopy(sample("event-hook.request.json"))
    payload["eventId"] = event_id
    payload["data"]["events"] = list(events)
    return payload


def deliver(client: FlaskClient, payload: Any, path: str = "/events") -> TestResponse:
    return post_json(client, path, payload)


def verify(client: FlaskClient, headers: dict[str, str], path: str = "/events") -> TestResponse:
    return client.get(PREFIX + path, headers=headers)


class Recorder:
    """Event handlers that record what they were given, and in which thread."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def handler(self, name: str) -> Callable[[LogEvent], None]:
        def handle(event: LogEvent) -> None:
            with self.lock:
                self.seen.append((name, event.uuid))
                self.threads.add(threading.current_thread().name)

        return handle


def inline_app(hooks: OktaHooks, **config: Any) -> Flask:
    return build_app(hooks, OKTA_HOOKS_EVENTS_INLINE=True, **config)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def routed(recorder: Recorder) -> OktaHooks:
    """A blueprint with a deactivate handler and a catch-all."""
    hooks = OktaHooks()
    hooks.event(DEACTIVATE)(recorder.handler("deactivate"))
    hooks.event()(recorder.handler("other"))
    return hooks


@pytest.fixture
def background(routed: OktaHooks) -> Iterator[Flask]:
    """The routed blueprint in an app that runs handlers after the response."""
    app = build_app(routed)
    yield app
    assert routed.drain(app, timeout=5)


# --- verification ----------------------------------------------------------------------------

CHALLENGE = "X1x2-challenge_from.Okta~0123456789"


@pytest.mark.parametrize(
    "header",
    [
        "X-Okta-Verification-Challenge",
        "x-okta-verification-challenge",
        "X-OKTA-VERIFICATION-CHALLENGE",
        "x-Okta-verification-CHALLENGE",
    ],
)
def test_verification_echoes_the_challenge_whatever_the_header_case(
    routed: OktaHooks, header: str
) -> None:
    client = build_app(routed).test_client()

    response = verify(client, okta_headers(**{header: CHALLENGE}))

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"verification": CHALLENGE}


def test_the_verification_answer_has_okta_s_shape(routed: OktaHooks) -> None:
    client = build_app(routed).test_client()
    schema = response_schema("event-hook-verification")
    wrong = json.loads(
        reference_file(
            "samples", "invalid", "event-hook.verification.response.wrong-key.json"
        ).read_text()
    )

    body = verify(client, okta_headers(**{"X-Okta-Verification-Challenge": "abc"})).get_json()

    jsonschema.validate(body, schema)
    jsonschema.validate(sample("event-hook.verification.response.json"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)
    assert body != wrong
    assert set(body) == set(sample("event-hook.verification.response.json"))


@pytest.mark.parametrize(
    ("challenge", "expected"),
    [
        ('"quoted", </script>\\', '"quoted", </script>\\'),
        ("\u00e9t\u00e9".encode().decode("latin-1"), "\u00e9t\u00e9"),  # UTF-8 on the wire
        ("c" * MAX_CHALLENGE_BYTES, "c" * MAX_CHALLENGE_BYTES),
    ],
    ids=["json specials", "utf-8", "1 KB"],
)
def test_the_challenge_is_json_encoded_not_reflected(
    routed: OktaHooks, challenge: str, expected: str
) -> None:
    client = build_app(routed).test_client()

    response = verify(client, okta_headers(**{"X-Okta-Verification-Challenge": challenge}))

    assert response.status_code == 200
    assert json.loads(response.data) == {"verification": expected}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_challenge"),
        ({"X-Okta-Verification-Challenge": ""}, "missing_challenge"),
        ({"X-Okta-Verification-Challenge": "c" * (MAX_CHALLENGE_BYTES + 1)}, "challenge_too_large"),
        ({"X-Okta-Verification-Challenge": "c" * 64 * 1024}, "challenge_too_large"),
        ({"X-Okta-Verification-Challenge": "caf\u00e9"}, "invalid_challenge"),  # latin-1 byte
    ],
    ids=["missing", "empty", "1 KB + 1", "64 KB", "not utf-8"],
)
def test_a_bad_challenge_is_a_json_400(
    routed: OktaHooks, headers: dict[str, str], code: str
) -> None:
    client = build_app(routed).test_client()

    response = verify(client, okta_headers(**headers))

    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == code
    assert "ccc" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "secret", [None, "wrong-secret", SECRET + " "], ids=["none", "wrong", "space"]
)
def test_verification_is_authenticated(routed: OktaHooks, secret: str | None) -> None:
    client = build_app(routed).test_client()

    response = verify(client, okta_headers(secret, **{"X-Okta-Verification-Challenge": CHALLENGE}))

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert CHALLENGE not in response.get_data(as_text=True)


def test_only_event_endpoints_answer_get(routed: OktaHooks) -> None:
    routed.token(lambda call: None)
    client = build_app(routed).test_client()
    headers = okta_headers(**{"X-Okta-Verification-Challenge": CHALLENGE})

    on_token = client.get(PREFIX + "/token", headers=headers)
    put_on_events = client.put(PREFIX + "/events", headers=headers)

    assert on_token.status_code == 405
    assert on_token.headers["Allow"] == "POST"
    assert on_token.get_json()["error"]["message"] == "This endpoint accepts POST requests only."
    assert put_on_events.status_code == 405
    assert put_on_events.headers["Allow"] == "GET, POST"
    assert put_on_events.get_json()["error"]["code"] == "method_not_allowed"


# --- OAuth mode: event hooks take the header secret -----------------------------------------

OAUTH = {
    "OKTA_HOOKS_AUTH": "oauth",
    "OKTA_HOOKS_OAUTH_ISSUER": "https://example.okta.com/oauth2/default",
    "OKTA_HOOKS_OAUTH_AUDIENCE": "api://default",
}


def test_oauth_mode_authenticates_event_hooks_with_the_header_secret(
    routed: OktaHooks, recorder: Recorder
) -> None:
    routed.token(lambda call: None)
    client = inline_app(routed, **OAUTH).test_client()
    challenge = {"X-Okta-Verification-Challenge": CHALLENGE}

    verified = verify(client, okta_headers(**challenge))
    delivered = deliver(client, delivery(log_event()))
    bearer = verify(client, okta_headers("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", **challenge))
    token_with_secret = post_json(client, "/token", sample("token.request.json"))

    assert verified.status_code == 200
    assert delivered.status_code == 204
    assert recorder.seen == [("deactivate", "uuid-1")]
    assert bearer.status_code == 401
    assert token_with_secret.status_code == 401  # inline hooks stay on bearer tokens


def test_oauth_mode_without_a_header_secret_refuses_to_serve_event_hooks(
    routed: OktaHooks,
) -> None:
    with pytest.raises(ConfigurationError, match="event hooks with a header secret only"):
        build_app(routed, OKTA_HOOKS_SECRETS=None, **OAUTH)

    inline_only = OktaHooks()
    inline_only.token(lambda call: None)
    build_app(inline_only, OKTA_HOOKS_SECRETS=None, **OAUTH)  # nothing to refuse


# --- deliveries ------------------------------------------------------------------------------


def test_okta_s_sample_delivery_reaches_the_catch_all_typed() -> None:
    seen: list[LogEvent] = []
    hooks = OktaHooks()
    hooks.event()(seen.append)

    response = deliver(inline_app(hooks).test_client(), sample("event-hook.request.json"))

    assert response.status_code == 204
    assert response.data == b""
    (event,) = seen
    raw = sample("event-hook.request.json")["data"]["events"][0]
    assert event.raw == raw
    assert event.event_type == SESSION_START
    assert event.uuid == "f1d0b993-cc19-11ed-a688-db22c99ef6c4"
    assert event.published == datetime(2023, 3, 26, 21, 5, 32, 159000, tzinfo=UTC)
    assert event.severity is Severity.INFO
    assert event.version == "0"
    assert event.display_message == "User login to Okta"
    assert event.legacy_event_type == "core.user_auth.login_success"
    assert event.actor is not None
    assert event.actor.id == "00uz9fj5aT69fHVro1d6"
    assert event.actor.alternate_id == "admin@okta.com"
    assert [(t.type, t.id) for t in event.targets] == [
        ("AuthenticatorEnrollment", "lae42mkdc9i9cbw3U1d6"),
        ("AppInstance", "0oaz9fj21WKqTeaqs1d6"),
    ]
    assert event.outcome is not None
    assert event.outcome.result is OutcomeResult.SUCCESS
    assert event.outcome.reason is None
    assert event.client is not None
    assert event.client.ip_address == "142.126.158.61"
    assert event.client.user_agent is not None
    assert event.client.user_agent.browser == "CHROME"
    assert event.transaction is not None
    assert event.transaction.id == "ZCCzm8j2wTvzwele2NwLnwAADSc"
    assert event.transaction.detail == {}
    assert event.debug_data["requestUri"] == "/idp/idx/identify"
    assert event.authentication_context is not None
    assert event.authentication_context.external_session_id == "idxyNcxVX2ESsSL0u462548Qg"
    assert event.authentication_context.authentication_step == 0
    assert event.security_context is not None
    assert event.security_context.is_proxy is None
    # Okta's sample puts the IP chain under client.
    assert [hop.ip for hop in event.ip_chain] == ["142.126.158.61"]


def test_the_log_event_sample_is_typed() -> None:
    call = EventHookRequest.from_payload(delivery(log_event(uuid="u")))
    (event,) = call.events

    assert call.cloud_events_version == "0.1"
    assert call.event_id == "delivery-1"
    assert call.source is not None
    assert call.source.endswith("/api/v1/eventHooks/who7hphp39JoHLni81d7")
    assert event.client is not None
    assert event.client.geographical_context is not None
    assert event.client.geographical_context.geolocation is not None
    assert event.client.geographical_context.geolocation.lat == pytest.approx(43.7114)
    assert event.security_context is not None
    assert event.security_context.as_number == 577
    assert event.security_context.is_proxy is False
    (hop,) = event.ip_chain
    assert (hop.ip, hop.version, hop.source) == ("174.89.174.56", "V4", None)
    assert event.targets[0].alternate_id == "john.doe@example.com"


def test_repr_of_an_event_shows_no_personal_data() -> None:
    (event,) = EventHookRequest.from_payload(delivery(log_event())).events
    text = repr((event, event.actor, event.client, event.targets, event.ip_chain))

    assert "user.lifecycle.deactivate" in text
    for value in (*PERSONAL, "Deactivate Okta User", "John Doe", "102lMcfHbwSTuS5V1oPHJs3lw"):
        assert value not in text


def test_events_go_to_their_type_s_handler_or_the_catch_all(
    routed: OktaHooks, recorder: Recorder
) -> None:
    client = inline_app(routed).test_client()
    payload = delivery(
        log_event(DEACTIVATE, "a"), log_event(SESSION_START, "b"), log_event("x.y", "c")
    )

    assert deliver(client, payload).status_code == 204
    assert recorder.seen == [("deactivate", "a"), ("other", "b"), ("other", "c")]


def test_events_without_a_handler_are_acknowledged(recorder: Recorder) -> None:
    hooks = OktaHooks()
    hooks.event(DEACTIVATE, "user.lifecycle.activate")(recorder.handler("lifecycle"))
    client = inline_app(hooks).test_client()
    payload = delivery(
        log_event(SESSION_START, "a"),
        log_event("user.lifecycle.activate", "b"),
        log_event(DEACTIVATE, "c"),
    )

    assert deliver(client, payload).status_code == 204
    assert recorder.seen == [("lifecycle", "b"), ("lifecycle", "c")]


def test_the_bare_decorator_is_the_catch_all(recorder: Recorder) -> None:
    hooks = OktaHooks()

    @hooks.event
    def anything(event: LogEvent) -> None:
        recorder.handler("any")(event)

    assert deliver(inline_app(hooks).test_client(), delivery(log_event())).status_code == 204
    assert recorder.seen == [("any", "uuid-1")]


def test_several_event_hook_endpoints(recorder: Recorder) -> None:
    hooks = OktaHooks()
    hooks.event(DEACTIVATE)(recorder.handler("main"))
    hooks.event(DEACTIVATE, path="/events/audit")(recorder.handler("audit"))
    client = inline_app(hooks).test_client()
    payload = delivery(log_event(DEACTIVATE, "same-uuid"))

    assert deliver(client, payload).status_code == 204
    assert deliver(client, payload, "/events/audit").status_code == 204
    assert deliver(client, payload, "/events/audit").status_code == 204
    # Each endpoint handles the event once: the key names the endpoint too.
    assert recorder.seen == [("main", "same-uuid"), ("audit", "same-uuid")]
    challenge = okta_headers(**{"X-Okta-Verification-Challenge": CHALLENGE})
    assert verify(client, challenge, "/events/audit").get_json() == {"verification": CHALLENGE}


def test_registration_mistakes_fail_at_setup(recorder: Recorder) -> None:
    hooks = OktaHooks()
    hooks.event(DEACTIVATE)(recorder.handler("a"))
    hooks.event()(recorder.handler("b"))
    hooks.token(lambda call: None)

    with pytest.raises(ValueError, match="already has a handler"):
        hooks.event(DEACTIVATE)(recorder.handler("c"))
    with pytest.raises(ValueError, match="already has a catch-all"):
        hooks.event()(recorder.handler("c"))
    with pytest.raises(ValueError, match="already serves a token hook"):
        hooks.event(path="/token")(recorder.handler("c"))
    with pytest.raises(ValueError, match="start with '/'"):
        hooks.event(path="events")(recorder.handler("c"))
    with pytest.raises(TypeError, match="non-empty strings"):
        hooks.event("")
    build_app(hooks)
    with pytest.raises(AssertionError):
        hooks.event("user.session.end")(recorder.handler("late"))


def test_a_batch_with_no_events_is_acknowledged(routed: OktaHooks, recorder: Recorder) -> None:
    response = deliver(inline_app(routed).test_client(), delivery())

    assert response.status_code == 204
    assert recorder.seen == []


def test_thousands_of_events_fit_the_body_limit(recorder: Recorder) -> None:
    hooks = OktaHooks()
    hooks.event()(recorder.handler("any"))
    client = inline_app(hooks).test_client()
    small = [{"eventType": "app.x", "uuid": f"u{index}"} for index in range(5000)]
    large = [log_event(uuid=f"u{index}") for index in range(1000)]

    assert deliver(client, delivery(*small)).status_code == 204
    assert len(recorder.seen) == 5000
    too_large = deliver(client, delivery(*large))
    assert too_large.status_code == 413
    assert too_large.get_json()["error"]["code"] == "payload_too_large"


def test_a_delivery_to_another_hook_type_is_refused(routed: OktaHooks) -> None:
    routed.token(lambda call: None)
    client = inline_app(routed).test_client()
    event_sample = sample("event-hook.request.json")

    to_events = deliver(client, sample("token.request.json"))
    to_token = post_json(client, "/token", event_sample)

    assert to_events.status_code == 400
    assert to_events.get_json()["error"]["code"] == "wrong_event_type"
    assert to_token.status_code == 400
    assert to_token.get_json()["error"]["code"] == "wrong_event_type"


BROKEN = {
    "no events": (lambda p: p["data"].pop("events"), "invalid_envelope", "data.events"),
    "events is an object": (
        lambda p: p["data"].__setitem__("events", {}),
        "invalid_envelope",
        "data.events",
    ),
    "event is a string": (
        lambda p: p["data"]["events"].append("x"),
        "invalid_payload",
        "data.events[1]",
    ),
    "eventType missing": (
        lambda p: p["data"]["events"][0].pop("eventType"),
        "invalid_payload",
        "data.events[0].eventType",
    ),
    "uuid is a number": (
        lambda p: p["data"]["events"][0].__setitem__("uuid", 7),
        "invalid_payload",
        "data.events[0].uuid",
    ),
    "uuid is too long": (
        lambda p: p["data"]["events"][0].__setitem__("uuid", "u" * 129),
        "invalid_payload",
        "data.events[0].uuid",
    ),
    "published is no date": (
        lambda p: p["data"]["events"][0].__setitem__("published", "yesterday"),
        "invalid_payload",
        "data.events[0].published",
    ),
    "cloudEventsVersion is a bool": (
        lambda p: p.__setitem__("cloudEventsVersion", True),
        "invalid_envelope",
        "cloudEventsVersion",
    ),
}


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_a_malformed_delivery_is_a_400_naming_the_member(
    routed: OktaHooks, recorder: Recorder, case: tuple[Callable[[Any], Any], str, str]
) -> None:
    mutate, code, where = case
    payload = sample("event-hook.request.json")
    mutate(payload)

    response = deliver(inline_app(routed).test_client(), payload)

    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": code,
        "message": response.get_json()["error"]["message"],
        "fields": [where],
    }
    assert recorder.seen == []


def test_a_malformed_section_fails_only_when_read() -> None:
    call = EventHookRequest.from_payload(
        delivery(log_event(actor="not an object", target={"id": 1}, debugContext=[]))
    )
    (event,) = call.events

    assert event.outcome is not None
    for section in ("actor", "targets", "debug_data"):
        with pytest.raises(InvalidPayload):
            getattr(event, section)


def test_unknown_members_are_ignored_but_kept(routed: OktaHooks) -> None:
    seen: list[LogEvent] = []
    hooks = OktaHooks()
    hooks.event()(seen.append)
    event = log_event(futureMember={"x": 1})
    event["actor"]["futureField"] = True
    payload = delivery(event)
    payload["futureEnvelopeMember"] = 1

    assert deliver(inline_app(hooks).test_client(), payload).status_code == 204
    assert seen[0].raw["futureMember"] == {"x": 1}
    assert seen[0].actor is not None


# --- at-least-once delivery: each event once -------------------------------------------------


def test_a_duplicate_in_one_batch_is_handled_once(routed: OktaHooks, recorder: Recorder) -> None:
    client = inline_app(routed).test_client()
    payload = delivery(log_event(uuid="a"), log_event(uuid="b"), log_event(uuid="a"))

    assert deliver(client, payload).status_code == 204
    assert recorder.seen == [("deactivate", "a"), ("deactivate", "b")]


def test_a_redelivery_is_handled_once(routed: OktaHooks, recorder: Recorder) -> None:
    client = inline_app(routed).test_client()

    first = deliver(client, delivery(log_event(uuid="a"), event_id="d1"))
    retry = deliver(client, delivery(log_event(uuid="a"), event_id="d1"))
    rebatched = deliver(client, delivery(log_event(uuid="b"), log_event(uuid="a"), event_id="d2"))

    assert [first.status_code, retry.status_code, rebatched.status_code] == [204, 204, 204]
    assert recorder.seen == [("deactivate", "a"), ("deactivate", "b")]


def test_duplicates_are_handled_once_in_the_background(
    background: Flask, routed: OktaHooks, recorder: Recorder
) -> None:
    client = background.test_client()
    for index in range(20):
        payload = delivery(log_event(uuid=f"u{index % 5}"), log_event(uuid=f"u{index % 7}"))
        assert deliver(client, payload).status_code == 204

    assert routed.drain(background, timeout=5)
    assert sorted(uuid for _, uuid in recorder.seen) == sorted({f"u{i}" for i in range(7)})


def test_events_without_a_uuid_are_not_deduplicated(routed: OktaHooks, recorder: Recorder) -> None:
    client = inline_app(routed).test_client()

    deliver(client, delivery(log_event(uuid=None), log_event(uuid=None)))

    assert recorder.seen == [("deactivate", None), ("deactivate", None)]


def test_deduplication_can_be_turned_off(routed: OktaHooks, recorder: Recorder) -> None:
    client = inline_app(routed, OKTA_HOOKS_EVENTS_DEDUPE=None).test_client()

    deliver(client, delivery(log_event(uuid="a"), log_event(uuid="a")))

    assert recorder.seen == [("deactivate", "a"), ("deactivate", "a")]


class SharedStore:
    """A store as a fleet would share it, recording the calls."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.keys: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def claim(self, key: str) -> bool:
        self.calls.append(("claim", key))
        if key == self.fail_on:
            raise ConnectionError("store unreachable: " + key)
        if key in self.keys:
            return False
        self.keys.add(key)
        return True

    def release(self, key: str) -> None:
        self.calls.append(("release", key))
        self.keys.discard(key)


def test_a_configured_store_is_shared_by_apps(recorder: Recorder) -> None:
    store = SharedStore()
    apps = []
    for _ in range(2):  # two processes serving one hook
        hooks = OktaHooks()
        hooks.event()(recorder.handler("any"))
        apps.append(inline_app(hooks, OKTA_HOOKS_EVENTS_DEDUPE=store))

    for app in apps:
        assert deliver(app.test_client(), delivery(log_event(uuid="a"))).status_code == 204

    assert recorder.seen == [("any", "a")]
    assert store.keys == {PREFIX + "/events#a"}


def test_an_unreachable_store_answers_503_and_gives_claims_back(
    routed: OktaHooks, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    store = SharedStore(fail_on=PREFIX + "/events#b")
    client = inline_app(routed, OKTA_HOOKS_EVENTS_DEDUPE=store).test_client()

    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        response = deliver(client, delivery(log_event(uuid="a"), log_event(uuid="b")))

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "dedupe_unavailable"
    assert store.keys == set()  # "a" was released: Okta's retry can run it
    assert recorder.seen == []
    assert "error=ConnectionError" in caplog.text
    assert "unreachable" not in caplog.text


class StalledStore(SharedStore):
    """A shared store that does not answer until told to."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = threading.Event()

    def claim(self, key: str) -> bool:
        self.answer.wait(5)
        return super().claim(key)


def test_a_store_stalled_past_the_deadline_answers_503_and_nothing_runs_twice(
    recorder: Recorder,
) -> None:
    store = StalledStore()
    hooks = OktaHooks()
    hooks.event()(recorder.handler("any"))
    # A testing app is strict: the 503 must still not become an exception or a 500.
    app = build_app(hooks, OKTA_HOOKS_EVENTS_DEDUPE=store, OKTA_HOOKS_DEADLINE=0.2)
    client = app.test_client()
    payload = delivery(log_event(uuid="a"))

    started = time.perf_counter()
    stalled = deliver(client, payload)
    took = time.perf_counter() - started
    store.answer.set()  # the store recovers: the delivery is taken on late
    for _ in range(500):
        if recorder.seen:
            break
        time.sleep(0.01)
    retried = deliver(client, payload)  # Okta's one retry after the 503
    assert hooks.drain(app, timeout=5)

    assert stalled.status_code == 503
    assert stalled.get_json()["error"]["code"] == "events_not_accepted"
    assert took < 0.35
    assert retried.status_code == 204
    assert recorder.seen == [("any", "a")]


def test_the_store_setting_is_checked_at_start_up(routed: OktaHooks) -> None:
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_EVENTS_DEDUPE must be"):
        build_app(routed, OKTA_HOOKS_EVENTS_DEDUPE="redis")
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_EVENTS_WORKERS"):
        build_app(OktaHooks(), OKTA_HOOKS_EVENTS_WORKERS=65)
    with pytest.raises(ConfigurationError, match="at least 1 with the 'memory' intake"):
        build_app(routed, OKTA_HOOKS_EVENTS_WORKERS=0)
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_EVENTS_INTAKE must be"):
        build_app(routed, OKTA_HOOKS_EVENTS_INTAKE="events.db")
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_EVENTS_QUEUE"):
        build_app(OktaHooks(), OKTA_HOOKS_EVENTS_QUEUE=0)
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_EVENTS_INLINE"):
        build_app(OktaHooks(), OKTA_HOOKS_EVENTS_INLINE="yes")
    with pytest.raises(ConfigurationError, match="OKTA_HOOKS_EVENTS_EXIT_WAIT"):
        build_app(OktaHooks(), OKTA_HOOKS_EVENTS_EXIT_WAIT=-1)
    app = build_app(OktaHooks(), OKTA_HOOKS_EVENTS_DEDUPE=MemoryDedupeStore(max_entries=10))
    assert app.config["OKTA_HOOKS_EVENTS_INLINE"] is False


# --- after the response ----------------------------------------------------------------------


def test_handlers_run_after_the_response_with_the_app_context() -> None:
    answered = threading.Event()
    ran: list[tuple[bool, str, str]] = []
    hooks = OktaHooks()

    @hooks.event(DEACTIVATE)
    def slow(event: LogEvent) -> None:
        got_response_first = answered.wait(5)
        ran.append((got_response_first, current_app.name, threading.current_thread().name))

    app = build_app(hooks)
    response = deliver(app.test_client(), delivery(log_event()))
    assert response.status_code == 204
    assert ran == []  # the handler is still waiting for the test to get the 204
    answered.set()

    assert hooks.drain(app, timeout=5)
    assert ran == [(True, app.name, "okta-hooks-events")]


def test_drain_gives_up_after_its_timeout() -> None:
    release = threading.Event()
    hooks = OktaHooks()
    hooks.event()(lambda event: release.wait(5))
    app = build_app(hooks)
    deliver(app.test_client(), delivery(log_event()))

    started = time.monotonic()
    assert hooks.drain(app, timeout=0.05) is False
    assert time.monotonic() - started < 1
    release.set()
    assert hooks.drain(app, timeout=5) is True
    assert OktaHooks(name="unused").drain(app) is True  # nothing taken on: nothing to wait for


def test_a_full_queue_answers_503_so_okta_retries(recorder: Recorder) -> None:
    release = threading.Event()
    hooks = OktaHooks()
    hooks.event(DEACTIVATE)(lambda event: release.wait(5))
    hooks.event()(recorder.handler("other"))
    app = build_app(hooks, OKTA_HOOKS_EVENTS_WORKERS=1, OKTA_HOOKS_EVENTS_QUEUE=2)
    client = app.test_client()

    assert deliver(client, delivery(log_event(uuid="busy"))).status_code == 204
    wait_until(lambda: hooks_pending(app) == 1 and not queued(app))  # the thread is busy
    assert deliver(client, delivery(log_event("a.b", "q1"))).status_code == 204
    assert deliver(client, delivery(log_event("a.b", "q2"))).status_code == 204
    full = deliver(client, delivery(log_event("a.b", "q3"), event_id="d3"))
    assert full.status_code == 503
    assert full.get_json()["error"]["code"] == "event_queue_full"

    release.set()
    assert hooks.drain(app, timeout=5)
    retry = deliver(client, delivery(log_event("a.b", "q3"), event_id="d3"))
    assert retry.status_code == 204  # the refused events were not marked as handled
    assert hooks.drain(app, timeout=5)
    assert recorder.seen == [("other", "q1"), ("other", "q2"), ("other", "q3")]


def test_a_batch_larger_than_the_queue_is_taken_when_nothing_waits(recorder: Recorder) -> None:
    hooks = OktaHooks()
    hooks.event()(recorder.handler("any"))
    app = build_app(hooks, OKTA_HOOKS_EVENTS_QUEUE=1)

    response = deliver(app.test_client(), delivery(*(log_event(uuid=f"u{i}") for i in range(5))))

    assert response.status_code == 204
    assert hooks.drain(app, timeout=5)
    assert len(recorder.seen) == 5


def hooks_pending(app: Flask) -> int:
    return int(app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake.pending)


def queued(app: Flask) -> int:
    return len(app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake._events)


def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_failing_handler_is_logged_without_the_event(
    caplog: pytest.LogCaptureFixture, recorder: Recorder
) -> None:
    hooks = OktaHooks()
    attempts: list[str | None] = []

    @hooks.event(DEACTIVATE)
    def fails_once(event: LogEvent) -> None:
        attempts.append(event.uuid)
        if len(attempts) == 1:
            raise ValueError(f"cannot disable {event.targets[0].alternate_id} from {event.raw}")

    hooks.event()(recorder.handler("other"))
    app = build_app(hooks)
    client = app.test_client()

    with caplog.at_level(logging.DEBUG, logger="flask_okta_hooks"):
        assert deliver(client, delivery(log_event(uuid="a"))).status_code == 204
        assert hooks.drain(app, timeout=5)
        # The worker survived: the next delivery is handled.
        assert deliver(client, delivery(log_event("a.b", "b"))).status_code == 204
        assert hooks.drain(app, timeout=5)
        # The failed event's claim was given back: a redelivery runs it again.
        assert deliver(client, delivery(log_event(uuid="a"))).status_code == 204
        assert hooks.drain(app, timeout=5)

    assert attempts == ["a", "a"]
    assert recorder.seen == [("other", "b")]
    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.getMessage() == (
        "okta event handler failed: event_type='user.lifecycle.deactivate' uuid='a' "
        "error=ValueError"
    )
    assert failure.exc_info is None
    for value in PERSONAL:
        assert value not in caplog.text


def test_a_failing_app_context_does_not_stop_the_worker(
    caplog: pytest.LogCaptureFixture, recorder: Recorder
) -> None:
    hooks = OktaHooks()
    hooks.event()(recorder.handler("any"))
    app = build_app(hooks, OKTA_HOOKS_EVENTS_WORKERS=1)
    teardowns: list[int] = []

    @app.teardown_appcontext
    def fails_once_in_the_worker(exc: BaseException | None) -> None:
        if threading.current_thread().name == "okta-hooks-events":
            teardowns.append(1)
            if len(teardowns) == 1:
                raise RuntimeError("teardown")

    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="flask_okta_hooks"):
        for uuid in ("a", "b"):
            assert deliver(client, delivery(log_event(uuid=uuid))).status_code == 204
            assert hooks.drain(app, timeout=5)

    assert recorder.seen == [("any", "a"), ("any", "b")]
    assert "app context failed: error=RuntimeError" in caplog.text


def test_waiting_events_are_handled_at_exit() -> None:
    release = threading.Event()
    done: list[str | None] = []
    hooks = OktaHooks()

    @hooks.event()
    def slow(event: LogEvent) -> None:
        release.wait(5)
        done.append(event.uuid)

    app = build_app(hooks, OKTA_HOOKS_EVENTS_EXIT_WAIT=5)
    assert deliver(app.test_client(), delivery(log_event())).status_code == 204
    threading.Timer(0.05, release.set).start()

    intake_module.wait_at_exit()  # what the interpreter runs at exit

    assert done == ["uuid-1"]


def test_inline_handler_failure_answers_503_and_the_retry_runs_only_the_rest(
    recorder: Recorder,
) -> None:
    hooks = OktaHooks()
    failures = [True]

    @hooks.event(DEACTIVATE)
    def flaky(event: LogEvent) -> None:
        if failures.pop() if failures else False:
            raise RuntimeError("down")
        recorder.handler("deactivate")(event)

    hooks.event()(recorder.handler("other"))
    client = inline_app(hooks).test_client()
    payload = delivery(log_event("a.b", "first"), log_event(uuid="second"))

    failed = deliver(client, payload)
    retried = deliver(client, payload)

    assert failed.status_code == 503
    assert failed.get_json()["error"]["code"] == "event_handler_failed"
    assert retried.status_code == 204
    assert recorder.seen == [("other", "first"), ("deactivate", "second")]


def test_the_worker_keeps_working_after_a_fork(recorder: Recorder) -> None:
    fork = getattr(os, "fork", None)
    if fork is None:
        pytest.skip("no os.fork on this platform")
    hooks = OktaHooks()
    done = threading.Event()

    @hooks.event()
    def handle(event: LogEvent) -> None:
        done.set()

    app = build_app(hooks)
    client = app.test_client()
    assert deliver(client, delivery(log_event(uuid="parent"))).status_code == 204
    assert hooks.drain(app, timeout=5)  # threads now run in this (parent) process
    done.clear()

    pid = fork()
    if pid == 0:  # the child: the parent's threads are gone
        ok = deliver(client, delivery(log_event(uuid="child"))).status_code == 204
        ok = ok and hooks.drain(app, timeout=5) and done.is_set()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


# --- README ----------------------------------------------------------------------------------


# --- async def handlers ----------------------------------------------------------------------


def async_recorder(recorder: Recorder, name: str) -> Callable[[LogEvent], Any]:
    async def handle(event: LogEvent) -> None:
        await asyncio.sleep(0)
        assert current_app.name == "okta_hooks_test"  # the app context is pushed
        recorder.handler(name)(event)

    return handle


def test_an_async_event_handler_runs_inline(recorder: Recorder) -> None:
    hooks = OktaHooks()
    hooks.event(DEACTIVATE)(async_recorder(recorder, "async"))

    response = deliver(inline_app(hooks).test_client(), delivery(log_event(DEACTIVATE, "a")))

    assert response.status_code == 204
    assert recorder.seen == [("async", "a")]


def test_an_async_event_handler_runs_after_the_answer(recorder: Recorder) -> None:
    hooks = OktaHooks()
    hooks.event()(async_recorder(recorder, "async"))
    app = build_app(hooks)

    response = deliver(app.test_client(), delivery(log_event(DEACTIVATE, "a")))

    assert response.status_code == 204
    assert hooks.drain(app, timeout=5)
    assert recorder.seen == [("async", "a")]


def test_a_failing_async_event_handler_is_a_503_inline(recorder: Recorder) -> None:
    hooks = OktaHooks()

    @hooks.event
    async def broken(event: LogEvent) -> None:
        raise RuntimeError("downstream unavailable")

    response = deliver(inline_app(hooks).test_client(), delivery(log_event(DEACTIVATE, "a")))

    assert response.status_code == 503
