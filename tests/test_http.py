"""Authentication and hostile input on every hook endpoint, through HTTP.

Every case runs against every hook type's endpoint: the status is exactly the one
expected, the body is the one JSON error shape, and nothing from the request, no
exception text and no traceback comes back. Which methods an endpoint answers comes from
its hook type's row: a GET it lists (Okta's event hook verification) is authenticated
like a POST, every other method is a 405.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_okta_hooks import HOOK_TYPES, ConfigurationError, HookType, OktaHooks
from flask_okta_hooks.testing import (
    OktaClient,
    assert_okta_accepts,
    assert_verification_answered,
    make_payload,
    variants,
)

from .conftest import (
    PREFIX,
    SECRET,
    build_app,
    okta_headers,
    safe_outcome_handler,
)

HOOK_IDS = [hook_type.slug for hook_type in HOOK_TYPES]
#: Hook types whose endpoints answer Okta's verification GET.
VERIFIED_TYPES = [t for t in HOOK_TYPES if "GET" in t.methods]
LEAK_MARKERS = ("Traceback", 'File "', "Werkzeug", "Error:", "Exception")


def expect_error(response: TestResponse, status: int, code: str, *echo: str) -> None:
    """The response is the extension's JSON error with ``status`` and ``code``."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "fields"}
    assert body["error"]["code"] == code
    text = response.get_data(as_text=True)
    for marker in (*LEAK_MARKERS, *echo):
        assert marker not in text


def payload_for(hook_type: HookType) -> dict[str, Any]:
    """The test kit's realistic call of ``hook_type`` (Okta's own samples: per-type tests)."""
    return make_payload(hook_type)


