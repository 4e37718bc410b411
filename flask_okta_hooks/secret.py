"""A wrapper for the secrets Okta hands to a hook: passwords, one-time codes.

Okta sends some values in clear text (the password typed at sign-in, the OTP to deliver).
They are held in a :class:`Secret` whose ``repr`` and ``str`` print a placeholder, so a
log line, a traceback, an error tracker capturing frame locals or a dataclass ``repr``
never shows them. The value comes out only through an explicit :meth:`Secret.reveal`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any, NoReturn, Self

from .fastload import QuickField, unsure

PLACEHOLDER = "<secret>"


class Secret:
    """A string that does not show itself.

    Example::

        password = Secret("hunter2")
        f"{password!r} {password}"     # "Secret(<secret>) <secret>"
        password.reveal()              # "hunter2"
        password.reveal_bytes()        # b"hunter2" (UTF-8), for a hash verifier
        password.matches("hunter2")    # True, compared in constant time

    It cannot be pickled (a cache or a task queue would store the clear text); copies are
    the same object, since it never changes.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a str")
        self._value = value

    def reveal(self) -> str:
        """The clear text. Call it where the value is used, never to log or store it."""
        return self._value

    def reveal_bytes(self) -> bytes:
        """The clear text in UTF-8, as password hash verifiers take it.

        Never raises: a lone surrogate (which no keyboard types, and which the strict JSON
        parser of the blueprint already refuses) is encoded with ``surrogatepass``. The
        result is then not valid UTF-8, so it equals the encoding of no real password and
        a verification against a stored hash simply fails.
        """
        return self._value.encode("utf-8", "surrogatepass")

    def matches(self, candidate: str | bytes) -> bool:
        """Whether the value equals ``candidate``, compared in constant time on bytes."""
        if isinstance(candidate, str):
            candidate = candidate.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(self.reveal_bytes(), candidate)

    def __eq__(self, other: object) -> bool:
        """Secrets with the same value are equal (compared in constant time)."""
        if not isinstance(other, Secret):
            return NotImplemented
        return self.matches(other.reveal_bytes())

    __hash__ = None  # type: ignore[assignment]  # equal values must not reveal a hash

    def __repr__(self) -> str:
        return f"Secret({PLACEHOLDER})"

    def __str__(self) -> str:
        return PLACEHOLDER

    def __format__(self, format_spec: str) -> str:
        return format(PLACEHOLDER, format_spec)

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not pickled: reveal it where it is used instead")


def conceal(root: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    """``root`` with the string (or whole number) at ``path`` wrapped in a :class:`Secret`.

    The objects along the path are copied, never changed, so the caller's data stays as
    it was. Anything else at the path, or a missing path, is left for the schema to judge.
    """
    key, *rest = path
    value = root.get(key)
    if rest:
        if type(value) is not dict:
            return root
        replacement: Any = conceal(value, rest)
    elif type(value) is str or type(value) is int:
        replacement = Secret(str(value))
    else:
        return root
    return root if replacement is value else {**root, key: replacement}


class SecretString(QuickField[Secret]):
    """A JSON string loaded straight into a :class:`Secret` (it is never a plain ``str``).

    A whole number is taken as its decimal text (Okta's own examples send some codes as
    numbers), and a value :func:`conceal` already wrapped is kept. Validation messages are
    fixed texts that never quote the input.
    """

    default_error_messages = {"invalid": "Not a string."}  # noqa: RUF012

    @staticmethod
    def quick_convert(value: Any) -> Any:
        if type(value) is Secret:
            return value
        if type(value) is str or type(value) is int:
            return Secret(str(value))
        return unsure()
