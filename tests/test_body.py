"""The strict JSON reader: its shortcuts must agree exactly with plain, slow checks."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_okta_hooks import OktaHooks, body
from flask_okta_hooks.config import apply_defaults
from flask_okta_hooks.errors import DuplicateKeys, HookRequestError, InvalidJSON, TooDeep
from flask_okta_hooks.hook_types import TOKEN as TOKEN_HOOK
from flask_okta_hooks.testing import make_payload

from .conftest import PREFIX, SECRET, build_app, safe_outcome_handler

SETTINGS = apply_defaults({"OKTA_HOOKS_SECRETS": ["a-long-enough-secret"]})

# Strings full of the characters the shortcuts look at: brackets, quotes, escapes, colons.
tricky_text = st.text(alphabet='[]{}"\\:, \n\tau0é\u2028', max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | tricky_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=30,
)


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


def encodings(value: Any) -> list[bytes]:
    """The same value written the ways senders write JSON."""
    return [
        json.dumps(value).encode(),
        json.dumps(value, separators=(",", ":")).encode(),
        json.dumps(value, indent=2, ensure_ascii=False).encode(),
        json.dumps(value, ensure_ascii=True).encode(),
    ]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(json_values)
def test_the_depth_shortcut_agrees_with_a_walk(value: Any) -> None:
    depth = reference_depth(value)
    for raw in encodings(value):
        for limit in (max(depth - 1, 1), depth, depth + 1):
            assert body._deeper_than(raw, limit) is (depth > limit), (raw, limit)


def with_repeated_key(raw: str) -> str:
    """Repeat the first key of the first non-empty object, if there is one."""
    start = raw.find('{"')
    if start < 0:
        return raw
    key_end = raw.index('":', start) + 2 if '":' in raw[start:] else -1
    if key_end < 0:
        return raw
    key = raw[start + 1 : key_end - 1]
    return raw[: start + 1] + key + ": 0, " + raw[start + 1 :]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(json_values)
def test_the_indentation_depth_check_agrees_with_a_walk(value: Any) -> None:
    depth = reference_depth(value)
    written = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    for limit in (max(depth - 1, 1), depth, depth + 1):
        assert body._indented_deeper(written, limit) is (depth > limit), (written, limit)


def nested(depth: int, key: str | None) -> Any:
    """``depth`` containers: arrays, or objects with ``key``; the innermost one empty."""
    value: Any = {} if key is not None else []
    for _ in range(depth - 1):
        value = {key: value} if key is not None else [value]
    return value


@pytest.mark.parametrize("key", [None, "a", 'a"b: {[', ""])
@pytest.mark.parametrize("depth", [31, 32, 33, 34])
def test_the_depth_limit_holds_for_objects_and_arrays_alike(depth: int, key: str | None) -> None:
    raw = json.dumps(nested(depth, key)).encode()

    if depth <= 32:
        assert body.parse_json(raw, SETTINGS) == json.loads(raw)
    else:
        with pytest.raises(TooDeep):
            body.parse_json(raw, SETTINGS)


DEEP_SETTINGS = apply_defaults(
    {"OKTA_HOOKS_SECRETS": ["a-long-enough-secret"], "OKTA_HOOKS_MAX_DEPTH": 400}
)


@pytest.mark.parametrize(("depth", "deep"), [(300, False), (400, False), (401, True)])
def test_a_limit_above_what_the_writer_nests_is_checked_exactly(depth: int, deep: bool) -> None:
    raw = b"[" * depth + b"]" * depth

    if deep:
        with pytest.raises(TooDeep):
            body.parse_json(raw, DEEP_SETTINGS)
    else:
        assert body.parse_json(raw, DEEP_SETTINGS) is not None
        inner = b"[" * (depth - 1) + b"]" * (depth - 1)
        with pytest.raises(DuplicateKeys):
            body.parse_json(b'{"k": 1, "k": ' + inner + b"}", DEEP_SETTINGS)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(json_values)
def test_duplicate_keys_are_found_exactly(value: Any) -> None:
    for raw in encodings(value):
        assert body.parse_json(raw, SETTINGS) == value
        doubled = with_repeated_key(raw.decode())
        if doubled == raw.decode():
            continue
        try:
            json.loads(doubled, object_pairs_hook=_no_duplicates)
        except ValueError:
            with pytest.raises(HookRequestError):
                body.parse_json(doubled.encode(), SETTINGS)
        else:  # the repeated text was not a key after all
            assert body.parse_json(doubled.encode(), SETTINGS) == json.loads(doubled)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(dict(pairs)) != len(pairs):
        raise ValueError("duplicate")
    return dict(pairs)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1, "a": 2}',
        b'{"a":1,"a":2}',
        b'{"a"\n:1,"a"\t:2}',
        b'{"\\u0061": 1, "a": 2}',
        b'{"x": "\\u0022:", "a": 1, "a": 2}',
        b'{"x": {"k": [1, {"k": 1, "k": 1}]}}',
        b'{"a": "x:y", "a": "z"}',
        b'{"a": 1, "a": 2, "b": "\\u003a"}',
        b'{"a": {"b": ":"}, "a": {"b": ":"}}',
    ],
)
def test_duplicate_keys_hidden_by_escapes_or_whitespace_are_found(raw: bytes) -> None:
    with pytest.raises(DuplicateKeys):
        body.parse_json(raw, SETTINGS)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\":", "b": "\\": \\":"}',
        b'{"a\\"": 1, "a": 2}',
        b'{"k": "x\\u0022:y"}',
        b'{"k": ": \\" :"}',
    ],
)
def test_keys_that_only_look_alike_are_accepted(raw: bytes) -> None:
    assert body.parse_json(raw, SETTINGS) == json.loads(raw)


@pytest.mark.parametrize("depth", [31, 32, 33, 1000, 100_000])
def test_the_depth_limit_does_not_depend_on_the_python_version(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth

    if depth <= 32:
        assert body.parse_json(raw, SETTINGS) is not None
    else:
        with pytest.raises(TooDeep):
            body.parse_json(raw, SETTINGS)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    raw = json.dumps({"a": "[" * 100 + "{" * 100, "b": ["]]]]", "\\[[["]}).encode()

    assert body.parse_json(raw, SETTINGS)["b"] == ["]]]]", "\\[[["]


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**19 * 3, -(10**25), 2**64 * 10**30])
def test_integers_beyond_64_bits_are_refused_not_rounded(number: int) -> None:
    for raw in (b"%d" % number, b'{"a": ["x", {"b": %d}]}' % number):
        with pytest.raises(InvalidJSON):
            body.parse_json(raw, SETTINGS)


@pytest.mark.parametrize("text", ["openid+profile+email", "+" * 20, "e+1, 2e+5"])
def test_plus_signs_in_strings_neither_hide_nor_fake_a_long_integer(text: str) -> None:
    """A long integer written back as a float is found by its exponent's "+", looked for
    among the other "+" signs of the body (or by its digits, past a few of them)."""
    for number, kept in ((2**64, False), (2**63, True)):
        raw = json.dumps({"scope": text, "n": number, "after": text}).encode()
        if kept:
            assert body.parse_json(raw, SETTINGS)["n"] == number
        else:
            with pytest.raises(InvalidJSON):
                body.parse_json(raw, SETTINGS)


@pytest.mark.parametrize(
    "raw",
    [
        b"%d" % (2**64 - 1),
        b"%d" % -(2**63),
        b'{"id": "18446744073709551616123"}',  # digits in a string are text
        b"[1e19, 1.8446744073709552e19, 12345678901234567890.5]",  # floats written as floats
    ],
)
def test_numbers_within_64_bits_and_floats_are_kept(raw: bytes) -> None:
    assert body.parse_json(raw, SETTINGS) == json.loads(raw)


# --- bodies through a real server ---------------------------------------------------------------
#
# The test client always fills in CONTENT_LENGTH and reads from a BytesIO; a WSGI server
# hands chunked bodies, broken framing and short bodies to the app as they come.

SERVED_LIMIT = 8192
SERVED_PATH = PREFIX + TOKEN_HOOK.default_path


def served_app() -> Flask:
    """The app gunicorn serves for these tests: the token hook, a small body limit, debug on
    (so that an exception escaping the extension would reach the client as a 500)."""
    hooks = OktaHooks()
    hooks.mount(TOKEN_HOOK, safe_outcome_handler(TOKEN_HOOK))
    app = build_app(hooks, OKTA_HOOKS_MAX_BODY=SERVED_LIMIT)
    app.debug = True
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    if importlib.util.find_spec("gunicorn") is None:
        pytest.skip("gunicorn is not installed (the example extra)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "gthread", "--threads", "4", "--chdir", str(root),
         "--log-level", "warning", "tests.test_body:served_app()"],
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "gunicorn exited"
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def exchange(address: tuple[str, int], head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send a raw request (``head`` is the request line and headers), return status and body.

    The body is sent from a thread: the server may answer, and close, before taking it all.
    """
    with socket.create_connection(address, timeout=20) as conn:
        conn.sendall(head + b"\r\n")

        def send_body() -> None:
            with contextlib.suppress(OSError):
                conn.sendall(body)

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                received += chunk
        sender.join(timeout=20)
    status_line, _, rest = received.partition(b"\r\n")
    _, _, response_body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), response_body