def send(
    client: FlaskClient,
    hook_type: HookType,
    data: bytes | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> TestResponse:
    if data is None:
        data = json.dumps(payload_for(hook_type)).encode()
    return client.open(
        PREFIX + hook_type.default_path,
        method=method,
        data=data,
        headers=okta_headers() if headers is None else headers,
        **kwargs,
    )


@pytest.fixture(params=HOOK_TYPES, ids=HOOK_IDS)
def hook_type(request: pytest.FixtureRequest) -> HookType:
    result: HookType = request.param
    return result


@pytest.fixture
def client(every_hook_client: FlaskClient) -> FlaskClient:
    return every_hook_client


@pytest.fixture
def app(every_hook_app: Flask) -> Flask:
    return every_hook_app


def test_a_well_formed_call_is_served(okta_client: OktaClient, hook_type: HookType) -> None:
    result = okta_client.post(hook_type)

    assert result.status_code in (200, 204)
    assert_okta_accepts(result)


def test_a_call_okta_could_send_in_any_variant_is_served(
    okta_client: OktaClient, hook_type: HookType
) -> None:
    for variant in variants(hook_type):
        assert_okta_accepts(okta_client.post(hook_type, variant=variant))


# --- authentication (rows 1-3) ----------------------------------------------------------------

WRONG_SECRETS = {
    "missing": None,
    "wrong": "not-the-secret",
    "case": SECRET.upper(),
    "trailing space": SECRET + " ",
    "leading space": " " + SECRET,
    "prefix": SECRET[:-1],
    "longer": SECRET + "x",
    "empty": "",
    "non-ascii": SECRET + "\u00e9",
    "control bytes": SECRET + "\x01\x7f",
    "8 KB": "A" * 8 * 1024,
    "64 KB": "A" * 64 * 1024,
}


@pytest.mark.parametrize("presented", WRONG_SECRETS.values(), ids=WRONG_SECRETS.keys())
def test_a_wrong_secret_is_refused(
    client: FlaskClient, hook_type: HookType, presented: str | None
) -> None:
    response = send(client, hook_type, headers=okta_headers(presented))

    expect_error(response, 401, "unauthorized")


def verification_get(
    client: FlaskClient, hook_type: HookType, challenge: str, headers: dict[str, str]
) -> TestResponse:
    verification = hook_type.request_class.verification
    assert verification is not None, f"{hook_type.slug} lists GET but has no verification"
    return client.get(
        PREFIX + hook_type.default_path, headers={**headers, verification.header: challenge}
    )


@pytest.mark.parametrize("hook_type", VERIFIED_TYPES, ids=[t.slug for t in VERIFIED_TYPES])
def test_a_get_the_row_lists_is_okta_s_verification(
    okta_client: OktaClient, hook_type: HookType
) -> None:
    assert_verification_answered(okta_client.verify("c-0451", hook=hook_type), "c-0451")


@pytest.mark.parametrize("hook_type", VERIFIED_TYPES, ids=[t.slug for t in VERIFIED_TYPES])
@pytest.mark.parametrize("presented", WRONG_SECRETS.values(), ids=WRONG_SECRETS.keys())
def test_a_wrong_secret_is_refused_on_a_verification_get(
    client: FlaskClient, hook_type: HookType, presented: str | None
) -> None:
    challenge = "CHALLENGE-9f2e"
    response = verification_get(client, hook_type, challenge, okta_headers(presented))

    expect_error(response, 401, "unauthorized", challenge)


def test_a_duplicated_auth_header_is_refused(client: FlaskClient, hook_type: HookType) -> None:
    headers = [("Content-Type", "application/json"), ("Authorization", SECRET)]
    response = client.post(
        PREFIX + hook_type.default_path,
        data=json.dumps(payload_for(hook_type)),
        headers=[*headers, ("Authorization", SECRET)],
    )

    expect_error(response, 401, "unauthorized")


def test_auth_comes_before_reading_the_body(client: FlaskClient, hook_type: HookType) -> None:
    response = send(client, hook_type, b"{not json", headers=okta_headers("wrong"))

    expect_error(response, 401, "unauthorized")


def test_the_header_name_is_configurable_and_case_insensitive(hook_type: HookType) -> None:
    hooks = OktaHooks()
    hooks.mount(hook_type, safe_outcome_handler(hook_type))
    client = build_app(hooks, OKTA_HOOKS_AUTH_HEADER="X-Okta-Hook-Secret").test_client()

    accepted = send(
        client,
        hook_type,
        headers={"Content-Type": "application/json", "x-okta-hook-secret": SECRET},
    )
    in_authorization = send(client, hook_type, headers=okta_headers(SECRET))

    assert accepted.status_code in (200, 204)
    expect_error(in_authorization, 401, "unauthorized")
    assert OktaClient(client.application).post(hook_type).status_code in (200, 204)


def test_secrets_rotate_without_downtime(hook_type: HookType) -> None:
    hooks = OktaHooks()
    hooks.mount(hook_type, safe_outcome_handler(hook_type))
    app = build_app(hooks, OKTA_HOOKS_SECRETS=["old-secret-0123456789", "new-secret-0123456789"])
    client = app.test_client()

    assert send(client, hook_type, headers=okta_headers("old-secret-0123456789")).status_code < 300
    assert send(client, hook_type, headers=okta_headers("new-secret-0123456789")).status_code < 300

    app.config["OKTA_HOOKS_SECRETS"] = ["new-secret-0123456789"]  # the old one is retired
    retired = send(client, hook_type, headers=okta_headers("old-secret-0123456789"))
    expect_error(retired, 401, "unauthorized")
    assert send(client, hook_type, headers=okta_headers("new-secret-0123456789")).status_code < 300


def test_secrets_are_compared_as_bytes_in_constant_time(
    client: FlaskClient, hook_type: HookType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    send(client, hook_type)
    send(client, hook_type, headers=okta_headers("wrong\u00e9"))

    assert len(calls) == 2
    assert all(type(a) is bytes and type(b) is bytes for a, b in calls)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"OKTA_HOOKS_SECRETS": None}, "set OKTA_HOOKS_SECRETS"),
        ({"OKTA_HOOKS_SECRETS": []}, "set OKTA_HOOKS_SECRETS"),
        ({"OKTA_HOOKS_SECRETS": [""]}, "non-empty"),
        ({"OKTA_HOOKS_SECRETS": ["  "]}, "non-empty"),
        ({"OKTA_HOOKS_SECRETS": 42}, "a string or a list"),
        ({"OKTA_HOOKS_AUTH": "basic"}, "OKTA_HOOKS_AUTH must be one of"),
        ({"OKTA_HOOKS_AUTH_HEADER": "Bad Header"}, "HTTP header name"),
        ({"OKTA_HOOKS_MAX_BODY": "1MB"}, "OKTA_HOOKS_MAX_BODY must be a whole number"),
        ({"OKTA_HOOKS_MAX_DEPTH": 0}, "OKTA_HOOKS_MAX_DEPTH"),
        ({"OKTA_HOOKS_STRICT": "yes"}, "OKTA_HOOKS_STRICT must be True or False"),
    ],
)
def test_bad_configuration_fails_at_start_up(config: dict[str, Any], message: str) -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)

    with pytest.raises(ConfigurationError, match=message):
        build_app(hooks, **config)


