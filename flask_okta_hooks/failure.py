"""What a call gets when its handler fails: reason codes and failure policies.

A handler fails when it raises, overruns the deadline, returns something that is not a
response of its hook type, or builds a response that breaks Okta's rules, is not JSON or
is too large. The call then gets an answer chosen by the endpoint's failure policy,
never a 500 and never a traceback:

``"safe"`` (the default)
    The hook type's :meth:`~flask_okta_hooks.HookResponse.safe_outcome`: what Okta itself
    would do on a timeout, answered at once. Token, SAML and user import: an empty 204;
    registration: a denial with a generic message; password import: ``UNVERIFIED``;
    telephony: an ``error``, so Okta sends the code through its own providers now.
    Event hooks have no safe answer (:attr:`~flask_okta_hooks.HookResponse.failure_refusal`):
    an endpoint that failed to take a delivery on answers ``503 events_not_accepted``,
    so Okta sends it once more; strict mode does not raise there, the 503 hides nothing.
``"retry"``
    Hook types Okta retries once (all but token and telephony): a 503 when the failure
    is passing (deadline, a dependency's timeout, no free worker), so Okta calls again;
    the safe outcome otherwise.
Named alternatives of a hook type (:attr:`~flask_okta_hooks.HookType.fallbacks`)
    ``"deny"`` for token and SAML hooks used as a gate (an ``error``: no token, no
    assertion), ``"allow"`` for registration, ``"error"`` for user import.
A callable ``(call) -> response | None``
    Your own answer. It runs on the request thread after the failure, so it must be quick
    and must not wait on the dependency that just failed. Its answer is checked like a
    handler's; if it raises or its answer is unusable, the safe outcome is sent.

No policy can make a password import answer ``VERIFIED``: a response class refuses
outcomes through :meth:`~flask_okta_hooks.HookResponse.fallback_violations`.

Example::

    @hooks.token(on_failure="deny")       # a policy gate: no token when the check fails
    def gate(call: TokenHookRequest) -> TokenHookResponse | None: ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from .errors import (
    HandlerResultError,
    HookRequestError,
    ResponseRuleError,
    TemporarilyUnavailable,
    Violation,
)
from .request import HookRequest
from .response import HookResponse

if TYPE_CHECKING:
    from .config import Settings
    from .hook_types import HookType

logger = logging.getLogger("flask_okta_hooks")

#: What an ``on_failure`` callable returns, like a handler: a response, a body, or None.
FallbackResult = HookResponse | Mapping[str, Any] | None
Fallback = Callable[[Any], FallbackResult]
#: Turns a handler result into the bytes to send (``None``: an empty 204); see ``render``.
Render = Callable[["HookType", HookRequest, Any, "Settings | bool", frozenset[str]], "bytes | None"]

SAFE = "safe"
RETRY = "retry"
#: Where the WSGI environ of a call that got its failure outcome holds its :class:`Failure`,
#: so that an in-process caller (the test kit, ``simulate``) can say what went wrong.
FAILURE_ENVIRON_KEY = "flask_okta_hooks.failure"


class Reason(StrEnum):
    """Why a call got its failure outcome; logged and sent with the signals."""

    HANDLER_ERROR = "handler_error"
    """The handler raised."""
    DEPENDENCY_TIMEOUT = "dependency_timeout"
    """The handler raised :class:`TimeoutError`: a dependency did not answer in time."""
    DEADLINE = "deadline"
    """The handler was still running at the deadline."""
    SATURATED = "saturated"
    """Every worker was busy, so the handler was not started."""
    UNUSABLE_RESULT = "unusable_result"
    """The handler returned something its hook type cannot send."""
    RULE_VIOLATION = "rule_violation"
    """The response breaks Okta's rules for the hook type."""
    NOT_JSON = "not_json"
    """The response holds values JSON cannot represent (NaN, objects)."""
    TOO_LARGE = "too_large"
    """The response is not under Okta's 256 KB limit."""

    @property
    def passing(self) -> bool:
        """Whether the same call may well succeed if Okta sends it again."""
        return self in _PASSING


_PASSING = frozenset({Reason.DEADLINE, Reason.DEPENDENCY_TIMEOUT, Reason.SATURATED})
_JSON_RULES = frozenset({"not_json", "non_finite_number"})


