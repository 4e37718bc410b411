"""Assertions that read like the domain, for handler results and HTTP answers alike.

Every assertion takes what a test has at hand:

* a typed response (``call.respond()...``) or ``None`` returned by a handler called
  directly (``None`` stands for the empty 204 the blueprint sends);
* a dict in Okta's wire format returned by a handler;
* a :class:`HookResult` from :class:`OktaClient`, or any Flask test response.

The answer must be the handler's own: on a :class:`HookResult` whose call got the
endpoint's failure outcome, every assertion fails and says why (the broken rules, or
what the handler raised).

A failure says what was expected and shows what came::

    AssertionError: expected the access token to get claim 'tier' = 'gold'
      got: HTTP 200 {"commands":[{"type":"com.okta.access.patch","value":[...]}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .. import pointer
from ..constants import (
    ACCESS_PATCH,
    ACTION_UPDATE,
    APP_USER_PROFILE_UPDATE,
    ASSERTION_PATCH,
    IDENTITY_PATCH,
    PROGRESSIVE_PROFILE_UPDATE,
    TELEPHONY_ACTION,
    USER_PROFILE_UPDATE,
    USER_UPDATE,
)
from ..errors import HookRequestError, Violation
from ..failure import Failure
from ..hook_types import EVENTS, HOOK_TYPES, HookType
from ..hooks.events import EventHookRequest
from ..hooks.password_import import PasswordImportHookRequest
from ..hooks.telephony import DeliveryStatus
from ..hooks.token import Token
from ..hooks.user_import import UserImportHookRequest
from ..request import HookRequest
from ..response import HookResponse
from ..samples import request_from_payload
from ..simulator import HookResult, verified_type
from ..verdict import OKTA_ON_FAILURE, okta_verdict, parse_body, verification_verdict


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final = _Unset()
#: How long a body may be in a failure message before it is cut.
_SHOWN_BODY = 1500


@dataclass(frozen=True)
class Observed:
    """What a hook answered, whatever form the test holds it in."""

    status: int
    body: Any
    """The parsed JSON body; ``None`` when the answer is empty."""
    request: HookRequest | None = None
    source: str = "HTTP"
    failure: Failure | None = None
    """Why the handler's answer was replaced by the failure outcome, when it was."""

    def __str__(self) -> str:
        if self.body is None:
            shown = "(empty body)"
        else:
            shown = json.dumps(self.body, separators=(",", ":"), default=str)
            if len(shown) > _SHOWN_BODY:
                shown = shown[:_SHOWN_BODY] + "...(cut)"
        return f"{self.source} {self.status} {shown}"

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The well-formed commands of the body, in order."""
        commands = self.body.get("commands") if isinstance(self.body, dict) else None
        if not isinstance(commands, list):
            return []
        return [c for c in commands if isinstance(c, dict) and "type" in c]

    def values(self, command_type: str) -> list[Any]:
        """The values of the commands of ``command_type``, in order."""
        return [c.get("value") for c in self.commands if c["type"] == command_type]

    @property
    def error(self) -> dict[str, Any] | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error if isinstance(error, dict) else None


def observe(response: Any, request: HookRequest | Mapping[str, Any] | None = None) -> Observed:
    """Read a handler's result or an HTTP answer into one shape (see the module doc)."""
    typed_request = _typed(request)
    if response is None:
        return Observed(204, None, typed_request, source="handler returned None:")
    if isinstance(response, HookResponse):
        return Observed(200, response.to_dict(), typed_request or response.request, "handler")
    if isinstance(response, HookResult):
        return Observed(
            response.status_code,
            parse_body(response.data),
            typed_request or response.request,
            failure=response.failure,
        )
    if isinstance(response, Mapping):
        return Observed(200, dict(response), typed_request, source="handler dict")
    if hasattr(response, "status_code") and hasattr(response, "get_data"):
        return Observed(response.status_code, parse_body(response.get_data()), typed_request)
    raise TypeError(
        f"cannot read a hook answer from a {type(response).__name__}: pass a hook response, "
        f"None, a dict, a HookResult or a test response"
    )


