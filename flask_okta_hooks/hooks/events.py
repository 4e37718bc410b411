"""Event hooks (``com.okta.event_hook``): System Log events, delivered in batches.

Event hooks cannot change what Okta does. Okta POSTs a batch of System Log events after
the fact (``data.events``), wants a quick empty 2xx, retries once after a timeout or a
5xx, and may deliver an event late, out of order or more than once. Before the first
delivery Okta checks the endpoint once with a GET whose challenge header is echoed.

This module types the envelope and the events; :mod:`flask_okta_hooks.events.router` hands
each event to its handler. The headline of every event (``uuid``, ``eventType``,
``published`` ...) is validated when the delivery arrives, so a malformed batch is a 400;
the nested sections (``actor``, ``client``, ``target`` ...) are validated when a handler
first reads them, and the raw event stays reachable as :attr:`LogEvent.raw`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from marshmallow import ValidationError, fields, validate

from ..auth import header_value
from ..constants import EVENT_HOOK_EVENT
from ..errors import (
    ChallengeTooLarge,
    EventsNotAccepted,
    InvalidChallenge,
    InvalidPayload,
    MissingChallenge,
    Violation,
)
from ..fastload import QuickField, SectionLoader, unsure
from ..lazy import lazy_property
from ..request import (
    EnvelopeSchema,
    HookRequest,
    JSONBoolean,
    OktaSchema,
    OpenEnum,
    StringOrNumber,
    Verification,
    _error_paths,
)
from ..response import HookResponse

#: The header of Okta's one-time verification GET (header names are case-insensitive).
VERIFICATION_HEADER = "X-Okta-Verification-Challenge"
_VERIFICATION_ENVIRON_KEY = "HTTP_" + VERIFICATION_HEADER.upper().replace("-", "_")
#: Longest challenge echoed. Okta's are short tokens; the bound keeps the endpoint from
#: reflecting large attacker-chosen content.
MAX_CHALLENGE_BYTES = 1024
#: Longest event ``uuid`` accepted (Okta's are 36 characters); ids are kept for
#: de-duplication, so their size must be bounded.
MAX_UUID_CHARS = 128
_VERIFICATION = Verification(VERIFICATION_HEADER, "verification", MAX_CHALLENGE_BYTES)


class Severity(StrEnum):
    """How serious Okta rates an event (``severity``)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class OutcomeResult(StrEnum):
    """What came of the action an event records (``outcome.result``)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    SKIPPED = "SKIPPED"
    ALLOW = "ALLOW"
    DENY = "DENY"
    CHALLENGE = "CHALLENGE"
    UNKNOWN = "UNKNOWN"


class _Number(QuickField[float]):
    """A JSON number (not a boolean), loaded as a float."""

    default_error_messages = {"invalid": "Not a number."}  # noqa: RUF012

    @staticmethod
    def quick_convert(value: Any) -> Any:
        kind = type(value)
        return float(value) if kind is float or kind is int else unsure()


class _Object(QuickField[Mapping[str, Any]]):
    """Any JSON object, kept as sent (free-form details Okta does not describe)."""

    default_error_messages = {"invalid": "Not an object."}  # noqa: RUF012

    @staticmethod
    def quick_convert(value: Any) -> Any:
        return value if type(value) is dict else unsure()


def _text(key: str | None = None) -> fields.String:
    return fields.String(data_key=key, load_default=None, allow_none=True)


# --- the sections of a LogEvent --------------------------------------------------------------


@dataclass(frozen=True)
class LogActor:
    """``actor``: who did what the event records (a user, an app, Okta itself ...)."""

    id: str | None = None
    type: str | None = None
    alternate_id: str | None = field(default=None, repr=False)
    """Usually a login or an email address."""
    display_name: str | None = field(default=None, repr=False)
    detail_entry: Mapping[str, Any] | None = field(default=None, repr=False)


class LogActorSchema(OktaSchema):
    model = LogActor
    id = _text()
    type = _text()
    alternate_id = _text("alternateId")
    display_name = _text("displayName")
    detail_entry = _Object(data_key="detailEntry", load_default=None, allow_none=True)


@dataclass(frozen=True)
class LogTarget(LogActor):
    """One entry of ``target``: what the event acted on."""

    change_details: Mapping[str, Any] | None = field(default=None, repr=False)


class LogTargetSchema(LogActorSchema):
    model = LogTarget
    change_details = _Object(data_key="changeDetails", load_default=None, allow_none=True)


@dataclass(frozen=True)
class Geolocation:
    lat: float | None = None
    lon: float | None = None


class GeolocationSchema(OktaSchema):
    model = Geolocation
    lat = _Number(load_default=None, allow_none=True)
    lon = _Number(load_default=None, allow_none=True)


@dataclass(frozen=True)
class GeographicalContext:
    """Where an IP address is, as far as Okta knows."""

    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None
    geolocation: Geolocation | None = None


class GeographicalContextSchema(OktaSchema):
    model = GeographicalContext
    city = _text()
    state = _text()
    country = _text()
    postal_code = _text("postalCode")
    geolocation = fields.Nested(GeolocationSchema, load_default=None, allow_none=True)


@dataclass(frozen=True)
class UserAgent:
    raw_user_agent: str | None = None
    os: str | None = None
    browser: str | None = None


class UserAgentSchema(OktaSchema):
    model = UserAgent
    raw_user_agent = _text("rawUserAgent")
    os = _text()
    browser = _text()


@dataclass(frozen=True)
class LogClient:
    """``client``: the software and network the action came from."""

    id: str | None = None
    user_agent: UserAgent | None = field(default=None, repr=False)
    zone: str | None = None
    device: str | None = None
    ip_address: str | None = field(default=None, repr=False)
    geographical_context: GeographicalContext | None = field(default=None, repr=False)


class LogClientSchema(OktaSchema):
    model = LogClient
    id = _text()
    user_agent = fields.Nested(
        UserAgentSchema, data_key="userAgent", load_default=None, allow_none=True
    )
    zone = _text()
    device = _text()
    ip_address = _text("ipAddress")
    geographical_context = fields.Nested(
        GeographicalContextSchema,
        data_key="geographicalContext",
        load_default=None,
        allow_none=True,
    )


@dataclass(frozen=True)
class LogOutcome:
    """``outcome``: how the action went; ``reason`` is Okta's free text, often ``None``."""

    result: OutcomeResult | str | None = None
    reason: str | None = None


