"""The strict JSON reader: its shortcuts must agree exactly with plain, slow checks."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_okta_hooks import body
from flask_okta_hooks.config import apply_defaults
from flask_okta_hooks.errors import DuplicateKeys, HookRequestError, TooDeep

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
