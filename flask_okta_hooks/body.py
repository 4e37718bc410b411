"""Reading and parsing a hook request body, strictly and within limits.

RFC 8259 JSON in UTF-8 only: no BOM, no ``NaN``/``Infinity``, no duplicate keys, no lone
surrogates, no integers beyond 64 bits, nesting no deeper than the configured limit
whatever the Python version. Every failure is a :class:`~.errors.HookRequestError`, so
no input can turn into a 500.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import orjson
from werkzeug.http import parse_options_header

from .config import Settings
from .errors import (
    DuplicateKeys,
    EmptyBody,
    HookRequestError,
    InvalidJSON,
    PayloadTooLarge,
    TooComplex,
    TooDeep,
    UnsupportedMediaType,
)

JSON_MIMETYPE = "application/json"
_ESCAPES = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURAL = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_STRINGS = re.compile(rb'"[^"]*"')
_STRUCTURAL = re.compile(rb'[\[\]{}"\\]')
_DEPTH_SCAN_BYTES = 64 * 1024
# orjson reads integers from -2**63 to 2**64 - 1 as integers and longer ones as floats,
# losing digits; every integer it turns into a float has at least 19 digits. Mapping
# digits to "0" and the rest to " " finds such a run many times faster than a regex.
_DIGITS_ONLY = bytes(ord("0") if chr(byte).isdigit() else ord(" ") for byte in range(128)) + (
    b" " * 128
)
_LONG_DIGIT_RUN = b"0" * 19
_INTEGER_RANGE = range(-(2**63), 2**64)
# Such a float is 9.2e18 or more in size. orjson 3.11.7 and later write those as
# "9.223372036854776e+18", older ones without the "+"; where this orjson writes the "+",
# a value written back shows such a float by an "e+" and a digit, found from the "+"
# signs (a quick byte search), unless it holds too many "+" to look at each.
_EXPONENT_PLUS = all(
    re.fullmatch(rb"-?[0-9.]+e\+[0-9]+", orjson.dumps(size))
    for size in (2.0**64, -(2.0**63), 1e308)
)
_PLUS_SIGNS_LOOKED_AT = 8
_E = ord("e")
_DIGIT_CODES = range(ord("0"), ord("9") + 1)


def check_content_headers(environ: dict[str, Any]) -> None:
    """Accept only uncompressed ``application/json`` (charset, if given, must be UTF-8)."""
    encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type == JSON_MIMETYPE:
        return
    mimetype, options = parse_options_header(content_type)
    charset = options.get("charset", "utf-8").lower()
    if mimetype.lower() != JSON_MIMETYPE or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read the request body, never more than ``limit`` bytes.

    Works with a ``Content-Length`` and with chunked bodies (``wsgi.input_terminated``);
    a declared or actual size over the limit raises :class:`PayloadTooLarge`. Whatever
    goes wrong while reading (a malformed length, broken chunk framing, a client gone
    mid-body) is a :class:`HookRequestError`: the server's own exceptions vary.
    """
    declared = environ.get("CONTENT_LENGTH", "")
    # isdigit() alone admits digits such as "²" that int() refuses.
    if declared and not (declared.isascii() and declared.isdigit()):
        raise HookRequestError("The Content-Length header is not a number.")
    if declared and int(declared) > limit:
        raise PayloadTooLarge
    if declared:
        wanted = int(declared)
    elif environ.get("wsgi.input_terminated"):
        wanted = limit + 1  # one byte past the limit tells a body over it
    else:
        return b""  # neither a length nor chunks: WSGI says there is no body
    try:
        data = _read_up_to(environ["wsgi.input"], wanted)
    except Exception:  # the server's parse errors, a dropped connection, a timeout
        raise HookRequestError("The request body could not be read.") from None
    if len(data) > limit:
        raise PayloadTooLarge
    if declared and len(data) != wanted:
        raise HookRequestError("The request body ended before its declared length.")
    return data


