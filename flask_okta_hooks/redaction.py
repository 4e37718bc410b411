"""Keep secrets out of log records, with one filter at the extension's logger.

The extension itself logs by allowlist (hook type, ``eventId``, outcome, status, latency),
so the filter is a safety net: for whatever reaches the ``flask_okta_hooks`` logger, and
for any log handler an app puts it on. It masks

* values under sensitive keys (:data:`SENSITIVE_KEYS`, matched case-insensitively inside
  key names, so ``accessToken`` and ``client_secret`` count), in structured arguments
  and in ``key=value`` / ``"key": value`` text;
* values that are secrets whatever their key: the auth header values configured on any
  :class:`~flask_okta_hooks.OktaHooks` of the process, ``Bearer`` credentials,
  JWT-shaped strings, and while a hook call runs its password, one-time code, message
  text and phone number (:meth:`~flask_okta_hooks.HookRequest.masked_values`), in
  records written from the handler's thread or its worker;
* CR and LF, so a logged value cannot forge a log line (CWE-117).

Exception text is masked the same way and the exception object dropped from the record,
so a handler that logs through this logger cannot hand an error tracker its frame locals.

Example (redact the app's own log lines too)::

    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from typing import Any, Final

LOGGER_NAME: Final = "flask_okta_hooks"
MASK: Final = "<redacted>"
#: Parts of key names whose values are never logged.
SENSITIVE_KEYS: Final = (
    "password",
    "credential",
    "otpcode",
    "msgtemplate",
    "authorization",
    "token",
    "secret",
    "phonenumber",
)
#: Shorter configured values are not masked by value: they would mask ordinary words.
MIN_MASKED_LENGTH = 8
#: How deep structured arguments are walked; deeper values are masked whole.
MAX_DEPTH = 8

#: Text beyond this many characters is not logged: every pattern is linear, and this
#: bounds the time one record can take (the patterns hold the GIL while they run).
MAX_TEXT = 64 * 1024

_KEY_WORDS = "|".join(SENSITIVE_KEYS)
_SENSITIVE_KEY = re.compile(rf"(?i)(?:{_KEY_WORDS})")
# A key (bare or quoted) holding a sensitive word, a separator, then one value: a quoted
# string, a flat object or array, or a bare word. Linear time: a key starts only where a
# run of word characters starts, the lookahead scans that run once for a word, and every
# repeat is possessive, so no run is scanned again from a later position.
_KEY_VALUE = re.compile(
    rf"""(?ix)
    (?<![\w-])
    (?P<key>(?P<q>["']?)(?=[\w-]*?(?:{_KEY_WORDS}))[\w-]++(?P=q))
    (?P<sep>\s*+[:=]\s*+)
    (?:'(?:[^'\\]++|\\.)*+'|"(?:[^"\\]++|\\.)*+"|\{{[^{{}}]*+\}}|\[[^\[\]]*+\]|[^\s,;&}})\]]++)
    """
)
# RFC 6750 token68 credentials; the length floor keeps prose such as "bearer of" out.
_BEARER = re.compile(r"(?i)\bbearer\s++[\w.~+/-]{16,}+=*+")
# Starting only where a run starts keeps "eyJ-eyJ-..." from being scanned once per "eyJ".
_JWT = re.compile(r"(?<![\w-])eyJ[\w-]{4,}+\.[\w-]{4,}+\.[\w-]*+")
# The end of a key, bare or quoted, right before its separator: a sensitive word in one
# of these is what every _KEY_VALUE match needs.
_KEY_BEFORE_SEPARATOR = re.compile(r"""(?<![\w-])[\w-]++(?=["']?\s*+[:=])""")
_PLAIN_SCALARS = frozenset({int, float, bool, type(None)})
_LINE_BREAKS = str.maketrans({"\r": "\\r", "\n": "\\n", "\u2028": "\\u2028", "\u2029": "\\u2029"})

#: Per-call values are masked only from this length: shorter ones match ordinary text.
MIN_CALL_VALUE = 4

_known: frozenset[str] = frozenset()
_known_lock = threading.Lock()
_call_values: ContextVar[tuple[str, ...]] = ContextVar("okta_hooks_call_values", default=())


def remember_secrets(values: Iterable[bytes | str]) -> None:
    """Mask ``values`` wherever they appear in a log record or a ``debugContext``.

    The blueprint calls this with the configured auth header values; values shorter than
    :data:`MIN_MASKED_LENGTH` characters are left out.
    """
    global _known
    texts = {v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values}
    texts = {text for text in texts if len(text) >= MIN_MASKED_LENGTH}
    if texts <= _known:
        return
    with _known_lock:
        _known = _known | texts


def mask_call_values(values: tuple[str, ...]) -> Token[tuple[str, ...]] | None:
    """Mask ``values`` in the records written from now on in this context (and in contexts
    copied from it, such as the worker that runs the handler); undo with
    :func:`unmask_call_values`."""
    values = tuple(value for value in values if len(value) >= MIN_CALL_VALUE)
    return _call_values.set(values) if values else None


def unmask_call_values(token: Token[tuple[str, ...]] | None) -> None:
    """Stop masking what :func:`mask_call_values` started masking."""
    if token is not None:
        _call_values.reset(token)


def known_secrets() -> frozenset[str]:
    """The configured secrets remembered so far."""
    return _known


def looks_secret(text: str) -> bool:
    """Whether ``text`` is a configured secret, a ``Bearer`` credential or a JWT."""
    return text in _known or bool(_BEARER.search(text) or _JWT.search(text))


def contains_secret(text: str, extra: Iterable[str] = ()) -> bool:
    """Whether ``text`` holds a configured secret, one of ``extra``, or a credential."""
    if _BEARER.search(text) or _JWT.search(text):
        return True
    return any(secret in text for secret in (*_known, *extra) if secret)


def redact_text(text: str, *, one_line: bool = True) -> str:
    """``text`` with sensitive ``key=value`` pairs, credentials and secrets masked.

    ``one_line`` escapes line breaks, so a logged value cannot start a forged line. Text
    past :data:`MAX_TEXT` characters is dropped, from the last space before that point, so
    that no word (a secret, perhaps) is cut in two and logged in part.
    """
    if len(text) > MAX_TEXT:
        # Room for the note, so that text cut once is not cut again as part of a message.
        cut = max(text.rfind(" ", 0, MAX_TEXT - 40), 0)
        text = f"{text[:cut]} <{len(text) - cut} characters not logged>"
    if _may_match_patterns(text):
        text = _KEY_VALUE.sub(_mask_pair, text)
        text = _BEARER.sub("Bearer " + MASK, text)
        text = _JWT.sub(MASK, text)
    for secret in (*_known, *_call_values.get()):
        if secret in text:
            text = text.replace(secret, MASK)
    if one_line and not (text.isascii() and "\n" not in text and "\r" not in text):
        text = text.translate(_LINE_BREAKS)
    return text


def _may_match_patterns(text: str) -> bool:
    """Whether the masking patterns could match ``text``, from what every match needs.

    The extension logs one line per call and the filter masks each argument and then the
    message, so the patterns would run several times per call on text they almost never
    match (``hook=token`` has the word but no value after it); these tests cost a fraction
    of that. Text that is not ASCII goes to the patterns: their case-insensitive matching
    also folds some other letters (the long s, the Kelvin sign) onto the words' ASCII
    ones, which ``lower()`` does not.
    """
    if "eyJ" in text or not text.isascii():
        return True
    lowered = text.lower()
    if "bearer" in lowered:
        return True
    return any(_SENSITIVE_KEY.search(key[0]) for key in _KEY_BEFORE_SEPARATOR.finditer(lowered))


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with the values of sensitive keys masked, walking dicts and lists."""
    if isinstance(value, str):
        return redact_text(value)
    if type(value) in _PLAIN_SCALARS:  # most arguments; spares the Mapping check below
        return value
    if depth >= MAX_DEPTH and isinstance(value, Mapping | list | tuple):
        return MASK
    if isinstance(value, Mapping):
        return {
            key: MASK
            if isinstance(key, str) and _SENSITIVE_KEY.search(key)
            else redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item, depth + 1) for item in value)
    return value


def _mask_pair(match: re.Match[str]) -> str:
    return f"{match['key']}{match['sep']}{MASK}"


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in each record it sees (see the module doc).

    It rewrites the record in place and never drops one. Put it on a logger to cover that
    logger's own records, or on a handler to cover every record the handler writes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            args = record.args
            if args:
                if isinstance(args, Mapping):
                    record.args = redact_value(args)
                else:
                    record.args = tuple(redact_value(arg) for arg in args)
            message = record.getMessage()
        except Exception:  # a broken format string: keep the bare template
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text, one_line=False)
            # The exception object holds the frames and their locals; an error tracker
            # reading it would bypass the masking.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text, one_line=False)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, one_line=False)
        return True


_FILTER = RedactingFilter()


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Put the shared :class:`RedactingFilter` on ``logger`` (default: the extension's), once."""
    logger = logger or logging.getLogger(LOGGER_NAME)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return _FILTER