def _typed(request: HookRequest | Mapping[str, Any] | None) -> HookRequest | None:
    if request is None or isinstance(request, HookRequest):
        return request
    return request_from_payload(request)


def _fail(expected: str, observed: Observed, detail: str = "") -> AssertionError:
    extra = f"\n  {detail}" if detail else ""
    return AssertionError(f"expected {expected}\n  got: {observed}{extra}")


def _from_handler(observed: Observed, expected: str) -> None:
    """Every assertion is about the handler's own answer, never the failure outcome the
    extension sent in its place (a 204, a denial ...), however alike they look."""
    __tracebackhide__ = True
    failure = observed.failure
    if failure is None:
        return
    lines = [f"the handler's answer was replaced by the failure outcome ({failure})"]
    lines += [f"- {violation}" for violation in failure.violations]
    if not failure.violations:
        lines.append(
            "run the app under test with TESTING = True (or OKTA_HOOKS_STRICT = True) "
            "to have the handler's error raised in the test"
        )
    lines.append("to check the failure outcome itself, pass result.response (the HTTP answer)")
    raise _fail(expected, observed, "\n  ".join(lines))


def _answered(observed: Observed, expected: str) -> None:
    """Domain assertions need the handler's answer, one Okta reads: a 200, or an empty 204."""
    __tracebackhide__ = True
    _from_handler(observed, expected)
    if observed.status not in (200, 204):
        raise _fail(expected, observed, "Okta reads only a 200 with JSON, or an empty 204")


# --- Okta's verdict ------------------------------------------------------------------------


def hook_type_of(request: HookRequest) -> HookType:
    """The hook type whose request class ``request`` is."""
    for hook_type in HOOK_TYPES:
        if isinstance(request, hook_type.request_class):
            return hook_type
    raise LookupError(f"no hook type serves {type(request).__name__}")


def assert_okta_accepts(
    response: Any, request: HookRequest | Mapping[str, Any] | None = None
) -> None:
    """The answer is one Okta takes: a 200 within its rules, or a 204 where allowed.

    ``request`` (typed, or the call in wire format) is needed unless ``response`` knows
    it (a typed response or a :class:`HookResult`).
    """
    __tracebackhide__ = True
    observed = observe(response, request)
    if observed.request is None:
        raise ValueError("pass the request the response answers: Okta's rules depend on it")
    hook_type = hook_type_of(observed.request)
    _from_handler(observed, f"an answer Okta accepts for a {hook_type.slug} hook")
    try:
        violations = okta_verdict(hook_type, observed.request, observed.status, observed.body)
    except HookRequestError as exc:
        violations = [Violation("request", "", f"the request is not a valid call: {exc.message}")]
    if violations:
        listed = "\n  ".join(f"- {v}" for v in violations)
        raise _fail(f"an answer Okta accepts for a {hook_type.slug} hook", observed, listed)


def assert_empty_response(response: Any) -> None:
    """The answer is empty: a 204 (or a handler's ``None``), or an empty typed response."""
    __tracebackhide__ = True
    observed = observe(response)
    _from_handler(observed, "an empty response")
    if isinstance(response, HookResponse | Mapping):
        if observed.body != {}:
            raise _fail("an empty response", observed)
        return
    if observed.status != 204 or observed.body is not None:
        raise _fail("an empty 204", observed)


def assert_no_commands(response: Any) -> None:
    """The answer asks Okta to change nothing: no commands (an error may be present)."""
    __tracebackhide__ = True
    observed = observe(response)
    _answered(observed, "no commands")
    if observed.commands:
        raise _fail("no commands", observed)


def assert_command(response: Any, command_type: str, value: Any = _UNSET) -> None:
    """A command of ``command_type`` is present (with ``value``, when given)."""
    __tracebackhide__ = True
    observed = observe(response)
    _answered(observed, f"a {command_type} command")
    values = observed.values(command_type)
    if not values or (value is not _UNSET and value not in values):
        shown = "" if value is _UNSET else f" with value {value!r}"
        raise _fail(f"a {command_type} command{shown}", observed)


