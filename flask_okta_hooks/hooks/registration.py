"""Registration inline hook (``com.okta.user.pre-registration``).

Okta calls it when the Sign-In Widget submits a self-service registration (a new user
signs up) or a progressive profile (a signed-in user is asked for more attributes),
before the user is created or updated. The handler may allow or deny, set profile
attributes, or return an ``error`` whose causes the widget shows next to the form fields.

Two rules shape the whole response: each flow has its own profile command, and once an
``error`` object is present Okta runs no command at all and denies. Okta also denies when
the hook fails or times out, so the safe outcome here is a denial with a generic message.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from ..constants import (
    ACTION_UPDATE,
    PROGRESSIVE_PROFILE_UPDATE,
    REGISTRATION_EVENT,
    USER_PROFILE_UPDATE,
)
from ..errors import InvalidPayload, ResponseRuleError, Violation
from ..lazy import lazy_property
from ..request import (
    OKTA_USER,
    REQUEST_INFO,
    USER_PROFILE,
    HookRequest,
    OktaUser,
    RequestInfo,
    UserProfile,
)
from ..response import ErrorCause, HookResponse, check_choice, check_profile


class RegistrationFlow(StrEnum):
    """The flow a registration hook call is for: the request's ``requestType``."""

    SELF_SERVICE_REGISTRATION = "self.service.registration"
    """A new user signs up; the form's attributes are in ``data.userProfile``."""
    PROGRESSIVE_PROFILE = "progressive.profile"
    """A signed-in user adds attributes; the changes are in ``data.userProfileUpdate``."""

    @property
    def profile_command(self) -> str:
        """The command that sets profile attributes in this flow."""
        if self is RegistrationFlow.PROGRESSIVE_PROFILE:
            return PROGRESSIVE_PROFILE_UPDATE
        return USER_PROFILE_UPDATE


class Decision(StrEnum):
    """The value of ``com.okta.action.update``: ``{"registration": "ALLOW" | "DENY"}``."""

    ALLOW = "ALLOW"
    DENY = "DENY"


_DECISIONS = tuple(decision.value for decision in Decision)
_FLOWS = {flow.value: flow for flow in RegistrationFlow}
_FLOW_BY_PROFILE_COMMAND = {flow.profile_command: flow for flow in RegistrationFlow}
#: Okta never lets a hook set the password; checked without regard to case, to be safe.
_NEVER_SET = "password"

#: What the end user reads when the handler fails: the words Okta itself shows when the
#: hook times out, so a failure here looks like any other temporary failure.
SAFE_OUTCOME_MESSAGES: Mapping[RegistrationFlow, str] = {
    RegistrationFlow.SELF_SERVICE_REGISTRATION: (
        "There was an error creating your account. Please try registering again."
    ),
    RegistrationFlow.PROGRESSIVE_PROFILE: (
        "There was an error updating your profile. Please try again later."
    ),
}


def field_error(attribute: str, message: str, *, reason: str | None = None) -> ErrorCause:
    """An error cause the Sign-In Widget shows next to the form field of ``attribute``.

    Example::

        call.respond().deny(
            "Incorrect email address. Please contact your admin.",
            field_error("email", "Only example.com emails can register.",
                        reason="INVALID_EMAIL_DOMAIN"),
        )

    The location is ``data.userProfile.<attribute>`` in both flows: Okta's own progressive
    profile sample uses that form too, not ``data.userProfileUpdate``.
    """
    if not isinstance(attribute, str) or not attribute:
        raise ValueError("a field error names the profile attribute of its form field")
    return ErrorCause(
        error_summary=message,
        reason=reason,
        location_type="body",
        location=f"data.userProfile.{attribute}",
        domain="end-user",
    )


# --- request ---------------------------------------------------------------------------------


