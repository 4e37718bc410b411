"""Telephony inline hook (``com.okta.telephony.provider``).

Okta generates a one-time code and hands its delivery, by SMS or voice call, to the hook
for phone enrollment, sign-in, account unlock and password reset. The handler sends the
code through its own provider and reports how that went. Anything but a 200 with a
well-formed answer (an empty 204, a timeout, an ``error`` object, a bad status) makes
Okta send the code through its own, heavily rate-limited providers; there is no retry.

The code and the message text that embeds it arrive as
:class:`~flask_okta_hooks.secret.Secret` values, so they do not show up in logs,
tracebacks or ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from marshmallow import fields

from ..constants import TELEPHONY_ACTION, TELEPHONY_EVENT
from ..errors import Violation
from ..fastload import QuickField, SectionLoader, unsure
from ..lazy import lazy_property
from ..request import REQUEST_INFO, HookRequest, OktaSchema, RequestInfo
from ..response import ErrorCause, HookResponse
from ..secret import Secret, SecretString

#: The safe outcome's ``errorSummary``; Okta may show it, so it says nothing specific.
FALLBACK_SUMMARY = "The telephony service could not send the code."


class TelephonyRequestType(StrEnum):
    """The flow that needs the code (the call's top-level ``requestType``).

    A value Okta adds later stays readable as a plain ``str``.
    """

    PRE_ENROLLMENT = "com.okta.user.telephony.pre-enrollment"
    MFA_VERIFICATION = "com.okta.user.telephony.mfa-verification"
    ACCOUNT_UNLOCK = "com.okta.user.telephony.account-unlock"
    PASSWORD_RESET = "com.okta.user.telephony.password-reset"  # noqa: S105 (a flow name)


class DeliveryChannel(StrEnum):
    """How the code reaches the user."""

    SMS = "SMS"
    VOICE = "VOICE"


class DeliveryStatus(StrEnum):
    """The outcome of a delivery, as Okta takes it (``status``)."""

    SUCCESSFUL = "SUCCESSFUL"
    """The provider delivered the message."""
    PENDING = "PENDING"
    """The provider accepted the message; delivery is not confirmed yet."""
    FAILED = "FAILED"
    """The message was not delivered."""


_STATUSES = frozenset(status.value for status in DeliveryStatus)
#: Every spelling of a channel Okta has used, folded to lower case.
_CHANNELS = {
    "sms": DeliveryChannel.SMS,
    "voice": DeliveryChannel.VOICE,
    "voice call": DeliveryChannel.VOICE,
    "call": DeliveryChannel.VOICE,
}
#: The optional members of a result, all strings.
_RESULT_MEMBERS = ("provider", "transactionId", "transactionMetadata")


# --- request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TelephonyUser:
    """``data.userProfile``: the user the code is for."""

    user_id: str | None = None
    login: str | None = field(default=None, repr=False)
    first_name: str | None = field(default=None, repr=False)
    last_name: str | None = field(default=None, repr=False)


class TelephonyUserSchema(OktaSchema):
    model = TelephonyUser
    user_id = fields.String(data_key="userId", load_default=None)
    login = fields.String(load_default=None)
    first_name = fields.String(data_key="firstName", load_default=None, allow_none=True)
    last_name = fields.String(data_key="lastName", load_default=None, allow_none=True)


@dataclass(frozen=True)
class MessageProfile:
    """``data.messageProfile``: what to send, to which number, and how.

    Example::

        profile = call.message_profile
        profile.phone_number              # "9876543210"
        profile.otp_code.reveal()         # the code, only where it is sent
        profile.delivery_channel          # DeliveryChannel.SMS
        profile.message.reveal() if profile.message else ...  # SMS text with the code
    """

    phone_number: str = field(repr=False)
    """As Okta sends it; its format (E.164 or not) is not documented."""
    otp_code: Secret
    message: Secret | None = None
    """``msgTemplate``: the SMS text, code included (absent or unused for voice)."""
    raw_delivery_channel: str | None = None
    """``deliveryChannel`` exactly as sent."""
    locale: str | None = None
    otp_expires: datetime | None = None

    @property
    def delivery_channel(self) -> DeliveryChannel | str | None:
        """SMS or voice; ``None`` when Okta sent no channel, and a channel Okta has not
        documented as the text it sent.

        Okta documents ``SMS`` for text messages but has written the voice value both as
        ``voice call`` and ``CALL``, so the comparison ignores case and spaces around.
        """
        raw = self.raw_delivery_channel
        if raw is None:
            return None
        return _CHANNELS.get(raw.strip().casefold(), raw)


class _Text(QuickField[str]):
    """A string; a whole number is taken as its decimal text (Okta's own examples do so)."""

    default_error_messages = {"invalid": "Not a string."}  # noqa: RUF012

    @staticmethod
    def quick_convert(value: Any) -> Any:
        if type(value) is str:
            return value
        if type(value) is int:
            return str(value)
        return unsure()


class MessageProfileSchema(OktaSchema):
    model = MessageProfile
    phone_number = _Text(data_key="phoneNumber", required=True)
    otp_code = SecretString(data_key="otpCode", required=True)
    message = SecretString(data_key="msgTemplate", load_default=None, allow_none=True)
    raw_delivery_channel = fields.String(
        data_key="deliveryChannel", load_default=None, allow_none=True
    )
    locale = fields.String(load_default=None, allow_none=True)
    otp_expires = fields.AwareDateTime(data_key="otpExpires", load_default=None, allow_none=True)


_USER = SectionLoader(TelephonyUserSchema())
_MESSAGE = SectionLoader(MessageProfileSchema())
_REQUEST_TYPES = {request_type.value: request_type for request_type in TelephonyRequestType}


class TelephonyHookRequest(HookRequest):
    """A telephony inline hook call. Sections are typed and validated when first read.

    Example::

        @hooks.telephony
        def deliver(call: TelephonyHookRequest) -> TelephonyHookResponse:
            sent = provider.send(call.message_profile)
            return call.respond().successful("ACME", transaction_id=sent.id)
    """

    event_type = TELEPHONY_EVENT
    sections = (
        ("context.request", REQUEST_INFO.schema),
        ("userProfile", _USER.schema),
        ("messageProfile", _MESSAGE.schema),
    )
    secret_paths = (("messageProfile", "otpCode"), ("messageProfile", "msgTemplate"))
    masked_paths = (("messageProfile", "phoneNumber"),)
    request_type: TelephonyRequestType | str | None

    def __init__(self, payload: dict[str, Any], envelope: dict[str, Any]) -> None:
        super().__init__(payload, envelope)
        raw = envelope["request_type"]
        self.request_type = _REQUEST_TYPES.get(raw, raw) if raw is not None else None
        """The flow, e.g. ``TelephonyRequestType.MFA_VERIFICATION``; unknown values as sent."""

    @lazy_property
    def request_info(self) -> RequestInfo | None:
        """``data.context.request``: the end-user request that needs the code."""
        return self._section(REQUEST_INFO, "context", "request")  # type: ignore[no-any-return]

    @lazy_property
    def user_profile(self) -> TelephonyUser:
        """``data.userProfile``: who the code is for."""
        return self._section(_USER, "userProfile") or TelephonyUser()

    @lazy_property
    def message_profile(self) -> MessageProfile:
        """``data.messageProfile``: the number, the code and the channel (a 400 if absent)."""
        return self._section(  # type: ignore[no-any-return]
            _MESSAGE, "messageProfile", required=True
        )

    def respond(self) -> TelephonyHookResponse:
        """Start the response to this call."""
        return TelephonyHookResponse(self)


# --- response --------------------------------------------------------------------------------


class TelephonyHookResponse(HookResponse):
    """How the delivery went, or an error that hands delivery back to Okta.

    Example::

        return call.respond().successful("VONAGE", transaction_id="SM49a8", metadata="300ms")
        return call.respond().error("Provider unavailable")   # Okta sends the code itself

    Okta takes the results as an array: each call of :meth:`successful`, :meth:`pending`
    or :meth:`failed` adds one result to the one ``com.okta.telephony.action`` command.
    """

    request_class = TelephonyHookRequest
    command_types = frozenset({TELEPHONY_ACTION})
    _request: TelephonyHookRequest

    def successful(
        self,
        provider: str | None = None,
        *,
        transaction_id: str | None = None,
        metadata: str | None = None,
    ) -> Self:
        """The provider delivered the code."""
        return self._result(DeliveryStatus.SUCCESSFUL, provider, transaction_id, metadata)

    def pending(
        self,
        provider: str | None = None,
        *,
        transaction_id: str | None = None,
        metadata: str | None = None,
    ) -> Self:
        """The provider took the message but has not confirmed delivery.

        Also the honest answer after a provider call whose outcome is unknown: an error
        would make Okta send a second code.
        """
        return self._result(DeliveryStatus.PENDING, provider, transaction_id, metadata)

    def failed(
        self,
        provider: str | None = None,
        *,
        transaction_id: str | None = None,
        metadata: str | None = None,
    ) -> Self:
        """The code was not delivered. What Okta does beyond logging it is undocumented;
        to make Okta send the code itself at once, use :meth:`error` instead."""
        return self._result(DeliveryStatus.FAILED, provider, transaction_id, metadata)

    def error(self, summary: str | None = None, *causes: ErrorCause) -> Self:
        """Hand delivery back to Okta: it sends the code through its own providers.

        ``summary`` may reach the end user; keep it generic (no phone number, no code).
        Refused after a delivery result: the two contradict each other.
        """
        if self._commands:
            self._refuse(
                [
                    Violation(
                        "error_with_result",
                        "error",
                        "a delivery result was given: an error would make Okta send the "
                        "code a second time",
                    )
                ]
            )
        return super().error(summary, *causes)

    def _result(
        self,
        status: DeliveryStatus,
        provider: str | None,
        transaction_id: str | None,
        metadata: str | None,
    ) -> Self:
        if self._error is not None:
            self._refuse(
                [
                    Violation(
                        "error_with_result",
                        "commands[0]",
                        "an error was reported: Okta sends the code itself, so no result counts",
                    )
                ]
            )
        given = zip(_RESULT_MEMBERS, (provider, transaction_id, metadata), strict=True)
        result = {"status": status.value, **{k: v for k, v in given if v is not None}}
        if not self._commands:
            return self._add_command(TELEPHONY_ACTION, [result])
        results = self._commands[0]["value"]
        self._refuse(_check_result(result, f"commands[0].value[{len(results)}]"))
        results.append(result)
        return self

    # --- Okta's rules ----------------------------------------------------------------------

    @classmethod
    def _check_command(
        cls, request: HookRequest, command: dict[str, Any], where: str
    ) -> list[Violation]:
        results = command["value"]
        if type(results) is not list or not results:
            return [
                Violation(
                    "results_shape",
                    f"{where}.value",
                    'the value is a non-empty array of results, each {"status": ...}',
                )
            ]
        violations: list[Violation] = []
        for index, result in enumerate(results):
            violations += _check_result(result, f"{where}.value[{index}]")
        return violations

    @classmethod
    def _check_body(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        commands = body.get("commands", [])
        if type(commands) is not list:
            return []
        violations = [
            Violation(
                "action_repeated",
                f"commands[{index}]",
                f"a response carries one {TELEPHONY_ACTION} command; put every result in its array",
            )
            for index in range(1, len(commands))
        ]
        if commands and "error" in body:
            violations.append(
                Violation(
                    "error_with_result",
                    "error",
                    "an error next to a delivery result makes Okta send the code a second time",
                )
            )
        elif not commands and "error" not in body:
            violations.append(
                Violation(
                    "no_outcome",
                    "",
                    "Okta needs a delivery result or an error; without either it treats the "
                    "answer as malformed and sends the code itself",
                )
            )
        return violations

    @classmethod
    def safe_outcome(cls, request: HookRequest) -> TelephonyHookResponse:
        """A generic ``error``: Okta sends the code through its own providers at once,
        instead of after its timeout."""
        assert isinstance(request, TelephonyHookRequest)
        return request.respond().error(FALLBACK_SUMMARY)


def _check_result(result: Any, where: str) -> list[Violation]:
    if type(result) is not dict or "status" not in result:
        return [Violation("result_shape", where, 'a result is an object with a "status"')]
    unknown = set(result) - {"status", *_RESULT_MEMBERS}
    if unknown:
        return [
            Violation(
                "result_shape",
                where,
                f"a result holds only status and {', '.join(_RESULT_MEMBERS)}",
            )
        ]
    if type(result["status"]) is not str or result["status"] not in _STATUSES:
        return [
            Violation(
                "status_value",
                f"{where}.status",
                f"the status is one of {', '.join(sorted(_STATUSES))}",
            )
        ]
    for member in _RESULT_MEMBERS:
        if member in result and type(result[member]) is not str:
            return [Violation("result_member", f"{where}.{member}", f"{member} is a string")]
    return []