@dataclass(frozen=True, slots=True)
class Failure:
    """A handler failure: a :class:`Reason` and a detail safe to log.

    ``detail`` is an exception class name or rule identifiers, never a message: messages
    can quote request data.
    """

    reason: Reason
    detail: str | None = None
    violations: tuple[Violation, ...] = field(default=(), compare=False, repr=False)
    """The broken rules, messages included, when a response broke Okta's rules. Never
    logged: a message can quote the call."""

    def __str__(self) -> str:
        return self.reason.value if self.detail is None else f"{self.reason}:{self.detail}"

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """Classify an exception raised by a handler or by the checks of its result."""
        if isinstance(exc, ResponseRuleError):
            rules = tuple(dict.fromkeys(exc.rules))
            if "response_too_large" in rules:
                reason = Reason.TOO_LARGE
            elif _JSON_RULES.intersection(rules):
                reason = Reason.NOT_JSON
            else:
                reason = Reason.RULE_VIOLATION
            return cls(reason, ",".join(rules[:5]), exc.violations)
        if isinstance(exc, HandlerResultError):
            return cls(Reason.UNUSABLE_RESULT)
        if isinstance(exc, TimeoutError):
            return cls(Reason.DEPENDENCY_TIMEOUT, type(exc).__name__)
        return cls(Reason.HANDLER_ERROR, type(exc).__name__)


class Outcome(NamedTuple):
    """What a call is answered: a body (``None``: an empty 204) or a refusal."""

    body: bytes | None
    failure: Failure | None = None
    refusal: HookRequestError | None = None


class FailurePolicy:
    """How an endpoint answers when its handler fails; see the module doc.

    Built from the ``on_failure`` argument of a decorator or of
    :meth:`~flask_okta_hooks.OktaHooks.mount` by :meth:`resolve`.
    """

    def __init__(self, name: str, hook_type: HookType, fallback: Fallback | None) -> None:
        self.name = name
        self.hook_type = hook_type
        self._fallback = fallback

    def __repr__(self) -> str:
        return f"<FailurePolicy {self.name!r} for {self.hook_type.slug} hooks>"

    @classmethod
    def resolve(cls, hook_type: HookType, on_failure: str | Fallback | None) -> FailurePolicy:
        """The policy named or given by ``on_failure`` (``None``: ``"safe"``).

        Raises :class:`ValueError` for a name the hook type does not offer.
        """
        named = dict(hook_type.fallbacks)
        if on_failure is None or on_failure == SAFE:
            return cls(SAFE, hook_type, None)
        if on_failure == RETRY and hook_type.okta_retries:
            return cls(RETRY, hook_type, None)
        if isinstance(on_failure, str) and on_failure in named:
            return cls(on_failure, hook_type, named[on_failure])
        if callable(on_failure):
            name = getattr(on_failure, "__qualname__", type(on_failure).__qualname__)
            return cls(name, hook_type, on_failure)
        offered = [SAFE, *named, *([RETRY] if hook_type.okta_retries else [])]
        raise ValueError(
            f"on_failure of a {hook_type.slug} hook is one of {offered} or a callable "
            f"(call) -> response | None, not {on_failure!r}"
            + ("" if hook_type.okta_retries else "; Okta never retries this hook type")
        )

    def outcome(self, call: HookRequest, failure: Failure, render: Render) -> Outcome:
        """The answer to ``call`` after ``failure``."""
        if self.name == RETRY and failure.reason.passing:
            return Outcome(None, failure, TemporarilyUnavailable())
        if self._fallback is not None:
            try:
                return Outcome(self._fallback_body(call, render), failure)
            except Exception as exc:
                logger.error(
                    "okta hook failure policy failed, sending the safe outcome: "
                    "hook=%s policy=%s reason=%s",
                    self.hook_type.slug,
                    self.name,
                    Failure.of(exc),
                )
        return safe_outcome(self.hook_type, call, failure)

    def _fallback_body(self, call: HookRequest, render: Render) -> bytes | None:
        assert self._fallback is not None
        result = self._fallback(call)
        response_class = self.hook_type.response_class
        if isinstance(result, response_class):
            body: Any = result.to_dict()
        elif isinstance(result, Mapping) and not isinstance(result, HookResponse):
            body = dict(result)
        else:
            body = None
        if body is not None:
            response_class._raise_if(response_class.fallback_violations(call, body))
        return render(self.hook_type, call, result, True, frozenset())


def safe_outcome(hook_type: HookType, call: HookRequest, failure: Failure) -> Outcome:
    """The hook type's safe outcome after ``failure``: its refusal where it has one,
    else the body of its safe response (``None``: an empty 204)."""
    response_class = hook_type.response_class
    if response_class.failure_refusal is not None:
        return Outcome(None, failure, response_class.failure_refusal())
    safe = response_class.safe_outcome(call)
    return Outcome(None if safe is None else orjson.dumps(safe.to_dict()), failure)