class RegistrationHookRequest(HookRequest):
    """A registration inline hook call, for either flow. Sections are typed when first read.

    Example::

        @hooks.registration
        def screen(call: RegistrationHookRequest) -> RegistrationHookResponse | None:
            email = call.submitted.email or ""
            if call.is_self_service_registration and email.endswith("@blocked.test"):
                return call.respond().deny("Sign-ups from this domain are closed", field="email")
            return None  # 204: Okta goes on without changes
    """

    event_type = REGISTRATION_EVENT
    sections = (
        ("context.request", REQUEST_INFO.schema),
        ("context.user", OKTA_USER.schema),
        ("userProfile", USER_PROFILE.schema),
        ("userProfileUpdate", USER_PROFILE.schema),
    )

    @lazy_property
    def flow(self) -> RegistrationFlow | str:
        """Which flow the call is for (``requestType``). Classic Engine sends none; it only
        has self-service registration. A flow Okta has not documented is the text it sent."""
        if self.request_type is None:
            return RegistrationFlow.SELF_SERVICE_REGISTRATION
        return _FLOWS.get(self.request_type, self.request_type)

    @property
    def is_self_service_registration(self) -> bool:
        """Whether a new user is signing up."""
        return self.flow is RegistrationFlow.SELF_SERVICE_REGISTRATION

    @property
    def is_progressive_profile(self) -> bool:
        """Whether a signed-in user is adding attributes to their profile."""
        return self.flow is RegistrationFlow.PROGRESSIVE_PROFILE

    @lazy_property
    def request_info(self) -> RequestInfo | None:
        """``data.context.request``: the Sign-In Widget's request to Okta."""
        return self._section(REQUEST_INFO, "context", "request")  # type: ignore[no-any-return]

    @lazy_property
    def user_profile(self) -> UserProfile | None:
        """Self-service registration: the attributes the new user submitted
        (``data.userProfile``; never the password)."""
        return self._section(USER_PROFILE, "userProfile")  # type: ignore[no-any-return]

    @lazy_property
    def profile_update(self) -> UserProfile | None:
        """Progressive profile: only the attributes the user is changing
        (``data.userProfileUpdate``)."""
        return self._section(USER_PROFILE, "userProfileUpdate")  # type: ignore[no-any-return]

    @lazy_property
    def user(self) -> OktaUser | None:
        """Progressive profile: the signed-in user, with the current profile."""
        return self._section(OKTA_USER, "context", "user")  # type: ignore[no-any-return]

    @property
    def submitted(self) -> UserProfile:
        """What the form submitted, whichever the flow: the registration's profile, or the
        progressive profile's changes (empty when Okta sent none). In a flow Okta has not
        documented, whichever of the two the call carries."""
        if self.is_progressive_profile:
            found = self.profile_update
        else:
            found = self.user_profile
            if found is None and not self.is_self_service_registration:
                found = self.profile_update
        return found if found is not None else UserProfile()

    @lazy_property
    def action(self) -> str | None:
        """``data.action``: ``"ALLOW"`` today; ``None`` in Classic Engine calls."""
        action = self.data.get("action")
        if action is not None and type(action) is not str:
            raise InvalidPayload(fields=("data.action",))
        return action

    def respond(self) -> RegistrationHookResponse:
        """Start the response to this call."""
        return RegistrationHookResponse(self)


# --- response --------------------------------------------------------------------------------


