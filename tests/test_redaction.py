"""The redaction filter on the extension's logger, and the secret guard on responses."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from typing import Any

import pytest

from flask_okta_hooks import (
    OktaHooks,
    PasswordImportHookRequest,
    RedactingFilter,
    ResponseRuleError,
    TelephonyHookRequest,
    TokenHookRequest,
    TokenHookResponse,
    redaction,
)
from flask_okta_hooks.redaction import (
    MASK,
    mask_call_values,
    redact_text,
    redact_value,
    remember_secrets,
    unmask_call_values,
)

from .conftest import SECRET, build_app, sample

CONFIGURED = "configured-secret-7d1f9a3c4b2e"
BEARER = "Bearer eyJraWQiOiJrMSJ9.eyJzdWIiOiJva3RhIn0.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture(autouse=True)
def _configured_secret() -> None:
    remember_secrets([CONFIGURED.encode()])


def record(msg: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("flask_okta_hooks", logging.INFO, __file__, 1, msg, args, exc_info)


def filtered(msg: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    rec = record(msg, *args, exc_info=exc_info)
    assert RedactingFilter().filter(rec) is True  # it masks, it never drops
    return rec


def masked_by_every_pattern(text: str) -> str:
    """What redact_text answers, with every pattern run on every text."""
    text = redaction._KEY_VALUE.sub(redaction._mask_pair, text)
    text = redaction._BEARER.sub("Bearer " + MASK, text)
    text = redaction._JWT.sub(MASK, text)
    for secret in redaction.known_secrets():
        text = text.replace(secret, MASK)
    return text.translate(redaction._LINE_BREAKS)


#: Pieces of keys, values and separators, with the letters case folding maps onto ASCII.
PIECES = [
    *redaction.SENSITIVE_KEYS,
    "Token", "PASSWORD", "pa\u017f\u017fword", "\u212aey", "to\u212aen", "access", "client_",
    "bearer ", "Bearer ", "eyJ", "hbGciOi", ".", "x" * 20, "abc", "-", "_", "=", ":", " ",
    "\t", '"', "'", "{", "}", "[", "]", ",", ";", "&", "\n", "\r", "\u2028", "\u00e9",
]  # fmt: skip


def test_the_quick_tests_before_the_patterns_change_no_answer() -> None:
    generator = random.Random(20261129)
    texts = [
        "okta hook call: hook=token event_id=3OWo outcome=ok status=200 reason=- latency_ms=1.2",
        "hook=token",
        "x-api-token : abc",
        "to\u212aen=abc",
        "pa\u017f\u017fword=abc",
    ]
    for _ in range(5_000):
        texts.append("".join(generator.choices(PIECES, k=generator.randint(1, 12))))

    for text in texts:
        assert redact_text(text) == masked_by_every_pattern(text), text


# --- by key -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "password=hunter2-canary",
        "Password: hunter2-canary",
        "'password': 'hunter2-canary'",
        '"otpCode": "hunter2-canary"',
        "msgTemplate='Your code is hunter2-canary'",
        "authorization=hunter2-canary",
        "access_token=hunter2-canary&x=1",
        "client_secret: hunter2-canary",
        "phoneNumber=hunter2-canary",
        "'credential': {'username': 'u', 'password': 'hunter2-canary'}",
        "accessToken=[hunter2-canary, other]",
    ],
)
def test_values_under_sensitive_keys_are_masked(text: str) -> None:
    masked = filtered(f"before {text} after").getMessage()

    assert "hunter2-canary" not in masked
    assert MASK in masked
    assert masked.startswith("before ")


def test_structured_arguments_are_masked_by_key_at_any_depth() -> None:
    payload = {
        "eventId": "e1",
        "data": {
            "messageProfile": {"phoneNumber": "+15550100", "otpCode": "4815", "locale": "en"},
            "context": {"credential": {"username": "u", "password": "pw-canary"}},
            "tokens": [{"value": "t-canary"}],
        },
    }

    masked = filtered("payload %s", payload).getMessage()

    for value in ("+15550100", "4815", "pw-canary", "t-canary"):
        assert value not in masked
    assert "'locale': 'en'" in masked
    assert "'eventId': 'e1'" in masked
    assert payload["data"]["messageProfile"]["otpCode"] == "4815"  # the caller's data is intact


def test_a_mapping_argument_is_masked() -> None:
    masked = filtered("%(user)s %(password)s", {"user": "ann", "password": "pw-canary"})

    assert masked.getMessage() == f"ann {MASK}"


def test_deep_structures_are_masked_whole_past_the_depth_limit() -> None:
    deep: Any = "leaf-value"
    for _ in range(20):
        deep = [deep]

    assert "leaf-value" not in str(redact_value(deep))


# --- by value ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"header was {CONFIGURED}",
        f"got {BEARER} from okta",
        f"token {BEARER.split()[1]} seen",
        f"authorization header: bearer {'A' * 40}",
    ],
)
def test_secrets_and_credentials_are_masked_wherever_they_are(text: str) -> None:
    masked = filtered(text).getMessage()

    assert CONFIGURED not in masked
    assert "eyJ" not in masked
    assert "A" * 40 not in masked


def test_prose_about_bearers_is_left_alone() -> None:
    assert filtered("the bearer of this card").getMessage() == "the bearer of this card"


def test_configured_secrets_are_remembered_when_an_app_is_set_up() -> None:
    build_app(OktaHooks())

    assert SECRET in redaction.known_secrets()
    assert SECRET not in filtered(f"x {SECRET} y").getMessage()


def test_short_configured_values_are_not_masked_by_value() -> None:
    remember_secrets([b"abc"])

    assert "abc" not in redaction.known_secrets()


def test_a_calls_values_are_masked_while_it_runs() -> None:
    token = mask_call_values(("4815162342", "+15550100", "12"))
    try:
        masked = filtered("sent 4815162342 to +15550100 (12 tries)").getMessage()
    finally:
        unmask_call_values(token)

    assert masked == f"sent {MASK} to {MASK} (12 tries)"
    assert filtered("sent 4815162342").getMessage() == "sent 4815162342"


# --- time and size ------------------------------------------------------------------------------

#: Units that repeat into text the patterns have the most work on: key words in one long run,
#: key words split by the characters keys may hold, separators, quotes and credentials.
ADVERSARIAL = {
    "a run of key words": "token",
    "key words and dashes": "token-",
    "key words before a separator": "token_password=",
    "quoted keys without values": "'password':",
    "unclosed quotes": "password='x",
    "JWT starts": "eyJ-",
    "bearers": "bearer ",
    "a mixture": "tokenpassword" * 9 + " secret: " + "x" * 30 + ' "token": eyJabcd.efgh \u00e9 ',
}

# Timed in a child process, so that a pattern gone quadratic fails the test instead of
# holding the suite (1 MB of the old patterns took hours), in CPU time, the best of five,
# so that a busy machine does not pass for a slow pattern.
_TIMING_SCRIPT = """
import json, sys, time
from flask_okta_hooks import redaction
redaction.MAX_TEXT = 2_000_000  # the patterns themselves, unbounded by the cut
units = json.loads(sys.argv[1])
best = {}
for name, unit in units.items():
    for size in (200_000, 1_000_000):
        text = (unit * (size // len(unit) + 1))[:size]
        runs = []
        for _ in range(5):
            started = time.process_time()
            redaction.redact_text(text)
            runs.append(time.process_time() - started)
        best[f"{name} {size}"] = min(runs)
print(json.dumps(best))
"""


def test_redaction_takes_time_linear_in_the_text() -> None:
    try:
        child = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
            [sys.executable, "-c", _TIMING_SCRIPT, json.dumps(ADVERSARIAL)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("redacting 200 KB and 1 MB of adversarial text took over two minutes")
    timings = json.loads(child.stdout)

    for name in ADVERSARIAL:
        small, large = timings[f"{name} 200000"], timings[f"{name} 1000000"]
        # Five times the text: linear takes about 5x, quadratic 25x.
        assert large < 10 * max(small, 1e-4), (name, small, large)


def test_text_past_the_bound_is_cut_at_a_space_and_not_logged() -> None:
    head = "x" * (redaction.MAX_TEXT - 50)
    text = f"{head} {CONFIGURED[:-1]}{CONFIGURED[-1]} password=hunter2-canary"

    masked = filtered("%s", text).getMessage()

    assert masked.startswith(head)
    assert len(masked) <= redaction.MAX_TEXT
    assert masked.endswith(f" <{len(text) - len(head)} characters not logged>")
    for part in (CONFIGURED[:4], "hunter2"):
        assert part not in masked


def test_a_long_run_without_spaces_is_not_logged_at_all() -> None:
    assert (
        redact_text("a" * (redaction.MAX_TEXT + 1))
        == f" <{redaction.MAX_TEXT + 1} characters not logged>"
    )


# --- line breaks and exceptions ---------------------------------------------------------------


def test_line_breaks_are_escaped() -> None:
    masked = filtered("user %s", "ann\r\nINFO fake line\u2028").getMessage()

    assert masked == "user ann\\r\\nINFO fake line\\u2028"


def test_exception_text_is_masked_and_the_exception_dropped() -> None:
    try:
        raise ValueError(f"password=pw-canary with {CONFIGURED}")
    except ValueError:
        rec = filtered("failed", exc_info=sys.exc_info())

    assert rec.exc_info is None
    assert rec.exc_text is not None
    assert "pw-canary" not in rec.exc_text
    assert CONFIGURED not in rec.exc_text
    assert "Traceback" in rec.exc_text
    assert "\n" in rec.exc_text  # a traceback keeps its lines


def test_a_broken_format_string_keeps_the_template() -> None:
    rec = filtered("password=%s and %s", "only-one")

    assert rec.getMessage() == f"password={MASK} and %s"


def test_the_filter_is_on_the_extension_logger_once_an_app_is_set_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    build_app(OktaHooks())
    build_app(OktaHooks())
    logger = logging.getLogger("flask_okta_hooks")
    caplog.set_level(logging.INFO, logger="flask_okta_hooks")

    logger.info("call with password=%s", "pw-canary")

    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    assert "pw-canary" not in caplog.text


def test_redact_text_can_keep_line_breaks() -> None:
    assert redact_text("a\nb", one_line=False) == "a\nb"


# --- the guard on responses -------------------------------------------------------------------


def token_call() -> TokenHookRequest:
    return TokenHookRequest.from_payload(sample("token.request.json"))


@pytest.mark.parametrize("value", [CONFIGURED, BEARER, BEARER.split()[1]])
def test_debug_context_refuses_secrets(value: str) -> None:
    with pytest.raises(ResponseRuleError) as caught:
        token_call().respond().debug(note=value)

    assert caught.value.rules == ("secret_in_debug_context",)
    assert value not in str(caught.value)


def test_debug_context_refuses_secrets_in_hand_built_bodies() -> None:
    body = {"debugContext": {"note": CONFIGURED}}

    assert [v.rule for v in TokenHookResponse.check(token_call(), body)] == [
        "secret_in_debug_context"
    ]


def test_debug_context_takes_ordinary_values() -> None:
    response = token_call().respond().debug(rule="tiering", version=3, ms=1.5, ok=True)

    assert response.to_dict()["debugContext"]["rule"] == "tiering"


def test_debug_context_refuses_the_calls_password() -> None:
    payload = sample("password-import.request.json")
    payload["data"]["context"]["credential"]["password"] = "pw-canary-9"
    call = PasswordImportHookRequest.from_payload(payload)

    with pytest.raises(ResponseRuleError, match="secret_in_debug_context"):
        call.respond().unverified().debug(echo=call.password.reveal())


def test_debug_context_and_errors_refuse_the_calls_phone_number_and_code() -> None:
    payload = sample("telephony.request.json")
    payload["data"]["messageProfile"].update(phoneNumber="+15550100999", otpCode="918273")
    call = TelephonyHookRequest.from_payload(payload)

    with pytest.raises(ResponseRuleError, match="secret_in_debug_context"):
        call.respond().debug(to="+15550100999")
    with pytest.raises(ResponseRuleError, match="secret_in_error"):
        call.respond().error("could not send 918273 to the user")
    call.respond().error("The code could not be sent.")  # generic text is fine
