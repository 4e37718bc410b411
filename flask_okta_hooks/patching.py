"""JSON Patch (RFC 6902) applied to a copy of a request's document, operation by operation.

Okta applies a patch's operations in order, so one may build on another: add an object
claim, then a member of it; add a claim, then replace it; remove it, then add it again.
The checks of a patch therefore look at the document as the earlier operations left it.
Most operations add a claim or statement and read nothing of the document; the helpers
make a view only for one that does, replaying the operations before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import pointer


class Document:
    """A copy-on-write view of a JSON object: operations copy the containers on their
    path before changing them, so the request's data and the handler's values are never
    changed."""

    __slots__ = ("_owned", "root")

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root: dict[str, Any] = dict(root)
        # Containers this view made, by id, held so that no id is reused while it counts.
        self._owned: dict[int, Any] = {id(self.root): self.root}

    def get(self, segments: Sequence[str]) -> tuple[Any, int]:
        """The node at ``segments`` and how many segments were found (all, or the index
        of the first missing one)."""
        node: Any = self.root
        if not segments:
            return node, 0
        for depth, segment in enumerate(segments):
            child = _child(node, segment)
            if child is _MISSING:
                return node, depth
            node = child
        return node, len(segments)

    def apply(self, op: str, segments: Sequence[str], value: Any = None) -> None:
        """Apply ``op`` at ``segments``, checked by the caller; a missing parent is made
        as an object (SAML adds a statement where the request had no claims)."""
        node: Any = self.root
        for segment in segments[:-1]:
            child = _child(node, segment)
            if child is _MISSING:
                child = {}
            elif id(child) in self._owned:
                node = child
                continue
            else:
                child = dict(child) if type(child) is dict else list(child)
            self._owned[id(child)] = child
            _set(node, segment, child)
            node = child
        last = segments[-1]
        if type(node) is dict:
            if op == "remove":
                node.pop(last, None)
            else:
                node[last] = value
        elif op == "remove":
            del node[int(last)]
        elif op == "replace":
            node[int(last)] = value
        elif last == "-":
            node.append(value)
        else:
            node.insert(int(last), value)


def replayed(
    root: Mapping[str, Any],
    operations: Iterable[Mapping[str, Any]],
    segments_of: Callable[[str], Sequence[str] | None],
) -> Document:
    """A view of ``root`` with ``operations``, already checked, applied in order.

    ``segments_of`` turns an operation's path into segments below ``root``, or ``None``
    for a path the view does not hold (a token's lifetime).
    """
    document = Document(root)
    for operation in operations:
        segments = segments_of(operation["path"])
        if segments:
            document.apply(operation["op"], segments, operation.get("value"))
    return document


_MISSING: Any = object()


def _child(node: Any, segment: str) -> Any:
    if type(node) is dict:
        return node.get(segment, _MISSING)
    if type(node) in (list, tuple) and pointer.is_index(segment) and int(segment) < len(node):
        return node[int(segment)]
    return _MISSING


def _set(node: Any, segment: str, child: Any) -> None:
    if type(node) is dict:
        node[segment] = child
    else:
        node[int(segment)] = child
