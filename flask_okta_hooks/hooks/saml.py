"""SAML assertion inline hook (``com.okta.saml.tokens.transform``).

Okta calls it while it builds a SAML assertion for a custom SAML app, before it sends
the assertion. The handler may add attribute statements, set the session lifetime,
replace existing elements of the subject, authentication statement, conditions and
attribute statements, or return an ``error`` so that Okta denies the SAML request.
Okta's reaction to an operation it cannot apply is not documented, so every operation is
checked here against the request before it is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Self

from marshmallow import fields

from .. import pointer
from ..constants import ASSERTION_PATCH, SAML_EVENT
from ..errors import Violation
from ..fastload import Converter, SectionLoader, items
from ..lazy import lazy_property
from ..patching import Document, replayed
from ..request import (
    OKTA_SESSION,
    OKTA_USER,
    REQUEST_INFO,
    HookRequest,
    Inner,
    Members,
    OktaSchema,
    OktaSession,
    OktaUser,
    RequestInfo,
    StringTuple,
)
from ..response import HookResponse, check_finite

SESSION_LIFETIME_PATH = "/authentication/sessionLifetime"
#: Longest attribute name accepted; URI names are long, but not this long.
MAX_ATTRIBUTE_NAME = 1024

#: A value of a SAML attribute as Python gives it; it is written in XML Schema's text form.
AttributeValueInput = str | int | float | bool


#: The ``errorSummary`` of the ``"deny"`` failure outcome; Okta shows it to the user.
DENY_SUMMARY = "Sign-in to this application is not available right now. Please try again later."


class AssertionSection(StrEnum):
    """The parts of the assertion a hook may change; the value is the patch path's root."""

    SUBJECT = "subject"
    AUTHENTICATION = "authentication"
    CONDITIONS = "conditions"
    CLAIMS = "claims"


# data.assertion.lifetime is not among the roots Okta documents as patchable; whether a
# hook may change it is unconfirmed, so a patch below it is refused rather than risked.
_SECTIONS = frozenset(section.value for section in AssertionSection)


class AttributeNameFormat(StrEnum):
    """The ``NameFormat`` of a SAML attribute statement."""

    UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
    BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
    URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"


# --- request ---------------------------------------------------------------------------------