def test_auth_can_be_turned_off_for_local_development(caplog: pytest.LogCaptureFixture) -> None:
    hooks = OktaHooks()
    hooks.token(lambda call: None)

    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        app = build_app(hooks, OKTA_HOOKS_AUTH="none", OKTA_HOOKS_SECRETS=None)
    response = send(app.test_client(), HOOK_TYPES[0], headers={"Content-Type": "application/json"})

    assert "local development only" in caplog.text
    assert response.status_code == 204


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Inline hook types whose calls carry an email address in Okta's samples.
PROFILE_TYPES = [
    t for t in HOOK_TYPES if t.slug != "events" and EMAIL.search(json.dumps(make_payload(t)))
]


@pytest.mark.parametrize("hook_type", PROFILE_TYPES, ids=[t.slug for t in PROFILE_TYPES])
def test_an_inline_calls_profile_data_is_never_logged(
    every_hook_client: FlaskClient, hook_type: HookType, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "ann.canary.5e1d@example.test"
    payload = EMAIL.sub(canary, json.dumps(payload_for(hook_type))).encode()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="flask_okta_hooks")

    response = send(every_hook_client, hook_type, payload)

    assert response.status_code in (200, 204)
    assert caplog.records  # the call was logged at all
    for record in caplog.records:
        logged = f"{record.getMessage()} {record.args} {record.exc_text} {vars(record)}"
        assert "canary" not in logged, record


def test_defaults_are_written_into_the_app_config() -> None:
    hooks = OktaHooks()
    app = build_app(hooks)

    assert app.config["OKTA_HOOKS_AUTH_HEADER"] == "Authorization"
    assert app.config["OKTA_HOOKS_MAX_BODY"] == 1024 * 1024
    assert app.config["OKTA_HOOKS_VALIDATE_RESPONSES"] is True


# --- hostile input (rows 5-19) ----------------------------------------------------------------


METHODS = ("GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND")
#: Every method a hook type's row does not list: GET is Okta's verification where it does.
WRONG_METHODS = [
    pytest.param(hook_type, method, id=f"{hook_type.slug}-{method}")
    for hook_type in HOOK_TYPES
    for method in METHODS
    if method not in hook_type.methods
]


@pytest.mark.parametrize(("hook_type", "method"), WRONG_METHODS)
def test_other_methods_get_a_json_405(
    client: FlaskClient, hook_type: HookType, method: str
) -> None:
    response = send(client, hook_type, method=method)

    assert response.status_code == 405
    assert response.headers["Allow"] == ", ".join(hook_type.methods)
    if method != "HEAD":
        expect_error(response, 405, "method_not_allowed")


CONTENT_TYPES = {
    "missing": None,
    "text/plain": "text/plain",
    "multipart": "multipart/form-data; boundary=x",
    "form": "application/x-www-form-urlencoded",
    "latin-1 JSON": "application/json; charset=latin-1",
    "json suffix": "application/vnd.okta+json",
}


@pytest.mark.parametrize("content_type", CONTENT_TYPES.values(), ids=CONTENT_TYPES.keys())
def test_only_json_bodies_are_read(
    client: FlaskClient, hook_type: HookType, content_type: str | None
) -> None:
    headers = {"Authorization": SECRET}
    if content_type is not None:
        headers["Content-Type"] = content_type

    expect_error(send(client, hook_type, headers=headers), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON; charset=UTF-8"]
)
def test_json_with_a_utf8_charset_is_accepted(
    client: FlaskClient, hook_type: HookType, content_type: str
) -> None:
    headers = {"Authorization": SECRET, "Content-Type": content_type}

    assert send(client, hook_type, headers=headers).status_code in (200, 204)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "identity, gzip"])
def test_compressed_bodies_are_refused_unread(
    client: FlaskClient, hook_type: HookType, encoding: str
) -> None:
    headers = okta_headers(**{"Content-Encoding": encoding})

    expect_error(send(client, hook_type, headers=headers), 415, "unsupported_media_type")