class LogOutcomeSchema(OktaSchema):
    model = LogOutcome
    result = OpenEnum(OutcomeResult, load_default=None, allow_none=True)
    reason = _text()


@dataclass(frozen=True)
class LogTransaction:
    """``transaction``: the Okta request (``type`` ``WEB``) or job (``JOB``) behind the event."""

    id: str | None = None
    type: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict, repr=False)


class LogTransactionSchema(OktaSchema):
    model = LogTransaction
    id = _text()
    type = _text()
    detail = _Object(load_default=None, allow_none=True)

    def build(self, data: dict[str, Any], original: Any) -> LogTransaction:
        return LogTransaction(id=data["id"], type=data["type"], detail=data["detail"] or {})


@dataclass(frozen=True)
class LogIssuer:
    id: str | None = None
    type: str | None = None


class LogIssuerSchema(OktaSchema):
    model = LogIssuer
    id = _text()
    type = _text()


@dataclass(frozen=True)
class LogAuthenticationContext:
    """``authenticationContext``: how the actor authenticated."""

    authentication_provider: str | None = None
    credential_provider: str | None = None
    credential_type: str | None = None
    issuer: LogIssuer | None = None
    interface: str | None = None
    authentication_step: int | None = None
    external_session_id: str | None = field(default=None, repr=False)