def _scalar_or_null(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


@dataclass(frozen=True)
class SamlAttributeValue:
    """One ``<saml:AttributeValue>``: its text and its XML attributes (``xsi:type``)."""

    value: str | int | float | bool | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def xsi_type(self) -> str | None:
        """The value's ``xsi:type``, e.g. ``xs:string`` or ``xs:integer``."""
        return self.attributes.get("xsi:type")


class SamlAttributeValueSchema(OktaSchema):
    model = SamlAttributeValue
    value = fields.Raw(load_default=None, validate=_scalar_or_null)
    attributes = Members(keys=fields.String(), values=fields.String(), load_default=dict)


class _TupleList(fields.List[Any]):
    """A JSON array loaded as a tuple, to keep the dataclasses immutable."""

    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[Any, ...]:
        return tuple(super()._deserialize(value, attr, data, **kwargs))

    @cached_property
    def quick_convert(self) -> Converter | None:
        return items(self.inner)


@dataclass(frozen=True)
class SamlAttribute:
    """One attribute statement of the assertion (``data.assertion.claims.<name>``).

    Example::

        groups = call.claims["groups"]
        groups.name_format      # "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
        groups.plain_values     # ("Everyone", "Admins")
        groups.values[0].xsi_type  # "xs:string"
    """

    values: tuple[SamlAttributeValue, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def name_format(self) -> str | None:
        """The attribute's ``NameFormat`` URN."""
        return self.attributes.get("NameFormat")

    @property
    def plain_values(self) -> tuple[str | int | float | bool | None, ...]:
        """The values alone, in order (Okta sends them as text, whatever their type)."""
        return tuple(value.value for value in self.values)


class SamlAttributeSchema(OktaSchema):
    model = SamlAttribute
    values = _TupleList(
        fields.Nested(SamlAttributeValueSchema), data_key="attributeValues", load_default=()
    )
    attributes = Members(keys=fields.String(), values=fields.String(), load_default=dict)


class _ClaimsSchema(OktaSchema):
    unwrap = "claims"
    claims = Members(
        keys=fields.String(), values=fields.Nested(SamlAttributeSchema), load_default=dict
    )


@dataclass(frozen=True)
class SubjectConfirmation:
    """``<saml:SubjectConfirmation>``: the method URN and the recipient URL."""

    method: str | None = None
    recipient: str | None = None


class SubjectConfirmationSchema(OktaSchema):
    model = SubjectConfirmation
    method = fields.String(load_default=None)
    recipient = Inner(("recipient",), fields.String(), data_key="data", load_default=None)


@dataclass(frozen=True)
class SamlSubject:
    """``<saml:Subject>``: the name id the service provider will see, and its confirmation."""

    name_id: str | None = None
    name_format: str | None = None
    confirmation: SubjectConfirmation | None = None


class SamlSubjectSchema(OktaSchema):
    model = SamlSubject
    name_id = fields.String(data_key="nameId", load_default=None)
    name_format = fields.String(data_key="nameFormat", load_default=None)
    confirmation = fields.Nested(SubjectConfirmationSchema, load_default=None)


@dataclass(frozen=True)
class SamlAuthentication:
    """``<saml:AuthnStatement>``: the session index and the authentication context class."""

    session_index: str | None = None
    authn_context_class_ref: str | None = None


class SamlAuthenticationSchema(OktaSchema):
    model = SamlAuthentication
    session_index = fields.String(data_key="sessionIndex", load_default=None)
    authn_context_class_ref = Inner(
        ("authnContextClassRef",), fields.String(), data_key="authnContext", load_default=None
    )


@dataclass(frozen=True)
class SamlConditions:
    """``<saml:Conditions>``: the audiences the assertion is restricted to."""

    audience_restriction: tuple[str, ...] = ()


class SamlConditionsSchema(OktaSchema):
    model = SamlConditions
    audience_restriction = StringTuple(data_key="audienceRestriction", load_default=())


class _LifetimeSchema(OktaSchema):
    unwrap = "expiration"
    expiration = fields.Integer(load_default=None, strict=True)


@dataclass(frozen=True)
class SamlIssuer:
    """``context.protocol.issuer``: the SAML app and the IdP issuer URI it asserts as."""

    id: str | None = None
    name: str | None = None
    uri: str | None = None


class SamlIssuerSchema(OktaSchema):
    model = SamlIssuer
    id = fields.String(load_default=None)
    name = fields.String(load_default=None)
    uri = fields.String(load_default=None)


@dataclass(frozen=True)
class SamlProtocol:
    """``context.protocol``: ``SAML2.0`` and the issuing app."""

    type: str | None = None
    issuer: SamlIssuer | None = None


class SamlProtocolSchema(OktaSchema):
    model = SamlProtocol
    type = fields.String(load_default=None)
    issuer = fields.Nested(SamlIssuerSchema, load_default=None)


_PROTOCOL = SectionLoader(SamlProtocolSchema())
_SUBJECT = SectionLoader(SamlSubjectSchema())
_AUTHENTICATION = SectionLoader(SamlAuthenticationSchema())
_CONDITIONS = SectionLoader(SamlConditionsSchema())
_CLAIMS = SectionLoader(_ClaimsSchema())
_LIFETIME = SectionLoader(_LifetimeSchema())


class SamlHookRequest(HookRequest):
    """A SAML assertion inline hook call. Sections are typed and validated when first read.

    Example::

        @hooks.saml
        def enrich(call: SamlHookRequest) -> SamlHookResponse | None:
            if call.attribute("groups") is not None:
                return None  # 204: Okta sends the assertion unchanged
            return call.respond().add_attribute("groups", ["Everyone", "Admins"])
    """

    event_type = SAML_EVENT
    sections = (
        ("context.request", REQUEST_INFO.schema),
        ("context.protocol", _PROTOCOL.schema),
        ("context.session", OKTA_SESSION.schema),
        ("context.user", OKTA_USER.schema),
        ("assertion.subject", _SUBJECT.schema),
        ("assertion.authentication", _AUTHENTICATION.schema),
        ("assertion.conditions", _CONDITIONS.schema),
        ("assertion", _CLAIMS.schema),
        ("assertion.lifetime", _LIFETIME.schema),
    )

    @lazy_property
    def request_info(self) -> RequestInfo | None:
        """``data.context.request``: the end-user request for the SAML app."""
        return self._section(REQUEST_INFO, "context", "request")  # type: ignore[no-any-return]

    @lazy_property
    def protocol(self) -> SamlProtocol:
        """``data.context.protocol``: ``SAML2.0`` and the issuing app."""
        return self._section(_PROTOCOL, "context", "protocol") or SamlProtocol()

    @property
    def issuer(self) -> SamlIssuer | None:
        """The SAML app (id, label) and the IdP issuer URI."""
        return self.protocol.issuer

    @lazy_property
    def session(self) -> OktaSession | None:
        """The user's Okta session; may be absent in service-provider-initiated flows."""
        return self._section(OKTA_SESSION, "context", "session")  # type: ignore[no-any-return]

    @lazy_property
    def user(self) -> OktaUser | None:
        """The user the assertion is about."""
        return self._section(OKTA_USER, "context", "user")  # type: ignore[no-any-return]

    @lazy_property
    def subject(self) -> SamlSubject | None:
        """``data.assertion.subject``."""
        return self._assertion_part(_SUBJECT, "subject")  # type: ignore[no-any-return]

    @lazy_property
    def authentication(self) -> SamlAuthentication | None:
        """``data.assertion.authentication``."""
        return self._assertion_part(_AUTHENTICATION, "authentication")  # type: ignore[no-any-return]

    @lazy_property
    def conditions(self) -> SamlConditions | None:
        """``data.assertion.conditions``."""
        return self._assertion_part(_CONDITIONS, "conditions")  # type: ignore[no-any-return]

    @lazy_property
    def claims(self) -> Mapping[str, SamlAttribute]:
        """The attribute statements by attribute name, in the order Okta sent them."""
        return self._assertion_part(_CLAIMS) or {}

    @lazy_property
    def lifetime(self) -> int | None:
        """``data.assertion.lifetime.expiration``: the assertion's lifetime in seconds."""
        return self._assertion_part(_LIFETIME, "lifetime")  # type: ignore[no-any-return]

    def attribute(self, name: str) -> SamlAttribute | None:
        """The attribute statement called ``name``, or ``None``."""
        return self.claims.get(name)

    @property
    def login(self) -> str | None:
        """The user's Okta login, from the user profile or else the session."""
        if self.user is not None and self.user.profile.login is not None:
            return self.user.profile.login
        return self.session.login if self.session is not None else None

    @property
    def assertion(self) -> dict[str, Any]:
        """The raw ``data.assertion`` object (empty when absent or not an object)."""
        assertion = self.data.get("assertion")
        return assertion if type(assertion) is dict else {}

    def respond(self) -> SamlHookResponse:
        """Start the response to this call."""
        return SamlHookResponse(self)

    def _assertion_part(self, loader: SectionLoader, *path: str) -> Any:
        return self._section(loader, "assertion", *path)


# --- response --------------------------------------------------------------------------------


class SamlHookResponse(HookResponse):
    """Changes to the assertion being built, checked against Okta's rules as they are made.

    Example::

        response = call.respond()
        response.add_attribute("groups", ["Everyone", "Admins"])
        response.replace_attribute_value("department", 0, "Finance")
        response.replace(AssertionSection.SUBJECT, "nameId", "anna@example.com")
        response.set_session_lifetime(3600)
    """

    request_class = SamlHookRequest
    command_types = frozenset([ASSERTION_PATCH])
    _request: SamlHookRequest

    def __init__(self, request: HookRequest) -> None:
        super().__init__(request)
        self._start_new_command = False
        self._assertion: Document | None = None
        """The assertion as the last command's operations leave it, once one read it."""

    def add_attribute(
        self,
        name: str,
        values: AttributeValueInput | Sequence[AttributeValueInput],
        *,
        name_format: str = AttributeNameFormat.UNSPECIFIED,
        xsi_type: str | None = None,
    ) -> Self:
        """Add an attribute statement with one value or several.

        Values are written as text in the form XML Schema gives them (``True`` becomes
        ``"true"``). Without ``xsi_type`` each value gets the type of its Python value:
        ``xs:string``, ``xs:boolean``, ``xs:integer`` or ``xs:double``. Adding an attribute
        the assertion already has is not refused: Okta's own sample does so (a JSON Patch
        ``add`` replaces an existing member).
        """
        items: Sequence[AttributeValueInput] = (
            values if isinstance(values, Sequence) and not isinstance(values, str) else [values]
        )
        attribute = {
            "attributes": {"NameFormat": str(name_format)},
            "attributeValues": [
                {
                    "attributes": {"xsi:type": xsi_type or _xsi_type(item)},
                    "value": _lexical(item),
                }
                for item in items
            ],
        }
        operation = {"op": "add", "path": pointer.join("/claims", [name]), "value": attribute}
        # Built here from strings, the statement is right in shape and finite: only its
        # name can break a rule, unless the input is unusual (then every check runs).
        plain = type(name) is str and bool(items) and (xsi_type is None or type(xsi_type) is str)
        return self._patch(operation, built_attribute=name if plain else None)

    def set_session_lifetime(self, seconds: int) -> Self:
        """Emit ``SessionNotOnOrAfter``: the service provider's session ends ``seconds`` after
        the assertion is issued."""
        return self._patch({"op": "add", "path": SESSION_LIFETIME_PATH, "value": seconds})

    def replace(
        self,
        section: AssertionSection | str,
        path: str | Sequence[pointer.Segment],
        value: Any,
    ) -> Self:
        """Replace an element present in the request's assertion.

        ``path`` names the element below ``section``: ``"sessionIndex"``, or segments such
        as ``("authnContext", "authnContextClassRef")`` or ``(attribute_name, "attributes")``.
        Names are escaped per RFC 6901 here; pass them as they are.
        """
        segments = [path] if isinstance(path, str) else list(path)
        if not segments:
            raise ValueError("a path names at least one element below the section")
        root = "/" + AssertionSection(section).value
        return self._patch({"op": "replace", "path": pointer.join(root, segments), "value": value})

    def replace_attribute_value(self, name: str, index: int, value: AttributeValueInput) -> Self:
        """Replace the value at ``index`` (zero-based) of the attribute statement ``name``.

        The value is written as text, like :meth:`add_attribute`; its ``xsi:type`` is kept.
        """
        path = pointer.join("/claims", [name, "attributeValues", index, "value"])
        return self._patch({"op": "replace", "path": path, "value": _lexical(value)})

    def new_command(self) -> Self:
        """Put the next operations in a new ``com.okta.assertion.patch`` command.

        One command holds any number of operations, applied in order; this only groups
        them, as Okta's own sample does.
        """
        self._start_new_command = True
        return self

    def _patch(self, operation: dict[str, Any], built_attribute: str | None = None) -> Self:
        # The operations of one command build on each other, as check() sees them.
        # ``built_attribute`` names the statement add_attribute built, whose shape is right.
        new = not self._commands or self._start_new_command
        if new:
            self._assertion = None
        index = len(self._commands) - (0 if new else 1)
        operations = [] if new else self._commands[index]["value"]
        if self._assertion is None and operation["op"] != "add":  # it reads the assertion
            self._assertion = replayed(self._request.assertion, operations, pointer.split)
        where = f"commands[{index}].value[{len(operations)}]"
        if built_attribute is None:
            self._refuse(check_finite(operation["value"], where))
            self._refuse(_check_operation(operation, self._assertion, where))
        else:
            self._refuse(_check_attribute_name(["claims", built_attribute], where))
            if self._assertion is not None:
                self._assertion.apply("add", ["claims", built_attribute], operation["value"])
        operations.append(operation)
        if new:
            self._commands.append({"type": ASSERTION_PATCH, "value": operations})
            self._start_new_command = False
        return self

    @classmethod
    def _check_command(
        cls, request: HookRequest, command: dict[str, Any], where: str
    ) -> list[Violation]:
        # Okta applies a patch's operations in order (RFC 6902), so each builds on the
        # ones before it in its command.
        assert isinstance(request, SamlHookRequest)
        operations = command["value"]
        if type(operations) is not list or not operations:
            return [Violation("patch_shape", f"{where}.value", "the value is a non-empty array")]
        assertion = Document(request.assertion)
        violations: list[Violation] = []
        for index, operation in enumerate(operations):
            violations += _check_operation(operation, assertion, f"{where}.value[{index}]")
        return violations

    @classmethod
    def deny_outcome(cls, request: HookRequest) -> SamlHookResponse:
        """An ``error``: Okta sends no assertion and shows the summary to the user. The
        ``"deny"`` failure policy, for SAML hooks that enforce a policy."""
        assert isinstance(request, SamlHookRequest)
        return request.respond().error(DENY_SUMMARY)


def _xsi_type(value: AttributeValueInput) -> str:
    if isinstance(value, bool):
        return "xs:boolean"
    if isinstance(value, int):
        return "xs:integer"
    if isinstance(value, float):
        return "xs:double"
    return "xs:string"


def _lexical(value: AttributeValueInput) -> str:
    """``value`` as XML Schema text.

    Okta sends every attribute value as a JSON string, typed integers included; whether it
    accepts JSON numbers or booleans back is not documented, so only strings are sent.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("an attribute value is a finite number")
        return repr(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"an attribute value is a str, int, float or bool, not {type(value).__name__}")


def _check_operation(operation: Any, assertion: Document | None, where: str) -> list[Violation]:
    """Okta's rules for one patch operation on the assertion; an operation that breaks no
    documented rule is applied to ``assertion``, for the operations after it. ``assertion``
    may be ``None`` for an ``add``, which reads none of it."""
    violations = _check_one(operation, assertion, where)
    if assertion is not None and not any(not v.precaution for v in violations):
        assertion.apply(operation["op"], pointer.split(operation["path"]) or [], operation["value"])
    return violations


def _check_one(operation: Any, assertion: Document | None, where: str) -> list[Violation]:
    """Okta's rules for one patch operation, on the assertion as the ones before left it."""

    def bad(rule: str, message: str) -> list[Violation]:
        return [Violation(rule, where, message)]

    if type(operation) is not dict or not {"op", "path"} <= set(operation) <= {
        "op",
        "path",
        "value",
    }:
        return bad("operation_shape", 'an operation is {"op": ..., "path": ..., "value": ...}')
    op, path = operation["op"], operation["path"]
    # Okta documents no remove (or any other op) for SAML; support is unconfirmed.
    if op not in ("add", "replace"):
        return bad("operation", f"op {op!r} is not add or replace; Okta documents no other op")
    if type(path) is not str:
        return bad("path", "path is a string")
    if "value" not in operation:
        return bad("missing_value", f"{op} carries a value")
    segments = pointer.split(path)
    if segments is None or len(segments) < 2 or segments[0] not in _SECTIONS:
        return bad(
            "path",
            f"path {path!r} is not below /subject, /authentication, /conditions or /claims "
            f"(names escaped per RFC 6901)",
        )
    value = operation["value"]
    if path == SESSION_LIFETIME_PATH:
        if op != "add":
            return bad("session_lifetime", "the session lifetime is set with add")
        if type(value) is not int or value < 1:
            return bad("session_lifetime", "the session lifetime is a whole number of seconds > 0")
        return []
    if op == "add":
        if segments[0] != AssertionSection.CLAIMS or len(segments) != 2:
            return bad(
                "add_path",
                f"add creates an attribute statement at /claims/<name> or sets "
                f"{SESSION_LIFETIME_PATH}; change existing elements with replace",
            )
        # Whether Okta needs a claims object in the request to add to is not documented;
        # its sample adds one that exists, so a new statement is never refused for that.
        violations = _check_attribute(value, where)
    else:
        assert assertion is not None
        violations = _check_replace(assertion, segments, value, where)
    return violations or _check_attribute_name(segments, where)


def _check_attribute_name(segments: list[str], where: str) -> list[Violation]:
    if segments[0] != AssertionSection.CLAIMS:
        return []
    name = segments[1]
    if name and len(name) <= MAX_ATTRIBUTE_NAME and not any(c in name for c in "\x00\r\n"):
        return []
    return [
        Violation(
            "attribute_name",
            where,
            f"attribute names are 1 to {MAX_ATTRIBUTE_NAME} characters without NUL, CR or LF",
        )
    ]


def _check_replace(
    assertion: Document, segments: list[str], value: Any, where: str
) -> list[Violation]:
    node, found = assertion.get(segments)
    if found < len(segments):
        return [
            Violation(
                "element_not_present",
                where,
                f"{'/'.join(segments[: found + 1])!r} is not in the assertion; replace "
                f"changes only elements Okta sent or this response added (add a new "
                f"attribute with add)",
            )
        ]
    expected, given = _kind(node), _kind(value)
    if given is None or (expected is not None and expected != given):
        return [
            Violation(
                "value_kind",
                where,
                f"the element replaced is {expected or 'a scalar'}; the new value must be one "
                f"too (never null)",
            )
        ]
    if segments[0] == AssertionSection.CLAIMS and len(segments) == 2:
        return _check_attribute(value, where)
    return []


def _kind(value: Any) -> str | None:
    """The JSON kind of ``value`` ("object", "array", "a scalar"); ``None`` for null and
    for values JSON has no form for."""
    if type(value) is dict:
        return "an object"
    if type(value) is list:
        return "an array"
    if isinstance(value, str | int | float):
        return "a scalar"
    return None


def _check_attribute(value: Any, where: str) -> list[Violation]:
    """An attribute statement: ``{"attributes": {...}, "attributeValues": [...]}``."""
    where = f"{where}.value"
    if type(value) is not dict or "attributeValues" not in value:
        return [
            Violation(
                "attribute_values",
                where,
                'an attribute statement is {"attributes": {"NameFormat": ...}, '
                '"attributeValues": [{"attributes": {"xsi:type": ...}, "value": ...}]}',
            )
        ]
    values = value["attributeValues"]
    if type(values) is not list or not values:
        return [Violation("attribute_values", where, "attributeValues is a non-empty array")]

    def bad(message: str) -> list[Violation]:
        return [Violation("attribute_shape", where, message)]

    if not set(value) <= {"attributes", "attributeValues"}:
        return bad("an attribute statement holds only attributes and attributeValues")
    if not _string_map(value.get("attributes", {})):
        return bad('attributes is an object of strings, e.g. {"NameFormat": ...}')
    for item in values:
        if (
            type(item) is not dict
            or "value" not in item
            or not set(item) <= {"attributes", "value"}
        ):
            return bad('an attribute value is {"attributes": {"xsi:type": ...}, "value": ...}')
        if _kind(item["value"]) != "a scalar":
            return bad("an attribute value is a string, number or boolean")
        if not _string_map(item.get("attributes", {})):
            return bad("the attributes of a value are an object of strings, e.g. xsi:type")
    return []


def _string_map(value: Any) -> bool:
    return type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items())