def request_head(*headers: str) -> bytes:
    lines = [f"POST {SERVED_PATH} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             "Content-Type: application/json", f"Authorization: {SECRET}", *headers]  # fmt: skip
    return "".join(f"{line}\r\n" for line in lines).encode("latin-1")


def chunked(data: bytes, size: int = 65536) -> bytes:
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def padded_call(size: int) -> bytes:
    """A valid token hook call padded with spaces to ``size`` bytes."""
    call = json.dumps(make_payload(TOKEN_HOOK)).encode()
    return call + b" " * (size - len(call))


def assert_json_error(status: int, received: bytes, expected: int, code: str) -> None:
    assert status == expected, received[:300]
    assert json.loads(received)["error"]["code"] == code


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_of_exactly_the_limit_is_served(server: tuple[str, int], framing: str) -> None:
    data = padded_call(SERVED_LIMIT)
    if framing == "chunked":
        status, _ = exchange(server, request_head("Transfer-Encoding: chunked"), chunked(data))
    else:
        status, _ = exchange(server, request_head(f"Content-Length: {len(data)}"), data)

    assert status == 204  # the safe outcome: served, no commands


def test_one_byte_over_the_limit_with_its_length_is_refused(server: tuple[str, int]) -> None:
    data = padded_call(SERVED_LIMIT + 1)

    status, received = exchange(server, request_head(f"Content-Length: {len(data)}"), data)

    assert_json_error(status, received, 413, "payload_too_large")


@pytest.mark.parametrize("extra", [1, 10 * 1024 * 1024])
def test_a_chunked_body_over_the_limit_is_refused_not_cut_short(
    server: tuple[str, int], extra: int
) -> None:
    # A valid call fills the limit; what follows must not be dropped and the rest served.
    data = padded_call(SERVED_LIMIT) + b" " * extra

    status, received = exchange(server, request_head("Transfer-Encoding: chunked"), chunked(data))

    assert_json_error(status, received, 413, "payload_too_large")


BROKEN_FRAMING = {
    "chunk size not hex": (["Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n"),
    "chunk without its CRLF": (["Transfer-Encoding: chunked"], b"2\r\n{}XX0\r\n\r\n"),
    "chunk size overflowing": (["Transfer-Encoding: chunked"], b"f" * 40 + b"\r\n{}\r\n"),
    "malformed trailer": (["Transfer-Encoding: chunked"], b"2\r\n{}\r\n0\r\nno colon\r\n\r\n"),
    "body shorter than its length": (["Content-Length: 100"], b"{}"),
}


@pytest.mark.parametrize("case", BROKEN_FRAMING.values(), ids=BROKEN_FRAMING.keys())
def test_a_body_that_cannot_be_read_gets_a_json_400(
    server: tuple[str, int], case: tuple[list[str], bytes]
) -> None:
    headers, raw = case
    with socket.create_connection(server, timeout=20) as conn:
        conn.sendall(request_head(*headers) + b"\r\n" + raw)
        conn.shutdown(socket.SHUT_WR)  # the client is done: a short body ends here
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")

    assert_json_error(
        int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2], 400, "bad_request"
    )