def _read_up_to(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``: fewer only at its end (a read may return less)."""
    data = stream.read(size)
    if len(data) < size and data:
        parts = [data]
        received = len(data)
        while received < size:
            part = stream.read(size - received)
            if not part:
                break
            parts.append(part)
            received += len(part)
        data = b"".join(parts)
    return data  # type: ignore[no-any-return]


def parse_json(body: bytes, settings: Settings) -> Any:
    """Parse ``body`` as strict JSON and enforce the structural limits of ``settings``."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not body.strip():
            raise EmptyBody from None
        if "depth" in str(exc) or _nesting_exceeds(body, settings.max_depth):
            raise TooDeep from None
        raise InvalidJSON from None
    # Written back with indents, the value shows its nesting depth in its indentation,
    # and still holds the colons that the duplicate-key proof counts.
    try:
        text: bytes | None = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (255 levels)
        text = None
    limit = settings.max_depth
    if _indented_deeper(text, limit) if text is not None else _deeper_than(body, limit):
        raise TooDeep
    # Commas plus brackets bound the member count: the exact count is for big bodies only.
    if len(body) > settings.max_members:
        containers = body.count(b"{") + body.count(b"[")
        if body.count(b",") + containers > settings.max_members:
            _check_members(value, settings.max_members)
    if text is None or _may_repeat_keys(body, text):
        _reject_duplicate_keys(body)
    if len(body) > settings.max_string:
        _check_string_lengths(value, settings.max_string)
    if _may_hold_long_integers(body, text):  # rare: mostly ids in strings
        json.loads(body, parse_int=_integer_within_64_bits)
    return value


def _may_hold_long_integers(body: bytes, written: bytes | None) -> bool:
    """Cheap proof that ``body`` holds no integer beyond 64 bits; ``True`` means "check
    properly". ``written`` is the parsed value written back, or ``None``."""
    if _EXPONENT_PLUS and written is not None:
        # JSON written back neither starts nor ends with a "+": both neighbours exist.
        plus = written.find(b"+")
        for _ in range(_PLUS_SIGNS_LOOKED_AT):
            if plus < 0:
                return False
            if written[plus - 1] == _E and written[plus + 1] in _DIGIT_CODES:
                return True
            plus = written.find(b"+", plus + 1)
    return _LONG_DIGIT_RUN in body.translate(_DIGITS_ONLY)


def _integer_within_64_bits(text: str) -> int:
    number = int(text)
    if number not in _INTEGER_RANGE:
        raise InvalidJSON
    return number


def _nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether the start of a body that failed to parse nests deeper than ``limit``.

    Only the failure path runs this, over a bounded prefix, so that a truncated deep
    body is reported as too deep rather than as merely invalid.
    """
    depth = 0
    in_string = escaped = False
    for match in _STRUCTURAL.finditer(body, 0, _DEPTH_SCAN_BYTES):
        char = match.group()
        if in_string:
            if escaped:
                escaped = False
            elif char == b"\\":
                escaped = True
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif char in b"]}":
            depth -= 1
    return False


def _indented_deeper(indented: bytes, limit: int) -> bool:
    """Whether a value written with ``OPT_INDENT_2`` nests deeper than ``limit``.

    The members of a container at depth ``d`` are written on lines of their own indented
    by ``2d`` spaces (a string holds no raw line break, so every line break is layout). A
    container at depth ``limit + 1`` is a member of one at depth ``limit``: a line
    indented by ``2 * limit`` that opens a container, after its key in an object.
    """
    margin, pattern = _indentation(limit)
    # Most bodies have no line that far in: one plain search settles it.
    return margin in indented and pattern.search(indented) is not None


@functools.lru_cache(maxsize=8)
def _indentation(limit: int) -> tuple[bytes, re.Pattern[bytes]]:
    margin = b"\n" + b" " * (2 * limit)
    # Possessive repeats: a string that turns out not to be a key is not scanned again.
    key = rb'"(?:[^"\\]++|\\.)*+": '
    return margin, re.compile(re.escape(margin) + rb"(?:%s)?[\[{]" % key)


def _deeper_than(body: bytes, limit: int) -> bool:
    """Whether a body that parsed as JSON nests deeper than ``limit``.

    With escapes and then everything but brackets and quotes removed, each string is a
    plain quoted run to drop; what remains is balanced brackets, and each pass that
    removes the innermost pairs takes one level off. No walk over the parsed value, and
    at most ``limit`` passes of plain byte replacements.
    """
    if b"\\" in body:
        body = _ESCAPES.sub(b"", body)
    skeleton = body.translate(None, _NOT_STRUCTURAL)
    # Adjacent quotes close one string and open the next, or enclose one without
    # brackets: dropping them keeps every bracket inside a string inside quotes.
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _STRINGS.sub(b"", skeleton)
    for _ in range(limit):
        if not skeleton:
            return False
        # Marking pairs first keeps a pair that only forms once an inner one is gone,
        # such as the braces of "{[]}", for the next pass.
        skeleton = skeleton.replace(b"[]", b"0").replace(b"{}", b"0").replace(b"0", b"")
    return bool(skeleton)


def _check_members(root: Any, limit: int) -> None:
    """Count object members and array items, iteratively (no stack depth involved)."""
    members = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            members += len(node)
            stack.extend(node.values())
        elif type(node) is list:
            members += len(node)
            stack.extend(node)
        if members > limit:
            raise TooComplex


def _may_repeat_keys(body: bytes, written: bytes) -> bool:
    """Cheap proof that no object repeats a key; ``True`` means "check properly".

    ``written`` is the parsed value written back as JSON. The parser keeps the last of
    repeated keys, so writing the value back drops each earlier repeat, with the colon
    that follows its key. Every other colon is in a string, and without ``\\u`` escapes
    a colon is written as itself in both texts (no other escape makes one), so equal
    colon counts prove that no key was dropped.
    """
    if b"\\" in body and b"\\u" in body:  # the one-byte search first: it is far quicker
        return True
    return body.count(b":") != written.count(b":")


def _reject_duplicate_keys(body: bytes) -> None:
    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise DuplicateKeys
        return result

    # The body already parsed and passed the depth limit, so this second parse is safe.
    json.loads(body, object_pairs_hook=pairs_hook)


def _check_string_lengths(root: Any, limit: int) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            if any(len(key) > limit for key in node):
                raise TooComplex
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node)
        elif type(node) is str and len(node) > limit:
            raise TooComplex
