"""JSON Pointer (RFC 6901) paths for Okta's patch commands.

Claim and attribute names are escaped here, never by hand: ``~`` becomes ``~0`` before
``/`` becomes ``~1``, so ``http://example.com/claims/x``, ``a/b`` and ``~`` survive as one
segment. Unescaping reverses the order (``~1`` before ``~0``), so ``~01`` means ``~1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A path segment: a name, or an array position (an index, or ``"-"`` to append).
Segment = str | int

_VALID_ESCAPES = re.compile(r"~(?![01])")


def escape(segment: Segment) -> str:
    """Escape one segment: ``escape("a/b~c") == "a~1b~0c"``; integers become indexes."""
    if isinstance(segment, bool):
        raise TypeError("a path segment is a name or an array index, not a bool")
    if isinstance(segment, int):
        if segment < 0:
            raise ValueError("array indexes start at 0")
        return str(segment)
    return segment.replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    """Reverse :func:`escape` for one segment."""
    return segment.replace("~1", "/").replace("~0", "~")


def join(root: str, segments: Iterable[Segment]) -> str:
    """Build a pointer below ``root``: ``join("/claims", ["a/b", 0]) == "/claims/a~1b/0"``."""
    return root + "".join("/" + escape(segment) for segment in segments)


def split(pointer: str) -> list[str] | None:
    """Split a pointer into unescaped segments; ``None`` if it is not a valid pointer."""
    if not pointer.startswith("/"):
        return None
    if "~" not in pointer:
        return pointer[1:].split("/")
    if _VALID_ESCAPES.search(pointer):
        return None
    return [unescape(part) for part in pointer[1:].split("/")]


def is_index(segment: str) -> bool:
    """Whether ``segment`` is an array index in RFC 6901 form (no sign, no leading zero)."""
    return segment == "0" or (segment.isascii() and segment.isdigit() and segment[0] != "0")