class LogAuthenticationContextSchema(OktaSchema):
    model = LogAuthenticationContext
    authentication_provider = _text("authenticationProvider")
    credential_provider = _text("credentialProvider")
    credential_type = _text("credentialType")
    issuer = fields.Nested(LogIssuerSchema, load_default=None, allow_none=True)
    interface = _text()
    authentication_step = fields.Integer(
        data_key="authenticationStep", strict=True, load_default=None, allow_none=True
    )
    external_session_id = _text("externalSessionId")


@dataclass(frozen=True)
class LogSecurityContext:
    """``securityContext``: what Okta knows about the network the request came from."""

    as_number: int | None = None
    as_org: str | None = None
    isp: str | None = None
    domain: str | None = None
    is_proxy: bool | None = None


class LogSecurityContextSchema(OktaSchema):
    model = LogSecurityContext
    as_number = fields.Integer(data_key="asNumber", strict=True, load_default=None, allow_none=True)
    as_org = _text("asOrg")
    isp = _text()
    domain = _text()
    is_proxy = JSONBoolean(data_key="isProxy", load_default=None, allow_none=True)


@dataclass(frozen=True)
class IpAddress:
    """One hop of ``request.ipChain``, the client first."""

    ip: str | None = field(default=None, repr=False)
    version: str | None = None
    source: str | None = None
    geographical_context: GeographicalContext | None = field(default=None, repr=False)


class IpAddressSchema(OktaSchema):
    model = IpAddress
    ip = _text()
    version = _text()
    source = _text()
    geographical_context = fields.Nested(
        GeographicalContextSchema,
        data_key="geographicalContext",
        load_default=None,
        allow_none=True,
    )


_ACTOR = SectionLoader(LogActorSchema())
_TARGET = SectionLoader(LogTargetSchema())
_CLIENT = SectionLoader(LogClientSchema())
_OUTCOME = SectionLoader(LogOutcomeSchema())
_TRANSACTION = SectionLoader(LogTransactionSchema())
_AUTHENTICATION = SectionLoader(LogAuthenticationContextSchema())
_SECURITY = SectionLoader(LogSecurityContextSchema())
_IP_ADDRESS = SectionLoader(IpAddressSchema())


