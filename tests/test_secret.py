"""The Secret wrapper: shows nothing, reveals on request, survives any string."""

from __future__ import annotations

import copy
import logging
import pickle
from dataclasses import dataclass

import pytest
from marshmallow import Schema, ValidationError

from flask_okta_hooks import Secret
from flask_okta_hooks.secret import PLACEHOLDER, SecretString, conceal

CANARY = "canary-Pw-5e1d"


def test_the_value_never_shows_in_text_forms() -> None:
    secret = Secret(CANARY)

    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>30}",
        format(secret, "^40"),
    ]

    assert all(CANARY not in text for text in shown)
    assert str(secret) == PLACEHOLDER
    assert repr(secret) == f"Secret({PLACEHOLDER})"


def test_the_value_never_shows_in_a_dataclass_repr_or_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @dataclass(frozen=True)
    class Holder:
        password: Secret

    holder = Holder(Secret(CANARY))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").debug("holder %s %r", holder, holder.password)

    assert CANARY not in repr(holder)
    assert CANARY not in caplog.text


def test_reveal_gives_the_value_and_its_utf8_bytes() -> None:
    secret = Secret("pässwörd 🔑")

    assert secret.reveal() == "pässwörd 🔑"
    assert secret.reveal_bytes() == "pässwörd 🔑".encode()


def test_a_lone_surrogate_does_not_crash_and_matches_no_real_password() -> None:
    secret = Secret("ab\ud800")

    data = secret.reveal_bytes()

    assert data == b"ab\xed\xa0\x80"
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # not valid UTF-8, so no real password encodes to it
    assert not secret.matches("ab")
    assert secret.matches("ab\ud800")


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [(CANARY, True), (CANARY.encode(), True), (CANARY + "x", False), ("", False)],
)
def test_matches_compares_text_or_bytes(candidate: str | bytes, expected: bool) -> None:
    assert Secret(CANARY).matches(candidate) is expected


def test_copies_are_the_same_object_and_pickling_is_refused() -> None:
    secret = Secret(CANARY)

    assert copy.copy(secret) is secret
    assert copy.deepcopy({"s": secret})["s"] is secret
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(secret)


def test_only_strings_are_held() -> None:
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


class _Schema(Schema):
    text = SecretString()
    code = SecretString()


def test_the_schema_field_loads_secrets_and_never_quotes_the_input() -> None:
    already = Secret(CANARY)
    loaded = _Schema().load({"text": already, "code": 12345})

    assert loaded["text"] is already
    assert loaded["code"].reveal() == "12345"
    for bad in ({"code": 1.5}, {"code": True}, {"text": [CANARY]}, {"text": {"v": CANARY}}):
        with pytest.raises(ValidationError) as caught:
            _Schema().load(bad)
        assert CANARY not in str(caught.value.messages)


def test_conceal_wraps_strings_and_numbers_in_a_copy_and_leaves_the_rest() -> None:
    original = {"a": {"b": {"pw": CANARY, "code": 42, "flag": True, "list": [CANARY]}}}
    root = original

    for key in ("pw", "code", "flag", "list", "missing"):
        root = conceal(root, ("a", "b", key))
    assert conceal(root, ("x", "y")) is root
    assert conceal(root, ("a", "b", "pw")) is root  # twice: already wrapped

    leaf = root["a"]["b"]
    assert isinstance(leaf["pw"], Secret)
    assert leaf["pw"].reveal() == CANARY
    assert isinstance(leaf["code"], Secret)
    assert leaf["code"].reveal() == "42"
    assert leaf["flag"] is True
    assert leaf["list"] == [CANARY]
    assert "missing" not in leaf
    assert CANARY not in repr(root["a"]["b"]["pw"])
    assert original == {"a": {"b": {"pw": CANARY, "code": 42, "flag": True, "list": [CANARY]}}}
