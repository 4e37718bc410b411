"""Reading and parsing a hook request body, strictly and within limits.

RFC 8259 JSON in UTF-8 only: no BOM, no ``NaN``/``Infinity``, no duplicate keys, no lone
surrogates, no integers beyond 64 bits, nesting no deeper than the configured limit
whatever the Python version. Every failure is a :class:`~.errors.HookRequestError`, so
no input can turn into a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import orjson
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_input_stream

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
_WHITESPACE_BEFORE_COLON = (b" :", b"\n:", b"\r:", b"\t:")
_STRUCTURAL = re.compile(rb'[\[\]{}"\\]')
_DEPTH_SCAN_BYTES = 64 * 1024


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
    a declared or actual size over the limit raises :class:`PayloadTooLarge`.
    """
    try:
        stream = get_input_stream(environ, max_content_length=limit)
        data = stream.read(limit + 1)
    except RequestEntityTooLarge:
        raise PayloadTooLarge from None
    except BadRequest:  # the client sent less than its Content-Length
        raise HookRequestError("The request body ended before its declared length.") from None
    if len(data) > limit:
        raise PayloadTooLarge
    return data


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
    keys = _check_structure(value, settings)
    if keys and _may_repeat_keys(body, keys):
        _reject_duplicate_keys(body)
    if len(body) > settings.max_string:
        _check_string_lengths(value, settings.max_string)
    return value


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


def _check_structure(root: Any, settings: Settings) -> int:
    """Walk the parsed value level by level; return the number of object keys.

    The walk is iterative, so no nesting depth can exhaust the Python stack.
    """
    keys = members = depth = 0
    level = [root] if type(root) is dict or type(root) is list else []
    while level:
        depth += 1
        if depth > settings.max_depth:
            raise TooDeep
        below = []
        for node in level:
            members += len(node)
            children: Iterable[Any] = node
            if type(node) is dict:
                keys += len(node)
                children = node.values()
            for child in children:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
    if members > settings.max_members:
        raise TooComplex
    return keys


def _may_repeat_keys(body: bytes, keys: int) -> bool:
    """Cheap proof that no object repeats a key; ``True`` means "check properly".

    Every key of a JSON object ends in ``"`` followed by optional whitespace and ``:``.
    When no colon in the body is preceded by whitespace, each key therefore contributes
    one ``":`` to the raw text; strings may add more. If the count equals the number of
    keys the parser kept, no key was dropped, so none was repeated.
    """
    if any(pattern in body for pattern in _WHITESPACE_BEFORE_COLON):
        return True
    return body.count(b'":') != keys


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
