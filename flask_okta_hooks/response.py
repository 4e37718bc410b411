"""What every hook response has: ``commands``, ``error``, ``debugContext``, and their rules.

A response is bound to the request it answers, so its helpers can check at the call site
what only the request knows (which tokens are minted, which claims exist). The same
checks run once more over the finished body before it leaves (:meth:`HookResponse.check`),
which also covers bodies built by hand and lets tools check any body against Okta's rules.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from .errors import HookRequestError, ResponseRuleError, Violation
from .redaction import contains_secret, looks_secret
from .request import HookRequest

#: Members Okta reads from a response body; anything else is a mistake.
RESPONSE_MEMBERS = frozenset({"commands", "error", "debugContext"})
_CAUSE_MEMBERS = {
    "errorSummary": "error_summary",
    "reason": "reason",
    "locationType": "location_type",
    "location": "location",
    "domain": "domain",
}
#: Limits on ``debugContext``, which Okta copies into its System Log for admins to read.
DEBUG_MAX_KEYS = 20
DEBUG_MAX_KEY = 64
DEBUG_MAX_VALUE = 256
#: Request secrets shorter than this are not looked for inside ``error`` texts, where a
#: short value would match ordinary words.
MIN_SECRET_IN_TEXT = 6

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class ErrorCause:
    """One entry of ``error.errorCauses``.

    ``location`` is a path into the request, e.g. ``data.userProfile.email``; the Sign-In
    Widget shows the cause next to that field for registration hooks.
    """

    error_summary: str
    reason: str | None = None
    location_type: str | None = None
    location: str | None = None
    domain: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The cause in Okta's wire format, without members that are not set."""
        return {
            wire: getattr(self, attr)
            for wire, attr in _CAUSE_MEMBERS.items()
            if getattr(self, attr) is not None
        }