def assert_error(
    response: Any,
    summary: str | Any = _UNSET,
    *,
    reason: str | Any = _UNSET,
    location: str | Any = _UNSET,
) -> None:
    """The answer carries Okta's ``error`` object (with that summary, or a cause with
    that reason and location, when given)."""
    __tracebackhide__ = True
    observed = observe(response)
    _answered(observed, "an error object")
    error = observed.error
    if error is None:
        raise _fail("an error object", observed)
    if summary is not _UNSET and error.get("errorSummary") != summary:
        raise _fail(f"an error with errorSummary {summary!r}", observed)
    if reason is not _UNSET or location is not _UNSET:
        wanted = {"reason": reason, "location": location}
        wanted = {k: v for k, v in wanted.items() if v is not _UNSET}
        if not any(_matches(cause, wanted) for cause in _causes(error)):
            raise _fail(f"an error cause with {wanted}", observed)


def _causes(error: Mapping[str, Any]) -> list[dict[str, Any]]:
    causes = error.get("errorCauses")
    return [c for c in causes if isinstance(c, dict)] if isinstance(causes, list) else []


def _matches(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(actual.get(name) == value for name, value in wanted.items())


# --- event hooks ---------------------------------------------------------------------------


def assert_verification_answered(response: Any, challenge: str | None = None) -> None:
    """The endpoint passed Okta's verification: a 200 echoing the challenge as Okta wants.

    ``response`` is the :class:`HookResult` of :meth:`OktaClient.verify`
    (its challenge is the default) or any test response of an event hook GET.

    Example::

        assert_verification_answered(okta_client.verify("3d1e0c9a"), "3d1e0c9a")
    """
    __tracebackhide__ = True
    if challenge is None:
        challenge = response.challenge if isinstance(response, HookResult) else None
        if challenge is None:
            raise ValueError("pass the challenge the verification GET sent")
    hook_type = response.hook_type if isinstance(response, HookResult) else verified_type()
    observed = observe(response)
    violations = verification_verdict(hook_type, challenge, observed.status, observed.body)
    if violations:
        listed = "\n  ".join(f"- {v}" for v in violations)
        raise _fail(f"the verification challenge {challenge!r} echoed", observed, listed)


def assert_events_accepted(response: Any) -> None:
    """Okta counts the event hook delivery as delivered: an empty 204 (or 200).

    Anything else is a failed delivery, which Okta sends once more at most (a 4xx:
    never), so its events may be lost. The handlers run after this answer; wait for
    them with :meth:`OktaClient.drain` (``deliver`` does by default).

    Example::

        assert_events_accepted(okta_client.deliver(log_event("user.lifecycle.suspend")))
    """
    __tracebackhide__ = True
    observed = observe(response)
    expected = "the event hook delivery to be accepted (an empty 204)"
    _from_handler(observed, expected)
    if observed.request is not None and not isinstance(observed.request, EventHookRequest):
        raise _fail(expected, observed, "the call sent is not an event hook delivery")
    if observed.status not in (200, 204) or observed.body not in (None, {}):
        hook_type = EVENTS if observed.request is None else hook_type_of(observed.request)
        raise _fail(expected, observed, OKTA_ON_FAILURE[hook_type.okta_fails])


# --- token ---------------------------------------------------------------------------------

_PATCH_OF_TOKEN = {Token.ID: IDENTITY_PATCH, Token.ACCESS: ACCESS_PATCH}


def _claim_path(name: str | Sequence[str | int]) -> str:
    return pointer.join("/claims", [name] if isinstance(name, str) else list(name))


def _operations(observed: Observed, command_type: str) -> list[dict[str, Any]]:
    return [
        op
        for value in observed.values(command_type)
        if isinstance(value, list)
        for op in value
        if isinstance(op, dict)
    ]


def _assert_operation(
    response: Any, command_type: str, op: str, path: str, value: Any, expected: str
) -> None:
    __tracebackhide__ = True
    observed = observe(response)
    _answered(observed, expected)
    for operation in _operations(observed, command_type):
        same_value = value is _UNSET or operation.get("value") == value
        if operation.get("op") == op and operation.get("path") == path and same_value:
            return
    raise _fail(expected, observed, f"looked for {op} {path} in {command_type}")


def _token_name(token: Token | str) -> str:
    return "ID" if Token(token) is Token.ID else "access"


def assert_claim_added(
    response: Any, *, token: Token | str, name: str | Sequence[str | int], value: Any = _UNSET
) -> None:
    """The response adds claim ``name`` (or a path into a claim) to ``token``.

    Example::

        assert_claim_added(resp, token=Token.ACCESS, name="tier", value="gold")
        assert_claim_added(resp, token=Token.ID, name=("airports", "-"), value="LHR")
    """
    __tracebackhide__ = True
    shown = "" if value is _UNSET else f" = {value!r}"
    _assert_operation(
        response,
        _PATCH_OF_TOKEN[Token(token)],
        "add",
        _claim_path(name),
        value,
        f"the {_token_name(token)} token to get claim {name!r}{shown}",
    )


def assert_claim_replaced(
    response: Any, *, token: Token | str, name: str | Sequence[str | int], value: Any = _UNSET
) -> None:
    """The response replaces claim ``name`` of ``token`` (with ``value``, when given)."""
    __tracebackhide__ = True
    shown = "" if value is _UNSET else f" with {value!r}"
    _assert_operation(
        response,
        _PATCH_OF_TOKEN[Token(token)],
        "replace",
        _claim_path(name),
        value,
        f"claim {name!r} of the {_token_name(token)} token to be replaced{shown}",
    )


def assert_claim_removed(
    response: Any, *, token: Token | str, name: str | Sequence[str | int]
) -> None:
    """The response removes claim ``name`` from ``token``."""
    __tracebackhide__ = True
    _assert_operation(
        response,
        _PATCH_OF_TOKEN[Token(token)],
        "remove",
        _claim_path(name),
        _UNSET,
        f"claim {name!r} to be removed from the {_token_name(token)} token",
    )


def assert_lifetime_set(response: Any, *, token: Token | str, seconds: int) -> None:
    """The response sets the lifetime of ``token`` to ``seconds``."""
    __tracebackhide__ = True
    _assert_operation(
        response,
        _PATCH_OF_TOKEN[Token(token)],
        "replace",
        "/token/lifetime/expiration",
        seconds,
        f"the {_token_name(token)} token's lifetime to be set to {seconds} s",
    )


# --- SAML ----------------------------------------------------------------------------------


def _saml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def assert_attribute_added(response: Any, name: str, values: Any = _UNSET) -> None:
    """The response adds the SAML attribute statement ``name`` (with ``values``, as text).

    Example::

        assert_attribute_added(resp, "groups", ["Everyone", "Admins"])
    """
    __tracebackhide__ = True
    observed = observe(response)
    expected = f"SAML attribute {name!r} to be added"
    _answered(observed, expected)
    path = pointer.join("/claims", [name])
    for operation in _operations(observed, ASSERTION_PATCH):
        if operation.get("op") != "add" or operation.get("path") != path:
            continue
        if values is _UNSET:
            return
        wanted = [_saml_text(v) for v in (values if isinstance(values, list | tuple) else [values])]
        statement = operation.get("value")
        items = statement.get("attributeValues") if isinstance(statement, dict) else None
        got = [item.get("value") for item in items or [] if isinstance(item, dict)]
        if got == wanted:
            return
        raise _fail(f"{expected} with values {wanted!r}", observed, f"its values are {got!r}")
    raise _fail(expected, observed)


def assert_assertion_replaced(
    response: Any, path: str | Sequence[str | int], value: Any = _UNSET
) -> None:
    """The response replaces an element of the SAML assertion.

    ``path`` is the patch path (``"/subject/nameId"``) or its segments, names unescaped
    (``("claims", "http://example.com/role", "attributeValues", 0, "value")``).
    """
    __tracebackhide__ = True
    pointer_path = path if isinstance(path, str) else pointer.join("", list(path))
    shown = "" if value is _UNSET else f" with {value!r}"
    _assert_operation(
        response, ASSERTION_PATCH, "replace", pointer_path, value, f"{pointer_path} replaced{shown}"
    )


# --- registration --------------------------------------------------------------------------


def _decisions(observed: Observed) -> list[Any]:
    return [v.get("registration") for v in observed.values(ACTION_UPDATE) if isinstance(v, dict)]


def assert_registration_allowed(response: Any) -> None:
    """The registration (or profile update) goes on: no error object, no DENY."""
    __tracebackhide__ = True
    observed = observe(response)
    _answered(observed, "the registration to be allowed")
    if observed.error is not None or "DENY" in _decisions(observed):
        raise _fail("the registration to be allowed", observed)


def assert_registration_denied(
    response: Any, *, field: str | None = None, message: str | None = None
) -> None:
    """The registration (or profile update) is denied: a DENY action or an error object.

    ``field`` requires an error cause shown next to that form field (``location``
    ``data.userProfile.<field>``); ``message`` the text shown (the cause's when ``field``
    is given, else the error summary or any cause).

    Example::

        assert_registration_denied(resp, field="email", message="Use your work email")
    """
    __tracebackhide__ = True
    observed = observe(response)
    expected = "the registration to be denied" + (f" on field {field!r}" if field else "")
    _answered(observed, expected)
    error = observed.error
    if error is None and "DENY" not in _decisions(observed):
        raise _fail(expected, observed)
    causes = _causes(error or {})
    if field is not None:
        # Okta's own progressive-profile sample names the field under userProfile too.
        places = (f"data.userProfile.{field}", f"data.userProfileUpdate.{field}")
        causes = [c for c in causes if c.get("location") in places]
        if not causes:
            raise _fail(expected, observed, f"no error cause at data.userProfile.{field}")
    if message is not None:
        texts = [c.get("errorSummary") for c in causes]
        if field is None and error is not None:
            texts.append(error.get("errorSummary"))
        if message not in texts:
            raise _fail(f"{expected} with message {message!r}", observed)


def _updates(observed: Observed, command_types: Sequence[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for command in observed.commands:
        if command["type"] in command_types and isinstance(command.get("value"), dict):
            merged.update(command["value"])
    return merged


def _assert_attributes(
    response: Any, command_types: Sequence[str], what: str, attributes: Mapping[str, Any]
) -> None:
    __tracebackhide__ = True
    observed = observe(response)
    expected = f"{what} to be updated with {dict(attributes)!r}"
    _answered(observed, expected)
    updated = _updates(observed, command_types)
    missing = {k: v for k, v in attributes.items() if k not in updated or updated[k] != v}
    if not updated or missing:
        raise _fail(expected, observed, f"updated: {updated!r}")


def assert_profile_updated(
    response: Any, attributes: Mapping[str, Any] | None = None, /, **more: Any
) -> None:
    """The Okta user profile gets these attributes: a registration's or progressive
    profile's profile update, or a user import's Okta profile update."""
    __tracebackhide__ = True
    _assert_attributes(
        response,
        (USER_PROFILE_UPDATE, PROGRESSIVE_PROFILE_UPDATE),
        "the user profile",
        {**(attributes or {}), **more},
    )


# --- password import -----------------------------------------------------------------------


def _verdicts(observed: Observed) -> list[Any]:
    return [v.get("credential") for v in observed.values(ACTION_UPDATE) if isinstance(v, dict)]


def assert_password_verified(response: Any) -> None:
    """The imported password is accepted: one explicit ``VERIFIED`` and no error."""
    __tracebackhide__ = True
    observed = observe(response)
    _answered(observed, "the password to be VERIFIED")
    if _verdicts(observed) != ["VERIFIED"] or observed.error is not None:
        raise _fail("the password to be VERIFIED", observed)


def assert_password_unverified(response: Any) -> None:
    """The imported password is rejected: an explicit ``UNVERIFIED``, or an empty answer
    where the call's default verdict is ``UNVERIFIED`` (Okta's default)."""
    __tracebackhide__ = True
    observed = observe(response)
    expected = "the password to be UNVERIFIED"
    _answered(observed, expected)
    verdicts = _verdicts(observed)
    if verdicts == ["UNVERIFIED"]:
        return
    if not verdicts and observed.error is None and observed.body in (None, {}):
        request = observed.request
        default = (
            request.default_verdict if isinstance(request, PasswordImportHookRequest) else None
        )
        if request is None or default == "UNVERIFIED":
            return
        raise _fail(expected, observed, f"an empty answer means the call's default: {default}")
    raise _fail(expected, observed)


# --- user import ---------------------------------------------------------------------------


def _results(observed: Observed) -> list[Any]:
    return [v.get("result") for v in observed.values(ACTION_UPDATE) if isinstance(v, dict)]


def assert_user_created(response: Any) -> None:
    """Okta creates a new user: an explicit ``CREATE_USER``, or no action where the
    call's default is ``CREATE_USER``."""
    __tracebackhide__ = True
    observed = observe(response)
    expected = "a new Okta user (CREATE_USER)"
    _answered(observed, expected)
    results = _results(observed)
    if results == ["CREATE_USER"]:
        return
    request = observed.request
    if (
        not results
        and isinstance(request, UserImportHookRequest)
        and request.default_result == "CREATE_USER"
    ):
        return
    raise _fail(expected, observed)


def assert_user_linked(response: Any, user_id: str | None = None) -> None:
    """Okta links the app user to an existing user: ``LINK_USER`` and the user's id
    (``user_id``, when given)."""
    __tracebackhide__ = True
    observed = observe(response)
    expected = (
        "a link to " + (f"Okta user {user_id!r}" if user_id else "an Okta user") + " (LINK_USER)"
    )
    _answered(observed, expected)
    ids = [v.get("id") for v in observed.values(USER_UPDATE) if isinstance(v, dict)]
    if _results(observed) != ["LINK_USER"] or len(ids) != 1:
        raise _fail(
            expected, observed, "LINK_USER comes with one com.okta.user.update naming the user"
        )
    if user_id is not None and ids[0] != user_id:
        raise _fail(expected, observed, f"linked to {ids[0]!r}")


def assert_app_user_profile_updated(
    response: Any, attributes: Mapping[str, Any] | None = None, /, **more: Any
) -> None:
    """The imported app user's profile gets these attributes."""
    __tracebackhide__ = True
    _assert_attributes(
        response, (APP_USER_PROFILE_UPDATE,), "the app user profile", {**(attributes or {}), **more}
    )


# --- telephony -----------------------------------------------------------------------------


def assert_telephony_status(
    response: Any,
    status: DeliveryStatus | str = DeliveryStatus.SUCCESSFUL,
    *,
    provider: str | Any = _UNSET,
    transaction_id: str | Any = _UNSET,
    metadata: str | Any = _UNSET,
) -> None:
    """A delivery result with ``status`` (and provider, transaction id, metadata if given).

    Example::

        assert_telephony_status(resp, DeliveryStatus.SUCCESSFUL, provider="ACME-SMS")
    """
    __tracebackhide__ = True
    observed = observe(response)
    wanted = {
        "status": str(status),
        "provider": provider,
        "transactionId": transaction_id,
        "transactionMetadata": metadata,
    }
    wanted = {k: v for k, v in wanted.items() if v is not _UNSET}
    expected = f"a delivery result {wanted}"
    _answered(observed, expected)
    results = [
        r
        for value in observed.values(TELEPHONY_ACTION)
        if isinstance(value, list)
        for r in value
        if isinstance(r, dict)
    ]
    if observed.error is not None or not any(_matches(r, wanted) for r in results):
        raise _fail(expected, observed)


def assert_telephony_fallback(response: Any) -> None:
    """Okta sends the code itself: the answer carries an error object and no result."""
    __tracebackhide__ = True
    observed = observe(response)
    expected = "the delivery handed back to Okta (an error object, no result)"
    _answered(observed, expected)
    if observed.error is None or observed.commands:
        raise _fail(expected, observed)