# --- the event -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LogEvent:
    """One System Log event of a delivery.

    The headline members are plain attributes; the sections are typed when first read
    (a malformed section raises :class:`~flask_okta_hooks.errors.InvalidPayload` then).
    Anything not typed here is in :attr:`raw`. Example::

        @hooks.event("user.lifecycle.deactivate")
        def offboard(event: LogEvent) -> None:
            for target in event.targets:
                if target.type == "User":
                    directory.disable(target.id)
            if event.outcome and event.outcome.result == OutcomeResult.FAILURE: ...
            request_id = event.debug_data.get("requestId")
    """

    event_type: str
    """E.g. ``user.lifecycle.deactivate``: what handlers are chosen by."""
    uuid: str | None = None
    """The id of this event, the same in every delivery of it."""
    published: datetime | None = None
    """When the event happened; Okta may deliver events out of this order."""
    version: str | None = None
    severity: Severity | str | None = None
    display_message: str | None = field(default=None, repr=False)
    legacy_event_type: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """The event exactly as Okta sent it."""

    @lazy_property
    def actor(self) -> LogActor | None:
        """``actor``: who acted."""
        return self._section(_ACTOR, "actor")  # type: ignore[no-any-return]

    @lazy_property
    def client(self) -> LogClient | None:
        """``client``: user agent, IP address and location of the actor."""
        return self._section(_CLIENT, "client")  # type: ignore[no-any-return]

    @lazy_property
    def outcome(self) -> LogOutcome | None:
        """``outcome``: result and reason."""
        return self._section(_OUTCOME, "outcome")  # type: ignore[no-any-return]

    @lazy_property
    def targets(self) -> tuple[LogTarget, ...]:
        """``target``: what was acted on, in Okta's order (empty when there is none)."""
        return self._list(_TARGET, "target")

    @lazy_property
    def transaction(self) -> LogTransaction | None:
        """``transaction``: the request or job behind the event."""
        return self._section(_TRANSACTION, "transaction")  # type: ignore[no-any-return]

    @lazy_property
    def debug_data(self) -> Mapping[str, Any]:
        """``debugContext.debugData``: free-form details such as ``requestId``, ``requestUri``."""
        debug_context = self.raw.get("debugContext")
        if debug_context is None:
            return {}
        if type(debug_context) is not dict:
            raise InvalidPayload(fields=("data.events[].debugContext",))
        data = debug_context.get("debugData")
        if data is None:
            return {}
        if type(data) is not dict:
            raise InvalidPayload(fields=("data.events[].debugContext.debugData",))
        return data

    @lazy_property
    def authentication_context(self) -> LogAuthenticationContext | None:
        """``authenticationContext``: how the actor authenticated."""
        return self._section(  # type: ignore[no-any-return]
            _AUTHENTICATION, "authenticationContext"
        )

    @lazy_property
    def security_context(self) -> LogSecurityContext | None:
        """``securityContext``: autonomous system, ISP, proxy."""
        return self._section(_SECURITY, "securityContext")  # type: ignore[no-any-return]

    @lazy_property
    def ip_chain(self) -> tuple[IpAddress, ...]:
        """``request.ipChain``: the IP addresses the request passed through, client first."""
        for parent in ("request", "client"):
            # Okta's schema puts the chain under request; its event hook sample under client.
            section = self.raw.get(parent)
            if section is None:
                continue
            if type(section) is not dict:
                raise InvalidPayload(fields=(f"data.events[].{parent}",))
            if section.get("ipChain") is not None:
                return self._list(_IP_ADDRESS, "ipChain", section, f"{parent}.ipChain")
        return ()

    def _section(self, loader: SectionLoader, key: str) -> Any:
        value = self.raw.get(key)
        if value is None:
            return None
        return _load(loader, value, "data.events[]." + key)

    def _list(
        self,
        loader: SectionLoader,
        key: str,
        parent: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> tuple[Any, ...]:
        where = "data.events[]." + (name or key)
        items = (self.raw if parent is None else parent).get(key)
        if items is None:
            return ()
        if type(items) is not list:
            raise InvalidPayload(fields=(where,))
        return tuple(_load(loader, item, where) for item in items)


class LogEventSchema(OktaSchema):
    """The headline of an event, validated when the delivery arrives."""

    event_type = fields.String(data_key="eventType", required=True)
    uuid = fields.String(load_default=None, validate=validate.Length(min=1, max=MAX_UUID_CHARS))
    published = fields.AwareDateTime(load_default=None, allow_none=True)
    version = _text()
    severity = OpenEnum(Severity, load_default=None, allow_none=True)
    display_message = _text("displayMessage")
    legacy_event_type = _text("legacyEventType")

    def build(self, data: dict[str, Any], original: Any) -> LogEvent:
        return LogEvent(**data, raw=original)


_LOG_EVENT = SectionLoader(LogEventSchema())


def _load(loader: SectionLoader, value: Any, where: str) -> Any:
    try:
        return loader.load(value)
    except ValidationError as exc:
        messages = exc.messages_dict if isinstance(exc.messages, dict) else {}
        raise InvalidPayload(fields=_error_paths(messages, where) or (where,)) from None


# --- the delivery ----------------------------------------------------------------------------


class EventHookEnvelopeSchema(EnvelopeSchema):
    # Event hooks spell it with an s, unlike inline hooks.
    cloud_events_version = StringOrNumber(data_key="cloudEventsVersion", load_default=None)


class EventHookRequest(HookRequest):
    """One event hook delivery: a batch of System Log events.

    Handlers registered with ``@hooks.event(...)`` receive the events one at a time; the
    delivery is what the endpoint validates. Example (without HTTP)::

        delivery = EventHookRequest.from_payload(payload)
        [event.event_type for event in delivery.events]   # ["user.session.start"]
    """

    event_type = EVENT_HOOK_EVENT
    envelope_loader = SectionLoader(EventHookEnvelopeSchema())
    verification = _VERIFICATION
    # The events and the sections each LogEvent types when a handler reads them.
    sections = (
        ("events[]", _LOG_EVENT.schema),
        ("events[].actor", _ACTOR.schema),
        ("events[].client", _CLIENT.schema),
        ("events[].outcome", _OUTCOME.schema),
        ("events[].target[]", _TARGET.schema),
        ("events[].transaction", _TRANSACTION.schema),
        ("events[].authenticationContext", _AUTHENTICATION.schema),
        ("events[].securityContext", _SECURITY.schema),
        ("events[].request.ipChain[]", _IP_ADDRESS.schema),
    )

    def __init__(self, payload: dict[str, Any], envelope: dict[str, Any]) -> None:
        super().__init__(payload, envelope)
        self.cloud_events_version: str | int | float | None = envelope["cloud_events_version"]
        """``cloudEventsVersion`` (``"0.1"``)."""
        self.events: tuple[LogEvent, ...] = _load_events(self.data)
        """The events of this delivery, in Okta's order (which is not ``published`` order)."""

    @classmethod
    def answer_get(cls, environ: dict[str, Any]) -> dict[str, Any]:
        """Okta's one-time verification: echo the challenge header as ``verification``.

        A missing, empty, oversized (over :data:`MAX_CHALLENGE_BYTES`) or non-UTF-8
        challenge is a 400; the value is JSON-encoded, never reflected raw.
        """
        raw = header_value(environ, _VERIFICATION_ENVIRON_KEY)
        if not raw:
            raise MissingChallenge
        if len(raw) > MAX_CHALLENGE_BYTES:
            raise ChallengeTooLarge
        try:
            challenge = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidChallenge from None
        return _VERIFICATION.answer(challenge)


def load_event(raw: Any) -> LogEvent:
    """One event from its JSON object, as an intake kept it; validated like a delivery's."""
    if type(raw) is not dict:
        raise InvalidPayload(fields=("event",))
    return _load(_LOG_EVENT, raw, "event")  # type: ignore[no-any-return]


def _load_events(data: dict[str, Any]) -> tuple[LogEvent, ...]:
    loaded = []
    # An array: the hook type's required sections are checked before the request is built.
    for index, event in enumerate(data["events"]):
        where = f"data.events[{index}]"
        if type(event) is not dict:
            raise InvalidPayload(fields=(where,))
        loaded.append(_load(_LOG_EVENT, event, where))
    return tuple(loaded)


class EventHookResponse(HookResponse):
    """Event hooks answer with an empty 204: Okta reads nothing from the body.

    The class exists for the table of hook types; handlers of events return ``None``.
    """

    request_class = EventHookRequest
    reads_body = False
    empty_meaning = "The delivery is accepted; its events are handled after this answer."
    extra_statuses = {  # noqa: RUF012 (read-only class data)
        503: "The delivery was not taken on (the event queue is full, the intake or the "
        "store of handled events cannot be reached, a handler run before the answer "
        "failed, or taking the delivery on failed or ran past the deadline); Okta sends "
        "it once more.",
    }
    # A 204 after a failure would tell Okta its events were taken on when they may not
    # be; Okta's one retry is their only way in, and claimed events are not run twice.
    failure_refusal = EventsNotAccepted

    @classmethod
    def check(cls, request: HookRequest, body: Any) -> list[Violation]:
        """One violation per member: the inline hooks' members mean nothing here either."""
        if type(body) is not dict:
            return super().check(request, body)
        return cls._check_body(request, body)

    @classmethod
    def _check_body(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        return [
            Violation("unknown_member", name, "Okta reads no body from an event hook")
            for name in body
        ]