class HookResponse:
    """Base of the response helpers; one subclass per hook type.

    Helpers return the response itself, so calls chain::

        return call.respond().add_access_claim("tier", "gold").debug(rule="tiering")
    """

    #: The request class this response answers.
    request_class: ClassVar[type[HookRequest]]
    #: The command types Okta accepts from this hook type.
    command_types: ClassVar[frozenset[str]] = frozenset()
    #: Whether Okta reads the body of a 200. Where it does not (event hooks), a 2xx only
    #: acknowledges the call and the body should be empty.
    reads_body: ClassVar[bool] = True
    #: What an empty 204 means to Okta, in words (for documentation and tools).
    empty_meaning: ClassVar[str] = "No change: Okta keeps its default outcome."
    #: Statuses this hook type's endpoint answers besides the common ones, and when.
    extra_statuses: ClassVar[Mapping[int, str]] = {}
    #: The refusal a call gets when its handler fails, instead of :meth:`safe_outcome`.
    #: ``None`` where a safe outcome exists (inline hooks: what Okta does on a timeout).
    #: Set where the handler's job is to take the call on (event hooks): after a failure
    #: no 2xx would be true, and the refusal, a 503, has Okta send the call once more.
    failure_refusal: ClassVar[type[HookRequestError] | None] = None

    def __init__(self, request: HookRequest) -> None:
        if not isinstance(request, self.request_class):
            raise TypeError(f"{type(self).__name__} answers a {self.request_class.__name__}")
        self._request = request
        self._commands: list[dict[str, Any]] = []
        self._error: dict[str, Any] | None = None
        self._debug: dict[str, Scalar] = {}

    @property
    def request(self) -> HookRequest:
        """The request this response answers."""
        return self._request

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The commands so far, in Okta's wire format (a copy)."""
        return [dict(command) for command in self._commands]

    def error(self, summary: str | None = None, *causes: ErrorCause) -> Self:
        """Return Okta's ``error`` object. What Okta does with it depends on the hook type.

        ``summary`` may be shown to end users or client applications: keep it generic and
        free of personal data.
        """
        error: dict[str, Any] = {}
        if summary is not None:
            error["errorSummary"] = summary
        if causes:
            error["errorCauses"] = [cause.to_dict() for cause in causes]
        self._raise_if(_check_error(error, "error", self._request.masked_values()))
        self._error = error
        return self

    def debug(self, **values: Scalar) -> Self:
        """Add ``debugContext`` entries, which Okta copies into its System Log.

        Only small scalar values are accepted (a decision code, a version, a latency);
        never put personal data or secrets here: a value equal to a configured secret or
        to a secret of the request, or one that looks like a bearer token, is refused.
        """
        merged = {**self._debug, **values}
        secrets = self._request.masked_values()
        self._raise_if(_check_debug_context(merged, "debugContext", secrets))
        self._raise_if(check_finite(merged, "debugContext"))
        self._debug = merged
        return self

    def to_dict(self) -> dict[str, Any]:
        """The body in Okta's wire format; members without content are left out."""
        body: dict[str, Any] = {}
        if self._commands:
            body["commands"] = self.commands
        if self._error is not None:
            body["error"] = dict(self._error)
        if self._debug:
            body["debugContext"] = dict(self._debug)
        return body

    def violations(self) -> list[Violation]:
        """Every way this response breaks Okta's rules.

        Commands, ``error`` and ``debugContext`` were checked as they were added, so only
        the rules that span the whole body remain to check here.
        """
        return self._check_body(self._request, self.to_dict())

    # --- building blocks for subclasses ---------------------------------------------------

    def _add_command(self, command_type: str, value: Any) -> Self:
        command = {"type": command_type, "value": value}
        where = f"commands[{len(self._commands)}]"
        self._raise_if(self._check_command(self._request, command, where))
        self._raise_if(check_finite(value, where))
        self._commands.append(command)
        return self

    @staticmethod
    def _raise_if(violations: list[Violation]) -> None:
        if violations:
            raise ResponseRuleError(violations)

    # --- Okta's rules ----------------------------------------------------------------------

    @classmethod
    def check(cls, request: HookRequest, body: Any) -> list[Violation]:
        """Every way ``body`` breaks Okta's rules for this hook type (empty when it is fine).

        ``body`` is a response in wire format, e.g. ``response.to_dict()`` or a dict a
        handler built by hand.
        """
        if type(body) is not dict:
            return [Violation("body_shape", "", "a response body is a JSON object")]
        violations = [
            Violation("unknown_member", name, f"Okta reads only {sorted(RESPONSE_MEMBERS)}")
            for name in body
            if name not in RESPONSE_MEMBERS
        ]
        commands = body.get("commands", [])
        if type(commands) is not list:
            violations.append(Violation("commands_shape", "commands", "commands is an array"))
            commands = []
        for index, command in enumerate(commands):
            where = f"commands[{index}]"
            if type(command) is not dict or set(command) != {"type", "value"}:
                violations.append(
                    Violation("command_shape", where, 'a command is {"type": ..., "value": ...}')
                )
            elif command["type"] not in cls.command_types:
                violations.append(
                    Violation(
                        "command_type",
                        where,
                        f"{command['type']!r} is not a command of this hook type; "
                        f"use one of {sorted(cls.command_types)}",
                    )
                )
            else:
                violations += cls._check_command(request, command, where)
        if "error" in body or "debugContext" in body:
            secrets = request.masked_values()
            if "error" in body:
                violations += _check_error(body["error"], "error", secrets)
            if "debugContext" in body:
                violations += _check_debug_context(body["debugContext"], "debugContext", secrets)
        return violations + check_finite(body, "") + cls._check_body(request, body)

    @classmethod
    def _check_command(
        cls, request: HookRequest, command: dict[str, Any], where: str
    ) -> list[Violation]:
        """Rules for one command of a known type; subclasses check its ``value``."""
        return []

    @classmethod
    def _check_body(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        """Rules that span several members (e.g. commands that must come in pairs)."""
        return []

    @classmethod
    def empty_outcome(cls, request: HookRequest) -> HookResponse | None:
        """What a handler returning ``None`` stands for, where the table allows it.

        ``None`` (the default) means an empty 204, which Okta reads as "keep the default".
        A subclass returns an explicit response when that default cannot be trusted.
        """
        return None

    @classmethod
    def safe_outcome(cls, request: HookRequest) -> HookResponse | None:
        """What to answer when the handler fails: by default an empty 204.

        Subclasses return the outcome Okta itself would choose on a timeout, delivered
        at once; ``None`` means an empty 204. Not used where :attr:`failure_refusal` is set.
        """
        return None

    @classmethod
    def fallback_violations(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        """Why ``body`` may not be sent in place of a failed handler's answer.

        A failure policy's answer must never grant what only a working handler may grant
        (a password import's ``VERIFIED``); subclasses name such bodies here.
        """
        return []


def _check_error(error: Any, where: str, secrets: tuple[str, ...] = ()) -> list[Violation]:
    def bad(message: str) -> list[Violation]:
        return [Violation("error_shape", where, message)]

    if type(error) is not dict:
        return bad("error is an object")
    if not set(error) <= {"errorSummary", "errorCauses"}:
        return bad("error holds only errorSummary and errorCauses")
    if "errorSummary" in error and type(error["errorSummary"]) is not str:
        return bad("errorSummary is a string")
    causes = error.get("errorCauses", [])
    if type(causes) is not list:
        return bad("errorCauses is an array")
    for cause in causes:
        if type(cause) is not dict or not set(cause) <= set(_CAUSE_MEMBERS):
            return bad(f"an error cause is an object with members among {list(_CAUSE_MEMBERS)}")
        if any(type(value) is not str for value in cause.values()):
            return bad("the members of an error cause are strings")
    texts = [error.get("errorSummary", ""), *(v for cause in causes for v in cause.values())]
    long_secrets = [secret for secret in secrets if len(secret) >= MIN_SECRET_IN_TEXT]
    if any(contains_secret(text, long_secrets) for text in texts if text):
        return [
            Violation(
                "secret_in_error",
                where,
                "error texts reach users, clients and Okta's System Log: they must not "
                "hold a secret or a credential",
            )
        ]
    return []


def _check_debug_context(debug: Any, where: str, secrets: tuple[str, ...] = ()) -> list[Violation]:
    def bad(message: str) -> list[Violation]:
        return [Violation("debug_context", where, message)]

    if type(debug) is not dict:
        return bad("debugContext is an object")
    if len(debug) > DEBUG_MAX_KEYS:
        return bad(f"debugContext holds at most {DEBUG_MAX_KEYS} entries")
    for key, value in debug.items():
        if not isinstance(key, str) or not 0 < len(key) <= DEBUG_MAX_KEY:
            return bad(f"debugContext keys are strings of 1 to {DEBUG_MAX_KEY} characters")
        if not (value is None or isinstance(value, bool | int | float | str)):
            return bad("debugContext values are strings, numbers, booleans or null")
        if isinstance(value, str) and len(value) > DEBUG_MAX_VALUE:
            return bad(f"debugContext strings are at most {DEBUG_MAX_VALUE} characters")
        if isinstance(value, str) and (value in secrets or looks_secret(value)):
            # The message never quotes the value: it is the secret.
            return [
                Violation(
                    "secret_in_debug_context",
                    f"{where}.{key}",
                    "Okta copies debugContext into its System Log: no secrets, "
                    "credentials or bearer tokens",
                )
            ]
    return []


_CONTAINERS = frozenset({dict, list, tuple})


def check_finite(value: Any, where: str) -> list[Violation]:
    """A violation when ``value`` holds NaN or an infinity, which JSON cannot represent."""
    kind = type(value)
    if kind is float:
        return [] if math.isfinite(value) else _non_finite(where)
    if kind not in _CONTAINERS:
        return []
    # Only containers go on the stack: most values are leaves, checked where they are.
    stack = [value]
    while stack:
        node = stack.pop()
        for item in node.values() if type(node) is dict else node:
            kind = type(item)
            if kind is float:
                if not math.isfinite(item):
                    return _non_finite(where)
            elif kind in _CONTAINERS:
                stack.append(item)
    return []


def _non_finite(where: str) -> list[Violation]:
    return [Violation("non_finite_number", where, "NaN and infinities are not JSON")]


def check_choice(
    value: Any,
    key: str,
    choices: Collection[str],
    where: str,
    *,
    shape_rule: str,
    value_rule: str,
) -> list[Violation]:
    """Rules for a value of the form ``{key: <one of choices>}``, such as a verdict."""
    options = " or ".join(f'{{"{key}": "{choice}"}}' for choice in choices)
    if type(value) is not dict or set(value) != {key}:
        return [Violation(shape_rule, f"{where}.value", f"the value is {options}")]
    if value[key] not in choices:
        allowed = " or ".join(choices)
        return [Violation(value_rule, f"{where}.value.{key}", f"{key} is {allowed}")]
    return []


def check_profile(value: Any, where: str) -> list[Violation]:
    """Rules for a profile update: a non-empty object keyed by attribute names."""
    if type(value) is not dict or not value:
        return [
            Violation(
                "profile_shape", f"{where}.value", "the value is a non-empty object of attributes"
            )
        ]
    if not all(isinstance(name, str) and name for name in value):
        return [
            Violation("invalid_name", f"{where}.value", "attribute names are non-empty strings")
        ]
    return []