class RegistrationHookResponse(HookResponse):
    """A registration decision and profile changes, checked against Okta's rules as made.

    Example::

        if domain_closed:
            return call.respond().deny("Sign-ups from this domain are closed", field="email")
        if call.is_progressive_profile:
            return call.respond().update_progressive_profile(employeeNumber="1234")
        return call.respond().update_profile({"customerId": 12345}).allow()
    """

    request_class = RegistrationHookRequest
    command_types = frozenset([ACTION_UPDATE, USER_PROFILE_UPDATE, PROGRESSIVE_PROFILE_UPDATE])
    _request: RegistrationHookRequest

    def allow(self) -> Self:
        """Let the registration or profile update go on (Okta's default, said explicitly)."""
        return self._add_command(ACTION_UPDATE, {"registration": Decision.ALLOW.value})

    def deny(
        self,
        summary: str | None = None,
        *causes: ErrorCause,
        field: str | None = None,
        reason: str | None = None,
    ) -> Self:
        """Deny the registration or profile update.

        Without arguments the widget shows Okta's generic denial. With ``summary`` the
        response also carries an ``error`` object; ``field`` names the profile attribute
        whose form field shows ``summary`` (see :func:`field_error` for a cause with its
        own text), and ``reason`` is a code such as ``INVALID_EMAIL_DOMAIN``.
        """
        if summary is None and (causes or field is not None):
            raise ValueError("error causes and fields come with a summary")
        if reason is not None and field is None:
            raise ValueError("reason describes the field's error; name the field")
        if summary is not None and field is not None:
            causes = (field_error(field, summary, reason=reason), *causes)
        self._add_command(ACTION_UPDATE, {"registration": Decision.DENY.value})
        if summary is None:
            return self
        try:
            return self.error(summary, *causes)
        except ResponseRuleError:
            # A refused denial leaves the response as it was.
            self._commands.pop()
            raise

    def update_profile(self, attributes: Mapping[str, Any] | None = None, /, **more: Any) -> Self:
        """Self-service registration: set attributes of the new user's profile.

        Each call is one ``com.okta.user.profile.update`` command; Okta applies them in
        order. The attributes must exist in the user schema; the password can never be set.
        """
        return self._add_command(USER_PROFILE_UPDATE, {**(attributes or {}), **more})

    def update_progressive_profile(
        self, attributes: Mapping[str, Any] | None = None, /, **more: Any
    ) -> Self:
        """Progressive profile: set attributes of the user's profile (the changes submitted,
        or others that are not sensitive).

        Each call is one ``com.okta.user.progressive.profile.update`` command.
        """
        return self._add_command(PROGRESSIVE_PROFILE_UPDATE, {**(attributes or {}), **more})

    def error(self, summary: str | None = None, *causes: ErrorCause) -> Self:
        """Return Okta's ``error`` object: the registration or update fails, and Okta runs
        none of the commands. The widget shows each cause whose location names a form field
        next to that field (see :func:`field_error`); ``summary`` is shown to the user."""
        self._refuse(_error_rules(self._commands, True))
        return super().error(summary, *causes)

    def _add_command(self, command_type: str, value: Any) -> Self:
        command = {"type": command_type, "value": value}
        self._refuse(_error_rules([*self._commands, command], self._error is not None))
        return super()._add_command(command_type, value)

    @classmethod
    def _check_command(
        cls, request: HookRequest, command: dict[str, Any], where: str
    ) -> list[Violation]:
        assert isinstance(request, RegistrationHookRequest)
        value = command["value"]
        if command["type"] == ACTION_UPDATE:
            return check_choice(
                value,
                "registration",
                _DECISIONS,
                where,
                shape_rule="action_value",
                value_rule="action_value",
            )
        violations = _check_flow(request, command["type"], where)
        shape = check_profile(value, where)
        if shape:
            return violations + shape
        if any(isinstance(key, str) and key.casefold() == _NEVER_SET for key in value):
            # The value is never quoted: it would be a password.
            violations.append(
                Violation("sets_password", f"{where}.value", "a hook can never set the password")
            )
        return violations

    @classmethod
    def _check_body(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        commands = body.get("commands", [])
        return _error_rules(commands if type(commands) is list else [], "error" in body)

    @classmethod
    def safe_outcome(cls, request: HookRequest) -> RegistrationHookResponse:
        """A denial with a generic message, as Okta denies when the hook times out."""
        assert isinstance(request, RegistrationHookRequest)
        # Never raises: an unknown requestType gets the registration wording.
        flow = (
            RegistrationFlow.PROGRESSIVE_PROFILE
            if request.request_type == RegistrationFlow.PROGRESSIVE_PROFILE
            else RegistrationFlow.SELF_SERVICE_REGISTRATION
        )
        return cls(request).error(SAFE_OUTCOME_MESSAGES[flow])

    @classmethod
    def allow_outcome(cls, request: HookRequest) -> None:
        """An empty 204: the registration goes on without changes. The ``"allow"`` failure
        policy, for deployments that prefer open sign-up to a denial when the hook fails."""
        return None


def _flow_of(request: RegistrationHookRequest) -> RegistrationFlow | None:
    """The call's flow; ``None`` for a ``requestType`` Okta does not document."""
    flow = request.flow
    return flow if isinstance(flow, RegistrationFlow) else None


def _check_flow(request: RegistrationHookRequest, command_type: str, where: str) -> list[Violation]:
    """Each profile command belongs to its flow. The profile update is documented as
    invalid in a progressive profile; the progressive update is documented for that flow
    only (its effect in a registration is unconfirmed); in a flow Okta does not document
    neither is known to work."""
    flow = _FLOW_BY_PROFILE_COMMAND[command_type]
    actual = _flow_of(request)
    if actual is flow:
        return []
    if actual is None:
        return [
            Violation(
                "unknown_flow",
                where,
                f"{command_type} is for the {flow.value} flow; Okta documents no profile "
                f"command for this call's requestType",
            )
        ]
    rule = "command_flow" if command_type == USER_PROFILE_UPDATE else "flow_unconfirmed"
    return [
        Violation(
            rule,
            where,
            f"{command_type} is for the {flow.value} flow; this call is {actual.value}, "
            f"where profile changes use {actual.profile_command}",
        )
    ]


def _is_deny(command: Any) -> bool:
    return (
        type(command) is dict
        and command.get("type") == ACTION_UPDATE
        and command.get("value") == {"registration": Decision.DENY.value}
    )


def _decision(command: Any) -> str | None:
    if type(command) is dict and command.get("type") == ACTION_UPDATE:
        value = command.get("value")
        decision = value.get("registration") if type(value) is dict else None
        return decision if type(decision) is str else None
    return None


def _error_rules(commands: list[Any], has_error: bool) -> list[Violation]:
    """Rules on the commands taken together, and with an ``error`` object."""
    violations: list[Violation] = []
    if has_error:
        violations += [
            Violation(
                "commands_with_error",
                f"commands[{index}]",
                "Okta runs no command when the response has an error object, so this one "
                "would be silently ignored; send the error alone or with a DENY action",
            )
            for index, command in enumerate(commands)
            if not _is_deny(command)
        ]
    decisions = {_decision(command) for command in commands}
    if set(_DECISIONS) <= decisions:
        violations.append(
            Violation(
                "conflicting_actions",
                "commands",
                "the response both allows and denies; send one decision",
            )
        )
    return violations
