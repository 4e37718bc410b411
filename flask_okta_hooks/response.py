"""What every hook response has: ``commands``, ``error``, ``debugContext``, and their rules.

A response is bound to the request it answers, so its helpers can check at the call site
what only the request knows (which tokens are minted, which claims exist). The same
checks run once more over the finished body before it leaves (:meth:`HookResponse.check`),
which also covers bodies built by hand and lets tools check any body against Okta's rules.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

from .constants import MAX_RESPONSE_BYTES
from .errors import HandlerResultError, HookRequestError, ResponseRuleError, Violation
from .redaction import contains_secret
from .request import HookRequest
from .rules import waivable

#: Members Okta reads from a response body; anything else is a mistake.
RESPONSE_MEMBERS = frozenset({"commands", "error", "debugContext"})
_CAUSE_MEMBERS = {
    "errorSummary": "error_summary",
    "reason": "reason",
    "locationType": "location_type",
    "location": "location",
    "domain": "domain",
}
#: Deepest nesting of containers accepted in a handler's result. Okta's answers are
#: shallow; the bound keeps every walk over a result short, and a cyclic result, which
#: would be infinitely deep, is refused as unusable instead of walked forever.
MAX_RESULT_DEPTH: Final = 64
#: Request secrets shorter than this are not looked for inside ``error`` texts, where a
#: short value would match ordinary words.
MIN_SECRET_IN_TEXT = 6

_CONTAINERS = frozenset({dict, list, tuple})


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
    # Empty until a precaution is broken or waived; class defaults spare every response
    # two allocations.
    _precautions: tuple[Violation, ...] = ()
    _waived: frozenset[str] = frozenset()

    def __init__(self, request: HookRequest) -> None:
        if not isinstance(request, self.request_class):
            raise TypeError(f"{type(self).__name__} answers a {self.request_class.__name__}")
        self._request = request
        self._commands: list[dict[str, Any]] = []
        self._error: dict[str, Any] | None = None
        self._debug: dict[str, Any] = {}

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

    def debug(self, **values: Any) -> Self:
        """Add ``debugContext`` entries, which Okta copies into its System Log.

        Values are any JSON values (a decision code, a latency, an object); the whole
        answer stays under Okta's 256 KB. Never put personal data or secrets here: a
        string anywhere in the values that holds a configured secret or a secret of the
        request, or that looks like a bearer token or a JWT, is refused.
        """
        merged = {**self._debug, **values}
        secrets = self._request.masked_values()
        self._refuse(check_finite(merged, "debugContext"))
        self._refuse(_check_debug_context(merged, "debugContext", secrets))
        self._debug = merged
        return self

    def waive(self, *rule_ids: str) -> Self:
        """Send this response even though it breaks the precautions ``rule_ids``.

        A precaution is this package's caution where Okta documents no refusal (see
        :mod:`flask_okta_hooks.rules`); waive one when you know Okta accepts the answer.
        Raises :class:`ValueError` for an id that is not a precaution: what Okta
        documents cannot be waived.
        """
        self._waived = self._waived | waivable(rule_ids)
        return self

    @property
    def waived(self) -> frozenset[str]:
        """The precautions waived for this response."""
        return self._waived

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
        """Every way this response breaks Okta's rules, precautions included.

        Commands, ``error`` and ``debugContext`` were checked as they were added (a broken
        documented rule raised then, a broken precaution was kept), so only the rules
        that span the whole body remain to check here.
        """
        return self._violations(self.to_dict())

    def _violations(self, body: dict[str, Any]) -> list[Violation]:
        """:meth:`violations`, given the body already built."""
        found = self._check_body(self._request, body)
        if self._precautions:
            return list(dict.fromkeys([*self._precautions, *found]))
        return found

    # --- building blocks for subclasses ---------------------------------------------------

    def _add_command(self, command_type: str, value: Any) -> Self:
        command = {"type": command_type, "value": value}
        where = f"commands[{len(self._commands)}]"
        self._refuse(check_finite(value, where))
        self._refuse(self._check_command(self._request, command, where))
        self._commands.append(command)
        return self

    def _refuse(self, violations: list[Violation]) -> None:
        """Raise for the documented rules among ``violations``; keep the precautions,
        which are weighed when the response is sent (a warning, or a raise in strict mode)."""
        if not violations:
            return
        documented = [v for v in violations if not v.precaution]
        if documented:
            raise ResponseRuleError(documented)
        self._precautions = (*self._precautions, *violations)

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
        # First, so that no other check meets a cyclic or absurdly deep value.
        finite = check_finite(body, "")
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
            elif type(command["type"]) is not str or command["type"] not in cls.command_types:
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
        return finite + violations + cls._check_body(request, body)

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
    def shape(message: str) -> list[Violation]:
        return [Violation("error_shape", where, message)]

    if type(error) is not dict:
        return shape("error is an object")
    if not set(error) <= {"errorSummary", "errorCauses"}:
        return shape("error holds only errorSummary and errorCauses")
    if "errorSummary" in error and type(error["errorSummary"]) is not str:
        return shape("errorSummary is a string")
    causes = error.get("errorCauses", [])
    if type(causes) is not list:
        return shape("errorCauses is an array")
    for cause in causes:
        if type(cause) is not dict or not set(cause) <= set(_CAUSE_MEMBERS):
            return shape(f"an error cause is an object with members among {list(_CAUSE_MEMBERS)}")
        if any(type(value) is not str for value in cause.values()):
            return shape("the members of an error cause are strings")
    texts = [error.get("errorSummary", ""), *(v for cause in causes for v in cause.values())]
    long_secrets = _long(secrets)
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


def _long(secrets: tuple[str, ...]) -> list[str]:
    return [secret for secret in secrets if len(secret) >= MIN_SECRET_IN_TEXT]


def _check_debug_context(debug: Any, where: str, secrets: tuple[str, ...] = ()) -> list[Violation]:
    """debugContext is any JSON object (Okta sets no limit but the answer's size); no
    string in it, however deep, may hold a secret. Call :func:`check_finite` on it
    first: the walk here expects a value that is neither cyclic nor too deep."""
    if type(debug) is not dict:
        return [Violation("debug_context", where, "debugContext is an object")]
    long_secrets = _long(secrets)
    for value in scalars(debug):
        if type(value) is str and (value in secrets or contains_secret(value, long_secrets)):
            # The message never quotes the value, nor says where it is: it is the secret.
            return [
                Violation(
                    "secret_in_debug_context",
                    where,
                    "Okta copies debugContext into its System Log: no secrets, "
                    "credentials or bearer tokens",
                )
            ]
    return []


def scalars(value: Any) -> Iterator[Any]:
    """Every value inside ``value`` that is not a dict, list or tuple (dict keys aside).

    Raises :class:`~flask_okta_hooks.errors.HandlerResultError` for a value nested
    deeper than :data:`MAX_RESULT_DEPTH` (a value that contains itself is infinitely
    deep) or holding more values than fit in Okta's 256 KB: such a result is unusable.
    Both bounds keep the walk short whatever the handler returned.
    """
    if type(value) not in _CONTAINERS:
        yield value
        return
    # Every value takes at least two bytes of JSON ("0,"), so a value with more than
    # this many is over Okta's size limit, however often its parts repeat.
    budget = MAX_RESPONSE_BYTES // 2
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_RESULT_DEPTH:
            raise HandlerResultError(
                f"the handler's result is nested deeper than {MAX_RESULT_DEPTH} levels "
                f"(or contains itself)"
            )
        children = node.values() if type(node) is dict else node
        budget -= len(children)
        if budget < 0:
            raise HandlerResultError("the handler's result holds more values than Okta takes")
        for child in children:
            if type(child) in _CONTAINERS:
                stack.append((child, depth + 1))
            else:
                yield child


def check_finite(value: Any, where: str) -> list[Violation]:
    """A violation when ``value`` holds NaN or an infinity, which JSON cannot represent.

    Raises :class:`~flask_okta_hooks.errors.HandlerResultError` for a cyclic, too deep
    or too large value (see :func:`scalars`).
    """
    kind = type(value)
    if kind is float:
        return [] if math.isfinite(value) else _non_finite(where)
    if kind not in _CONTAINERS:
        return []
    for item in scalars(value):
        if type(item) is float and not math.isfinite(item):
            return _non_finite(where)
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
    """Rules for a profile update: an object keyed by attribute names, not empty."""
    if type(value) is not dict:
        return [
            Violation("profile_shape", f"{where}.value", "the value is an object of attributes")
        ]
    if not value:
        return [Violation("empty_profile", f"{where}.value", "the update sets no attribute")]
    if not all(isinstance(name, str) and name for name in value):
        return [
            Violation("invalid_name", f"{where}.value", "attribute names are non-empty strings")
        ]
    return []
