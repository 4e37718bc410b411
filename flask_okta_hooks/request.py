"""What every hook request has: the envelope, shared context objects, lazy typed sections.

The envelope (``eventId``, ``eventType``, ``data`` ...) is validated when the request
object is built. The hook-specific sections (``data.context.user``, ``data.access`` ...)
are validated by their marshmallow schema the first time a handler reads them, then kept:
a handler pays only for what it reads, and a malformed section it reads is a 400
(:class:`~.errors.InvalidPayload`), never a crash. Schemas are tolerant readers: unknown
members are ignored, a member Okta sends as ``null`` is read as absent unless the section
cannot do without it, and the raw payload stays reachable as :attr:`HookRequest.payload`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar, Self

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load
from marshmallow.exceptions import SCHEMA

from .errors import InvalidEnvelope, InvalidPayload, MethodNotAllowed, WrongEventType
from .fastload import Converter, QuickField, SectionLoader, exactly, members, unsure
from .secret import Secret, conceal


class OktaSchema(Schema):
    """Base of every request schema: unknown members ignored, null members absent.

    Okta sends ``null`` for members it has no value for, so a null member loads as if it
    were absent (its ``load_default``); only a ``required`` member stays refused when null.
    The result is built as ``model(**fields)``; a schema with ``unwrap`` set returns that
    one member instead (for wrappers such as ``{"url": {"value": ...}}``).
    """

    model: ClassVar[type[Any] | None] = None
    unwrap: ClassVar[str | None] = None
    _new: ClassVar[Callable[[dict[str, Any]], Any]]

    class Meta:
        unknown = EXCLUDE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.model is not None:
            cls._new = staticmethod(_constructor(cls.model))

    @cached_property
    def _required_keys(self) -> frozenset[str]:
        return frozenset(
            field.data_key or name for name, field in self.load_fields.items() if field.required
        )

    @pre_load
    def _drop_nulls(self, data: Any, **_: Any) -> Any:
        if type(data) is not dict or None not in data.values():
            return data
        required = self._required_keys
        return {key: value for key, value in data.items() if value is not None or key in required}

    @post_load(pass_original=True)
    def _make(self, data: dict[str, Any], original: Any, **_: Any) -> Any:
        return self.build(data, original)

    def build(self, data: dict[str, Any], original: Any) -> Any:
        """The loaded result from the validated ``data`` (and the ``original`` input)."""
        if self.unwrap is not None:
            return data.get(self.unwrap)
        return type(self)._new(data) if self.model is not None else data


def _constructor(model: type[Any]) -> Callable[[dict[str, Any]], Any]:
    """``model(**data)``, quicker for a plain frozen dataclass given every one of its fields.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``;
    with every field present and nothing left for ``__init__`` to compute, filling the
    instance's ``__dict__`` gives the same object, as unpickling does.
    """
    params = getattr(model, "__dataclass_params__", None)
    if (
        params is None
        or not params.frozen
        or hasattr(model, "__post_init__")
        or "__slots__" in vars(model)
        or any(not f.init for f in dataclass_fields(model))
    ):
        return lambda data: model(**data)
    names = frozenset(f.name for f in dataclass_fields(model))
    new = object.__new__

    def construct(data: dict[str, Any]) -> Any:
        if data.keys() != names:
            return model(**data)
        instance = new(model)
        instance.__dict__.update(data)
        return instance

    return construct


class StringOrNumber(fields.Field[str | int | float]):
    """A JSON string or number, kept as it is."""

    default_error_messages = {"invalid": "Not a string or a number."}  # noqa: RUF012

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str | int | float:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.make_error("invalid")
        return value

    @staticmethod
    def quick_convert(value: Any) -> Any:
        kind = type(value)
        return value if kind is str or kind is int or kind is float else unsure()


class EnvelopeSchema(OktaSchema):
    """The members every Okta hook call carries around ``data``."""

    event_id = fields.String(data_key="eventId", load_default=None)
    event_time = fields.String(data_key="eventTime", load_default=None)
    event_type = fields.String(data_key="eventType", required=True)
    # Okta's own OpenAPI examples send these as numbers, its samples as strings.
    event_type_version = StringOrNumber(data_key="eventTypeVersion", load_default=None)
    cloud_event_version = StringOrNumber(data_key="cloudEventVersion", load_default=None)
    content_type = fields.String(data_key="contentType", load_default=None)
    source = fields.String(load_default=None)
    request_type = fields.String(data_key="requestType", load_default=None)
    data = fields.Dict(required=True)


_ENVELOPE = SectionLoader(EnvelopeSchema())


_PLAIN_LEAVES: dict[type, type] = {fields.String: str, fields.Integer: int}


class Inner(fields.Field[Any]):
    """The value at a fixed path inside a JSON object, read with ``leaf``.

    ``Inner(("lifetime", "expiration"), fields.Integer(strict=True))`` on ``token`` reads
    ``token.lifetime.expiration`` without a schema for each wrapping object. An absent
    or null step gives ``None``; a step that is not an object is invalid.
    """

    default_error_messages = {"invalid": "Not an object."}  # noqa: RUF012

    def __init__(self, path: tuple[str, ...], leaf: fields.Field[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.leaf = leaf
        # The quick path takes plain strings and strict integers as they are; any other
        # leaf is always left to marshmallow.
        self._leaf_type = _PLAIN_LEAVES.get(type(leaf)) if getattr(leaf, "strict", True) else None

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        for key in self.path:
            if type(value) is not dict:
                raise self.make_error("invalid")
            value = value.get(key)
            if value is None:
                return None
        return self.leaf.deserialize(value)

    def quick_convert(self, value: Any) -> Any:
        for key in self.path:
            if type(value) is not dict:
                return unsure()
            value = value.get(key)
            if value is None:
                return None
        return value if self._leaf_type is not None and type(value) is self._leaf_type else unsure()


class StringTuple(QuickField[tuple[str, ...]]):
    """A JSON array of strings, loaded as a tuple (immutable, like the dataclasses)."""

    default_error_messages = {"invalid": "Not an array of strings."}  # noqa: RUF012

    @staticmethod
    def quick_convert(value: Any) -> Any:
        if type(value) is not list or any(type(item) is not str for item in value):
            return unsure()
        return tuple(value)


class Members(fields.Dict):
    """A JSON object whose values are read with ``values``; a null value is an absent member,
    as everywhere in a request (an attribute's ``{"NameFormat": null}`` reads as ``{}``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[Any, Any]:
        if type(value) is dict and None in value.values():
            value = {key: item for key, item in value.items() if item is not None}
        result: dict[Any, Any] = super()._deserialize(  # type: ignore[no-untyped-call]
            value, attr, data, **kwargs
        )
        return result

    @cached_property
    def quick_convert(self) -> Converter | None:
        return members(self)


class JSONBoolean(fields.Boolean):
    """A JSON ``true``/``false`` only (marshmallow's Boolean also takes "yes", 1 ...)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value

    quick_convert = exactly(bool)


class OpenEnum(fields.Field[Any]):
    """A JSON string loaded as a member of ``enum`` when it names one, else kept as is.

    For Okta's open-ended codes: a value added by Okta later stays readable as a plain
    ``str`` instead of failing the call, and compares equal to its text either way.
    """

    default_error_messages = {"invalid": "Not a string."}  # noqa: RUF012

    def __init__(self, enum: type[StrEnum], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enum = enum
        self._members: dict[str, StrEnum] = {member.value: member for member in enum}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> StrEnum | str:
        if type(value) is not str:
            raise self.make_error("invalid")
        return self._members.get(value, value)

    def quick_convert(self, value: Any) -> Any:
        if type(value) is not str:
            return unsure()
        return self._members.get(value, value)


# --- context objects shared by several hook types ---------------------------------------------


@dataclass(frozen=True)
class RequestInfo:
    """``data.context.request``: the end-user request to Okta that triggered the hook."""

    id: str | None = None
    method: str | None = None
    url: str | None = None
    ip_address: str | None = None


class RequestInfoSchema(OktaSchema):
    model = RequestInfo
    id = fields.String(load_default=None)
    method = fields.String(load_default=None)
    url = Inner(("value",), fields.String(), load_default=None)
    ip_address = fields.String(data_key="ipAddress", load_default=None)


@dataclass(frozen=True)
class UserProfile:
    """An Okta user profile: the common attributes typed, every attribute in ``attributes``."""

    login: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        """Any profile attribute by its Okta name, e.g. ``profile.get("employeeNumber")``."""
        return self.attributes.get(name, default)


class UserProfileSchema(OktaSchema):
    model = UserProfile
    login = fields.String(load_default=None)
    email = fields.String(load_default=None, allow_none=True)
    first_name = fields.String(data_key="firstName", load_default=None, allow_none=True)
    last_name = fields.String(data_key="lastName", load_default=None, allow_none=True)
    locale = fields.String(load_default=None, allow_none=True)
    time_zone = fields.String(data_key="timeZone", load_default=None, allow_none=True)

    def build(self, data: dict[str, Any], original: Any) -> UserProfile:
        profile: UserProfile = _new_user_profile({**data, "attributes": dict(original)})
        return profile


_new_user_profile = _constructor(UserProfile)


@dataclass(frozen=True)
class OktaUser:
    """``data.context.user``: the Okta user the hook call is about."""

    id: str | None
    profile: UserProfile
    password_changed: datetime | None = None


class OktaUserSchema(OktaSchema):
    model = OktaUser
    id = fields.String(load_default=None)
    profile = fields.Nested(UserProfileSchema, load_default=UserProfile)
    password_changed = fields.AwareDateTime(
        data_key="passwordChanged", load_default=None, allow_none=True
    )


@dataclass(frozen=True)
class IdentityProvider:
    id: str | None = None
    type: str | None = None


class IdentityProviderSchema(OktaSchema):
    model = IdentityProvider
    id = fields.String(load_default=None)
    type = fields.String(load_default=None)


@dataclass(frozen=True)
class OktaSession:
    """``data.context.session``: the user's Okta session."""

    id: str | None = None
    user_id: str | None = None
    login: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_password_verification: datetime | None = None
    amr: tuple[str, ...] = ()
    idp: IdentityProvider | None = None
    mfa_active: bool | None = None


class OktaSessionSchema(OktaSchema):
    model = OktaSession
    id = fields.String(load_default=None)
    user_id = fields.String(data_key="userId", load_default=None)
    login = fields.String(load_default=None)
    status = fields.String(load_default=None)
    created_at = fields.AwareDateTime(data_key="createdAt", load_default=None)
    expires_at = fields.AwareDateTime(data_key="expiresAt", load_default=None)
    last_password_verification = fields.AwareDateTime(
        data_key="lastPasswordVerification", load_default=None, allow_none=True
    )
    amr = StringTuple(load_default=())
    idp = fields.Nested(IdentityProviderSchema, load_default=None)
    mfa_active = JSONBoolean(data_key="mfaActive", load_default=None)


#: Loaders of the shared context objects, built once for every hook type.
REQUEST_INFO = SectionLoader(RequestInfoSchema())
OKTA_USER = SectionLoader(OktaUserSchema())
OKTA_SESSION = SectionLoader(OktaSessionSchema())
USER_PROFILE = SectionLoader(UserProfileSchema())


# --- the request base class ------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """How an endpoint answers Okta's one-time verification GET (event hooks).

    Okta sends a challenge in ``header`` and expects it back as ``{member: challenge}``
    in a 200. The test kit, the CLI and the OpenAPI document read this instead of knowing
    the hook type. Example::

        EventHookRequest.verification.answer("abc")   # {"verification": "abc"}
    """

    header: str
    """The request header carrying the challenge (case-insensitive, as every header)."""
    member: str
    """The member of the JSON answer that echoes the challenge."""
    max_bytes: int
    """Longest challenge echoed; longer ones are a 400."""

    def answer(self, challenge: str) -> dict[str, str]:
        """The body of the 200 that answers ``challenge``."""
        return {self.member: challenge}


class HookRequest:
    """An Okta hook call: the validated envelope plus typed, lazily validated sections.

    Build one from a parsed body with :meth:`from_payload` (the blueprint does this;
    tests and the test kit can too, without HTTP).
    """

    #: The ``eventType`` this request class serves.
    event_type: ClassVar[str]
    #: The sections every real call has, as ``(keys below data, JSON type)``; set from
    #: the hook type's row (:attr:`.hook_types.HookType.required_sections`).
    _required: ClassVar[tuple[tuple[tuple[str, ...], type], ...]] = ()
    #: Paths below ``data`` of values Okta sends in clear text that must never be shown
    #: (passwords, one-time codes). They are wrapped in a :class:`~.secret.Secret` inside
    #: the request's copy of the payload, so not even a logged :attr:`payload` shows them.
    secret_paths: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: Validates the envelope; a hook type with other envelope members brings its own.
    envelope_loader: ClassVar[SectionLoader] = _ENVELOPE
    #: The typed sections of ``data``: (dotted path below ``data``, the schema that reads
    #: it). A segment ending in ``[]`` names an array of such objects, e.g.
    #: ``events[].target[]``. Tools that describe the payload (the OpenAPI document) read this.
    sections: ClassVar[tuple[tuple[str, Schema], ...]] = ()
    #: How the endpoint answers Okta's verification GET; ``None`` for hook types Okta
    #: calls with POST only. A hook type with one lists GET in its table row.
    verification: ClassVar[Verification | None] = None
    #: Paths below ``data`` of personal values that stay plain strings for the handler but
    #: are masked in log records and refused in ``debugContext`` (a phone number).
    masked_paths: ClassVar[tuple[tuple[str, ...], ...]] = ()

    _deadline: float = math.inf
    _clock: Callable[[], float] = time.perf_counter

    def __init__(self, payload: dict[str, Any], envelope: dict[str, Any]) -> None:
        data: dict[str, Any] = envelope["data"]
        for path in self.secret_paths:
            data = conceal(data, path)
        if data is not envelope["data"]:
            payload = {**payload, "data": data}
        self.payload = payload
        """The whole parsed body, including members this library does not type."""
        self.event_id: str | None = envelope["event_id"]
        """Okta's id of this call; use it to make handlers idempotent."""
        self.event_time: str | None = envelope["event_time"]
        self.event_type_version: str | int | float | None = envelope["event_type_version"]
        self.cloud_event_version: str | int | float | None = envelope["cloud_event_version"]
        self.content_type: str | None = envelope["content_type"]
        self.source: str | None = envelope["source"]
        self.request_type: str | None = envelope["request_type"]
        self.data = data
        """The raw ``data`` object."""

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Validate the envelope of a parsed body and build the request object.

        Raises :class:`~.errors.InvalidEnvelope` for a body that is not an Okta hook call
        (a section every real call of this type has is missing, null or of another JSON
        type, see :meth:`require`) and :class:`~.errors.WrongEventType` when
        ``eventType`` is not :attr:`event_type`.
        The values at :attr:`secret_paths` are wrapped in :attr:`payload`, which is then
        a copy along those paths; ``payload`` itself is not changed.
        """
        if type(payload) is not dict:
            raise InvalidEnvelope
        try:
            envelope = cls.envelope_loader.load(payload)
        except ValidationError as exc:
            raise InvalidEnvelope(fields=_error_paths(exc.messages_dict, "")) from None
        if envelope["event_type"] != cls.event_type:
            raise WrongEventType
        for keys, kind in cls._required:
            node: Any = envelope["data"]
            for key in keys:
                node = node.get(key) if type(node) is dict else None
            if type(node) is not kind:
                raise InvalidEnvelope(fields=("data." + ".".join(keys),))
        return cls(payload, envelope)

    @classmethod
    def require(cls, sections: tuple[str, ...]) -> None:
        """Refuse, on arrival, every call without one of ``sections``: dotted paths below
        ``data`` of objects, or of arrays when they end in ``[]`` (``"events[]"``).

        The table of hook types calls this with each row's ``required_sections``.
        """
        cls._required = tuple(
            (tuple(section.removesuffix("[]").split(".")), list if section.endswith("[]") else dict)
            for section in sections
        )

    @classmethod
    def answer_get(cls, environ: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer to an authenticated GET, for hook types whose table row lists GET.

        Inline hooks are POST only; event hooks answer Okta's one-time verification here.
        """
        raise MethodNotAllowed

    def masked_values(self) -> tuple[str, ...]:
        """The clear text of the values at :attr:`secret_paths` and :attr:`masked_paths`.

        Log records written while the call runs are masked for these values, and a
        response may not carry them in ``debugContext`` or ``error``.
        """
        found: list[str] = []
        for path in (*self.secret_paths, *self.masked_paths):
            node: Any = self.data
            for name in path:
                node = node.get(name) if type(node) is dict else None
            if type(node) is Secret:
                found.append(node.reveal())
            elif type(node) is str and node:
                found.append(node)
        return tuple(found)

    def time_left(self) -> float:
        """Seconds left before this call's deadline (``OKTA_HOOKS_DEADLINE``); may be negative.

        Give dependencies no more than this, so their timeout fires before the deadline::

            timeout = max(0.05, min(1.0, call.time_left() - 0.1))
            profile = crm.fetch(call.user.id, timeout=timeout)

        Infinite for a request object built outside a hook endpoint.
        """
        return self._deadline - self._clock()

    def set_deadline(self, deadline: float, clock: Callable[[], float]) -> None:
        """Set the deadline as a reading of ``clock`` (monotonic seconds); the blueprint
        calls this when the call arrives, tests may call it to try a handler's timing."""
        self._deadline = deadline
        self._clock = clock

    @property
    def context(self) -> dict[str, Any]:
        """The raw ``data.context`` object (read-only information about the flow)."""
        context = self.data.get("context")
        return context if type(context) is dict else {}

    def _section(self, loader: SectionLoader, *path: str, required: bool = False) -> Any:
        """Load the object at ``data.<path>`` with ``loader``; ``None`` when it is absent.

        A present but malformed section, or an absent ``required`` one, raises
        :class:`~.errors.InvalidPayload` naming it.
        """
        raw: Any = self.data
        for depth, key in enumerate(path):
            if type(raw) is not dict:  # a present parent that is not an object
                raise InvalidPayload(fields=("data." + ".".join(path[:depth]),))
            raw = raw.get(key)
            if raw is None:
                break
        if raw is None:
            if required:
                raise InvalidPayload(fields=("data." + ".".join(path),))
            return None
        try:
            return loader.load(raw)
        except ValidationError as exc:
            where = "data." + ".".join(path)
            messages = exc.messages_dict if isinstance(exc.messages, dict) else {}
            raise InvalidPayload(fields=_error_paths(messages, where) or (where,)) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} eventId={self.event_id!r}>"


def _error_paths(messages: Mapping[str, Any], prefix: str) -> tuple[str, ...]:
    """Dotted paths of the fields marshmallow rejected, without any input values.

    Only the first level of names is kept: deeper keys of free-form maps could be data.
    Marshmallow files errors about the object itself (not an object at all) under
    ``_schema``; those name the object.
    """

    def path(name: Any) -> str:
        if not prefix:
            return str(name)
        return prefix if name == SCHEMA else f"{prefix}.{name}"

    return tuple(sorted({path(name) for name in messages}))