def test_a_body_over_the_limit_is_refused(client: FlaskClient, hook_type: HookType) -> None:
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'

    expect_error(send(client, hook_type, body), 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_refused_while_reading(hook_type: HookType) -> None:
    hooks = OktaHooks()
    hooks.mount(hook_type, safe_outcome_handler(hook_type))
    app = build_app(hooks, OKTA_HOOKS_MAX_BODY=4096)
    stream = CountingStream(b"[" + b"1," * 100_000 + b"1]")

    response = app.test_client().post(
        PREFIX + hook_type.default_path,
        input_stream=stream,
        headers=okta_headers(),
        environ_overrides={"wsgi.input_terminated": True},
    )

    expect_error(response, 413, "payload_too_large")
    assert stream.consumed <= 4096 + 1  # reading stopped at the limit


def test_a_chunked_body_within_the_limit_is_served(
    client: FlaskClient, hook_type: HookType
) -> None:
    stream = CountingStream(json.dumps(payload_for(hook_type)).encode())

    response = client.post(
        PREFIX + hook_type.default_path,
        input_stream=stream,
        headers=okta_headers(),
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code in (200, 204)


@pytest.mark.parametrize("length", ["\u00b2", "1\u0663", "-1", "+2", "0x10", "2 2"])
def test_a_content_length_that_is_not_a_number_gets_a_json_400(
    every_hook_app: Flask, hook_type: HookType, length: str, caplog: pytest.LogCaptureFixture
) -> None:
    every_hook_app.debug = True  # an escaping exception would show the debugger's page

    with caplog.at_level(logging.WARNING, logger="flask_okta_hooks"):
        response = send(
            every_hook_app.test_client(), hook_type, environ_overrides={"CONTENT_LENGTH": length}
        )

    expect_error(response, 400, "bad_request")
    assert "outcome=refused status=400 reason=bad_request" in caplog.text  # logged as refused


class CountingStream(io.BytesIO):
    """A request body that records how much of it the server read."""

    consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.consumed += len(data)
        return data


def deep(depth: int) -> bytes:
    return b'{"data": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty_body"),
    "whitespace": (b" \r\n\t ", "empty_body"),
    "truncated": (b'{"eventType": "com.okta', "invalid_json"),
    "trailing garbage": (b'{"data": {}} x', "invalid_json"),
    "comment": (b'{"data": {} /* c */}', "invalid_json"),
    "single quotes": (b"{'data': {}}", "invalid_json"),
    "invalid utf-8": (b'{"data": "\xff\xfe"}', "invalid_json"),
    "utf-8 bom": (b'\xef\xbb\xbf{"data": {}}', "invalid_json"),
    "utf-16": ('{"data": {}}'.encode("utf-16"), "invalid_json"),
    "utf-32": ('{"data": {}}'.encode("utf-32"), "invalid_json"),
    "NaN": (b'{"data": {"x": NaN}}', "invalid_json"),
    "Infinity": (b'{"data": {"x": Infinity}}', "invalid_json"),
    "-Infinity": (b'{"data": {"x": -Infinity}}', "invalid_json"),
    "1e999": (b'{"data": {"x": 1e999}}', "invalid_json"),
    "huge integer": (b'{"data": {"x": ' + b"9" * 5000 + b"}}", "invalid_json"),
    "integer past 64 bits": (b'{"data": {"x": 18446744073709551616}}', "invalid_json"),
    "lone surrogate": (b'{"data": {"x": "\\ud800"}}', "invalid_json"),
    "depth 33": (deep(33), "too_deep"),
    "depth 1000": (deep(1000), "too_deep"),
    "100,000 unclosed": (b"[" * 100_000, "too_deep"),
    "long string": (b'{"data": {"x": "' + b"x" * 70_000 + b'"}}', "too_complex"),
    "long key": (b'{"data": {"' + b"k" * 70_000 + b'": 1}}', "too_complex"),
    "duplicate keys": (b'{"data": {}, "data": {}}', "duplicate_keys"),
    "duplicate keys, spaced": (b'{"data" : {"a": 1, "a" : 2}}', "duplicate_keys"),
    "array root": (b"[]", "invalid_envelope"),
    "null root": (b"null", "invalid_envelope"),
    "string root": (b'"x"', "invalid_envelope"),
    "number root": (b"1", "invalid_envelope"),
    "no data": (b'{"eventType": "x"}', "invalid_envelope"),
}


@pytest.mark.parametrize("case", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_get_a_clear_400(
    client: FlaskClient, hook_type: HookType, case: tuple[bytes, str]
) -> None:
    body, code = case

    expect_error(send(client, hook_type, body), 400, code)


def test_many_members_are_refused(hook_type: HookType) -> None:
    hooks = OktaHooks()
    hooks.mount(hook_type, safe_outcome_handler(hook_type))
    client = build_app(hooks, OKTA_HOOKS_MAX_MEMBERS=1000).test_client()
    payload = payload_for(hook_type)
    payload["padding"] = list(range(2000))

    expect_error(send(client, hook_type, json.dumps(payload).encode()), 400, "too_complex")


def test_duplicate_keys_deep_inside_a_real_payload_are_found(
    client: FlaskClient, hook_type: HookType
) -> None:
    payload = payload_for(hook_type)
    deep_object(payload["data"])["__dup__"] = 1
    text = json.dumps(payload, indent=2)
    # A repeated key in an object two or more levels below data.
    doubled = text.replace('"__dup__": 1', '"dup": 1, "dup": 2', 1)

    expect_error(send(client, hook_type, doubled.encode()), 400, "duplicate_keys")


def deep_object(data: dict[str, Any]) -> dict[str, Any]:
    """The first object found two levels below ``data`` (inside arrays too)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop(0)
        if type(node) is dict and depth >= 2:
            return node
        children = node.values() if type(node) is dict else node if type(node) is list else ()
        stack.extend((child, depth + 1) for child in children)
    raise AssertionError("the sample has no nested object")


def test_keys_that_look_repeated_inside_strings_are_fine(
    client: FlaskClient, hook_type: HookType
) -> None:
    payload = payload_for(hook_type)
    payload["note"] = 'a": "b": "c":'

    assert send(client, hook_type, json.dumps(payload).encode()).status_code in (200, 204)


CONTEXT_MUTATIONS = ("context missing", "context is a string")
ENVELOPE_MUTATIONS = {
    "data is a list": (lambda p: p.__setitem__("data", []), "invalid_envelope"),
    "data is null": (lambda p: p.__setitem__("data", None), "invalid_envelope"),
    "context missing": (lambda p: p["data"].pop("context"), "invalid_envelope"),
    "context is a string": (lambda p: p["data"].__setitem__("context", "x"), "invalid_envelope"),
    "eventType missing": (lambda p: p.pop("eventType"), "invalid_envelope"),
    "eventType is a number": (lambda p: p.__setitem__("eventType", 1), "invalid_envelope"),
    "eventId is an object": (lambda p: p.__setitem__("eventId", {}), "invalid_envelope"),
    "eventTypeVersion is a bool": (
        lambda p: p.__setitem__("eventTypeVersion", True),
        "invalid_envelope",
    ),
}


@pytest.mark.parametrize("case", ENVELOPE_MUTATIONS.values(), ids=ENVELOPE_MUTATIONS.keys())
def test_a_broken_envelope_gets_invalid_envelope(
    client: FlaskClient, hook_type: HookType, case: tuple[Any, str]
) -> None:
    mutate, code = case
    about_context = any(case is ENVELOPE_MUTATIONS[name] for name in CONTEXT_MUTATIONS)
    if about_context and "context" not in hook_type.required_sections:
        pytest.skip(f"{hook_type.slug} calls carry no data.context")
    payload = payload_for(hook_type)
    mutate(payload)

    expect_error(send(client, hook_type, json.dumps(payload).encode()), 400, code)


def test_the_event_type_must_be_the_endpoints(client: FlaskClient, hook_type: HookType) -> None:
    for other in HOOK_TYPES:
        if other is hook_type:
            continue
        payload = payload_for(hook_type)
        payload["eventType"] = other.event_type
        expect_error(send(client, hook_type, json.dumps(payload).encode()), 400, "wrong_event_type")


def test_event_type_versions_may_be_numbers(client: FlaskClient, hook_type: HookType) -> None:
    payload = payload_for(hook_type)
    payload["eventTypeVersion"] = 1.0
    payload["cloudEventVersion"] = 0.1
    payload["cloudEventsVersion"] = 0.1

    assert send(client, hook_type, json.dumps(payload).encode()).status_code in (200, 204)


def test_error_bodies_do_not_echo_input(client: FlaskClient, hook_type: HookType) -> None:
    canary = "CANARY-7d1e"
    payload = payload_for(hook_type)
    payload["eventType"] = canary

    expect_error(
        send(client, hook_type, json.dumps(payload).encode()), 400, "wrong_event_type", canary
    )


# --- the same in debug mode (T1.9) ------------------------------------------------------------


@pytest.mark.parametrize(
    "case", [BAD_BODIES["depth 1000"], BAD_BODIES["invalid utf-8"], BAD_BODIES["no data"]]
)
def test_debug_mode_still_answers_json_without_traceback(
    every_hook_app: Flask, hook_type: HookType, case: tuple[bytes, str]
) -> None:
    every_hook_app.debug = True
    body, code = case

    expect_error(send(every_hook_app.test_client(), hook_type, body), 400, code)
    expect_error(
        send(every_hook_app.test_client(), hook_type, method="PUT"), 405, "method_not_allowed"
    )
    verification = hook_type.request_class.verification
    if "GET" in hook_type.methods and verification is not None:
        challenge = "c" * (verification.max_bytes + 1)  # a 400, and never echoed
        response = verification_get(every_hook_app.test_client(), hook_type, challenge, {})
        expect_error(response, 401, "unauthorized", challenge)
        response = verification_get(
            every_hook_app.test_client(), hook_type, challenge, okta_headers()
        )
        expect_error(response, 400, "challenge_too_large", challenge)
