"""Properties under generated input (T1.6), with fixed seeds so every run is the same.

* Random bytes as bodies, to every endpoint.
* Okta's samples, mutated: a member dropped, retyped, nested deeper, written twice, or a
  string swapped for arbitrary unicode.
* Random auth header and content type values.
* JSON Pointer escaping of arbitrary names.

Invariants: never a 5xx, the body is JSON or empty, a handler that reads every section
never sees the library crash (a malformed section is a 400), and the password import
endpoint answers VERIFIED only when the verifier said so.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_okta_hooks import (
    HOOK_TYPES,
    HookRequest,
    HookType,
    OktaHooks,
    PasswordImportHookRequest,
    pointer,
)
from flask_okta_hooks.lazy import lazy_property
from flask_okta_hooks.signals import hook_failed

from .conftest import PREFIX, REQUEST_SAMPLE, SECRET, build_app, okta_headers, sample

HOOK_IDS = [hook_type.slug for hook_type in HOOK_TYPES]
#: Example counts: sized so the whole module stays well under a minute.
BYTES_EXAMPLES = 500
MUTATION_EXAMPLES = 500
HEADER_EXAMPLES = 250
POINTER_EXAMPLES = 2000


def fixed(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# --- the app under test -----------------------------------------------------------------------


class Verifier:
    """The legacy password check of the password import handler; remembers its verdicts."""

    def __init__(self) -> None:
        self.verdicts: list[bool] = []
        self.lock = threading.Lock()

    def check(self, username: str, password: bytes) -> bool:
        verdict = username == "isaac.brock@example.com" and password == b"Okta"
        with self.lock:
            self.verdicts.append(verdict)
        return verdict


VERIFIER = Verifier()


def read_every_section(call: HookRequest) -> None:
    """Read every typed section, as a thorough handler would."""
    for name in dir(type(call)):
        if isinstance(getattr(type(call), name, None), property | lazy_property):
            getattr(call, name)


def reading_handler(hook_type: HookType) -> Any:
    def handler(call: HookRequest) -> Any:
        read_every_section(call)
        if isinstance(call, PasswordImportHookRequest):
            if VERIFIER.check(call.username, call.password.reveal_bytes()):
                return call.respond().verified()
            return call.respond().unverified()
        return hook_type.response_class.safe_outcome(call)

    return handler


@pytest.fixture(scope="module")
def app() -> Flask:
    hooks = OktaHooks()
    for hook_type in HOOK_TYPES:
        hooks.mount(hook_type, reading_handler(hook_type))
    return build_app(hooks, OKTA_HOOKS_STRICT=False)


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def failures() -> Iterator[list[str]]:
    """Reasons of the failure outcomes sent during the test."""
    reasons: list[str] = []

    def record(sender: Flask, **extra: Any) -> None:
        reasons.append(extra["reason"])

    hook_failed.connect(record)
    yield reasons
    hook_failed.disconnect(record)


def check(response: Any) -> None:
    """The invariants every answer keeps."""
    assert response.status_code < 500, response.data
    if response.status_code == 204:
        assert response.data == b""
    else:
        assert response.mimetype == "application/json"
        json.loads(response.data)


@pytest.fixture(params=HOOK_TYPES, ids=HOOK_IDS)
def hook_type(request: pytest.FixtureRequest) -> HookType:
    result: HookType = request.param
    return result


# --- random bytes -----------------------------------------------------------------------------


def test_random_bytes_never_break_an_endpoint(
    client: FlaskClient, hook_type: HookType, failures: list[str]
) -> None:
    @fixed(BYTES_EXAMPLES)
    @given(body=st.binary(max_size=4096))
    def post(body: bytes) -> None:
        response = client.post(PREFIX + hook_type.default_path, data=body, headers=okta_headers())
        check(response)
        assert response.status_code in (400, 413)

    post()
    assert failures == []


# --- mutated samples --------------------------------------------------------------------------

Path = tuple[str | int, ...]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


def paths(node: Any, prefix: Path = ()) -> Iterator[Path]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def replace_at(node: Any, path: Path, change: Any) -> Any:
    """A copy of ``node`` with the value at ``path`` passed through ``change``."""
    if not path:
        return change(node)
    head, *rest = path
    if isinstance(node, dict):
        copy = dict(node)
        result = replace_at(node[head], tuple(rest), change)
        if result is _DROP:
            del copy[head]
        else:
            copy[head] = result
        return copy
    copy_list = list(node)
    result = replace_at(node[head], tuple(rest), change)  # type: ignore[index]
    if result is _DROP:
        del copy_list[head]  # type: ignore[arg-type]
    else:
        copy_list[head] = result  # type: ignore[index]
    return copy_list


_DROP = object()


def encode(node: Any, duplicate_at: Path | None, here: Path = ()) -> str:
    """JSON text of ``node``; the object at ``duplicate_at`` repeats its first member."""
    if isinstance(node, dict):
        members = [
            f"{json.dumps(k)}:{encode(v, duplicate_at, (*here, k))}" for k, v in node.items()
        ]
        if here == duplicate_at and members:
            members.append(members[0])
        return "{" + ",".join(members) + "}"
    if isinstance(node, list):
        return "[" + ",".join(encode(v, duplicate_at, (*here, i)) for i, v in enumerate(node)) + "]"
    return json.dumps(node)


@st.composite
def mutated(draw: st.DrawFn, hook_type: HookType) -> bytes:
    doc = sample(REQUEST_SAMPLE[hook_type.slug])
    operation = draw(st.sampled_from(["drop", "retype", "deepen", "duplicate", "unicode", "none"]))
    path = draw(st.sampled_from(list(paths(doc))))
    duplicate_at = None
    if operation == "drop" and path:
        doc = replace_at(doc, path, lambda value: _DROP)
    elif operation == "retype":
        new = draw(json_values)
        doc = replace_at(doc, path, lambda value: new)
    elif operation == "deepen":
        wrap = draw(st.sampled_from(["list", "object"]))
        times = draw(st.integers(1, 40))

        def deepen(value: Any) -> Any:
            for _ in range(times):
                value = [value] if wrap == "list" else {"x": value}
            return value

        doc = replace_at(doc, path, deepen)
    elif operation == "duplicate":
        duplicate_at = path
    elif operation == "unicode":
        text = draw(st.text(st.characters(codec="utf-8") | st.sampled_from("\ud800\udfff\x00")))
        doc = replace_at(doc, path, lambda value: text if isinstance(value, str) else value)
    return encode(doc, duplicate_at).encode("utf-8", "surrogatepass")


def test_mutated_samples_never_break_an_endpoint(
    client: FlaskClient, hook_type: HookType, failures: list[str]
) -> None:
    verdicts = VERIFIER.verdicts

    @fixed(MUTATION_EXAMPLES)
    @given(body=mutated(hook_type))
    def post(body: bytes) -> None:
        verdicts.clear()
        response = client.post(PREFIX + hook_type.default_path, data=body, headers=okta_headers())
        check(response)
        assert response.status_code in (200, 204, 400), response.data
        if b"VERIFIED" in response.data and b"UNVERIFIED" not in response.data:
            assert verdicts == [True]
        if verdicts == [True]:
            assert b'"VERIFIED"' in response.data

    post()
    assert failures == []


def test_the_password_sample_itself_is_verified(client: FlaskClient) -> None:
    response = client.post(
        PREFIX + "/password-import",
        data=json.dumps(sample("password-import.request.json")),
        headers=okta_headers(),
    )

    assert b'"VERIFIED"' in response.data  # so the property above sees both verdicts


# --- headers ----------------------------------------------------------------------------------

header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
    max_size=300,
)


def test_random_auth_headers_are_refused(client: FlaskClient, hook_type: HookType) -> None:
    body = json.dumps(sample(REQUEST_SAMPLE[hook_type.slug]))

    @fixed(HEADER_EXAMPLES)
    @given(value=header_text)
    def post(value: str) -> None:
        response = client.post(
            PREFIX + hook_type.default_path, data=body, headers=okta_headers(value)
        )
        check(response)
        if value != SECRET:
            assert response.status_code == 401

    post()


def test_random_content_types_are_refused_or_read(client: FlaskClient, hook_type: HookType) -> None:
    body = json.dumps(sample(REQUEST_SAMPLE[hook_type.slug]))

    @fixed(HEADER_EXAMPLES)
    @given(value=header_text)
    def post(value: str) -> None:
        headers = {**okta_headers(), "Content-Type": value}
        response = client.post(PREFIX + hook_type.default_path, data=body, headers=headers)
        check(response)
        assert response.status_code in (200, 204, 415)

    post()


# --- JSON Pointer -----------------------------------------------------------------------------


@fixed(POINTER_EXAMPLES)
@given(name=st.text())
def test_pointer_escaping_round_trips(name: str) -> None:
    escaped = pointer.escape(name)

    assert "/" not in escaped
    assert all(escaped[i + 1 : i + 2] in ("0", "1") for i, c in enumerate(escaped) if c == "~")
    assert pointer.unescape(escaped) == name
    assert pointer.split(pointer.join("/claims", [name])) == ["claims", name]


@fixed(POINTER_EXAMPLES // 4)
@given(names=st.lists(st.text() | st.integers(min_value=0), min_size=1, max_size=5))
def test_pointers_of_several_segments_split_back(names: list[str | int]) -> None:
    joined = pointer.join("/claims", names)

    assert pointer.split(joined) == ["claims", *map(str, names)]
