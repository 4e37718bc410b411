"""Token inline hook (``com.okta.oauth2.tokens.transform``).

Okta calls it while a custom authorization server mints tokens. The handler may add,
replace or remove claims of the ID and access tokens being minted, change their
lifetime, or return an ``error`` so that no token is issued. Okta drops the whole patch,
silently for the user, when one operation breaks its rules; so every operation is
checked here against the request before it is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from marshmallow import fields

from .. import pointer
from ..constants import ACCESS_PATCH, IDENTITY_PATCH, TOKEN_EVENT
from ..errors import ResponseRuleError, Violation
from ..fastload import SectionLoader
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
)
from ..response import HookResponse, check_finite

LIFETIME_PATH = "/token/lifetime/expiration"
_OPERATION_MEMBERS = frozenset({"op", "path", "value"})
_CONTROL = re.compile("[\x00\r\n]")
MIN_LIFETIME = 300
MAX_LIFETIME = 86_400
#: Longest claim name accepted; real claims are short, and every byte goes into a header.
MAX_CLAIM_NAME = 1024


#: The ``errorSummary`` of the ``"deny"`` failure outcome. Okta hands it to the client as
#: the OAuth ``error_description``, so it says nothing specific.
DENY_SUMMARY = "The token cannot be issued right now."


class Token(StrEnum):
    """The two tokens a token hook can change; the value is the request's ``data`` member."""

    ID = "identity"
    ACCESS = "access"

    @property
    def command_type(self) -> str:
        return IDENTITY_PATCH if self is Token.ID else ACCESS_PATCH


_TOKEN_BY_COMMAND = {token.command_type: token for token in Token}

_RESERVED_IN_BOTH = frozenset(
    [
        "acr",
        "auth_time",
        "cid",
        "cnf",
        "exp",
        "groups",
        "iat",
        "iss",
        "jti",
        "sid",
        "token_type",
        "ver",
    ]
)
#: Claims Okta never lets a hook add, replace or remove, per token (token hook reference).
RESERVED_CLAIMS: Mapping[Token, frozenset[str]] = {
    Token.ID: _RESERVED_IN_BOTH
    | frozenset(
        [
            "active",
            "aid",
            "amr",
            "app_id",
            "app_type",
            "at_hash",
            "aud",
            "c_hash",
            "client_id",
            "client_ip",
            "client_req_id",
            "client_type",
            "client_user_agent",
            "device_compliance",
            "device_id",
            "device_known",
            "device_managed",
            "device_name",
            "device_trust",
            "did",
            "dst",
            "group",
            "hotk",
            "idp",
            "idp_iss",
            "mac_key",
            "may_act",
            "nonce",
            "oid",
            "okta_emailVerified",
            "okta_lastUpdated",
            "orig",
            "permissions",
            "purpose",
            "pwd_exp_days",
            "pwd_exp_time",
            "rid",
            "role",
            "scope",
            "scopes",
            "sub",
            "term",
            "user_ip",
        ]
    ),
    Token.ACCESS: _RESERVED_IN_BOTH
    | frozenset(["as_uri", "authorization_details", "rpt", "rsi", "scp", "uid", "username"]),
}

#: A claim, or a path into a claim: ``"tier"``, ``("employee", "department")``,
#: ``("airports", "-")`` (append) or ``("airports", 1)`` (array position).
ClaimPath = str | Sequence[pointer.Segment]


# --- request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A scope granted in the access token (``data.access.scopes.<name>``)."""

    id: str | None = None
    action: str | None = None


class ScopeSchema(OktaSchema):
    model = Scope
    id = fields.String(load_default=None)
    action = fields.String(load_default=None)


@dataclass(frozen=True)
class MintedToken:
    """A token being minted: its claims as Okta will issue them, and its lifetime."""

    claims: Mapping[str, Any]
    lifetime: int | None = None
    scopes: Mapping[str, Scope] = field(default_factory=dict)

    @property
    def granted_scopes(self) -> tuple[str, ...]:
        """The names of the scopes Okta grants (``action`` ``GRANT``), in request order."""
        return tuple(name for name, scope in self.scopes.items() if scope.action == "GRANT")


class MintedTokenSchema(OktaSchema):
    model = MintedToken
    claims = fields.Dict(load_default=dict)
    lifetime = Inner(
        ("lifetime", "expiration"),
        fields.Integer(strict=True),
        data_key="token",
        load_default=None,
    )
    scopes = Members(values=fields.Nested(ScopeSchema), load_default=dict)


@dataclass(frozen=True)
class ProtocolRequest:
    """``context.protocol.request``: the OAuth 2.0 request parameters."""

    client_id: str | None = None
    grant_type: str | None = None
    redirect_uri: str | None = None
    response_mode: str | None = None
    response_type: str | None = None
    scope: str | None = None
    state: str | None = None


class ProtocolRequestSchema(OktaSchema):
    model = ProtocolRequest
    client_id = fields.String(load_default=None)
    grant_type = fields.String(load_default=None)
    redirect_uri = fields.String(load_default=None)
    response_mode = fields.String(load_default=None)
    response_type = fields.String(load_default=None)
    scope = fields.String(load_default=None)
    state = fields.String(load_default=None)


@dataclass(frozen=True)
class OAuthClient:
    id: str | None = None
    name: str | None = None
    type: str | None = None


class OAuthClientSchema(OktaSchema):
    model = OAuthClient
    id = fields.String(load_default=None)
    name = fields.String(load_default=None)
    type = fields.String(load_default=None)


@dataclass(frozen=True)
class TokenProtocol:
    """``context.protocol``: the OAuth 2.0 request, the issuer and the client."""

    type: str | None = None
    request: ProtocolRequest = field(default_factory=ProtocolRequest)
    issuer: str | None = None
    client: OAuthClient = field(default_factory=OAuthClient)


class TokenProtocolSchema(OktaSchema):
    model = TokenProtocol
    type = fields.String(load_default=None)
    request = fields.Nested(ProtocolRequestSchema, load_default=ProtocolRequest)
    issuer = Inner(("uri",), fields.String(), load_default=None)
    client = fields.Nested(OAuthClientSchema, load_default=OAuthClient)


@dataclass(frozen=True)
class Policy:
    """``context.policy``: the access policy and rule that fired the hook."""

    id: str | None = None
    rule_id: str | None = None


class PolicySchema(OktaSchema):
    model = Policy
    id = fields.String(load_default=None)
    rule_id = Inner(("id",), fields.String(), data_key="rule", load_default=None)


class _RefreshTokenSchema(OktaSchema):
    unwrap = "jti"
    jti = fields.String(load_default=None)


_PROTOCOL = SectionLoader(TokenProtocolSchema())
_POLICY = SectionLoader(PolicySchema())
_MINTED = SectionLoader(MintedTokenSchema())
_REFRESH = SectionLoader(_RefreshTokenSchema())


class TokenHookRequest(HookRequest):
    """A token inline hook call. Sections are typed and validated when first read."""

    event_type = TOKEN_EVENT
    sections = (
        ("context.request", REQUEST_INFO.schema),
        ("context.protocol", _PROTOCOL.schema),
        ("context.session", OKTA_SESSION.schema),
        ("context.user", OKTA_USER.schema),
        ("context.policy", _POLICY.schema),
        (Token.ID.value, _MINTED.schema),
        (Token.ACCESS.value, _MINTED.schema),
        ("refresh_token", _REFRESH.schema),
    )

    @lazy_property
    def request_info(self) -> RequestInfo | None:
        """``data.context.request``: the end-user request to the authorization server."""
        return self._section(REQUEST_INFO, "context", "request")  # type: ignore[no-any-return]

    @lazy_property
    def protocol(self) -> TokenProtocol:
        """``data.context.protocol``: OAuth 2.0 parameters, issuer and client."""
        return self._section(_PROTOCOL, "context", "protocol") or TokenProtocol()

    @lazy_property
    def session(self) -> OktaSession | None:
        """The user's Okta session; absent in flows without one (client credentials)."""
        return self._section(OKTA_SESSION, "context", "session")  # type: ignore[no-any-return]

    @lazy_property
    def user(self) -> OktaUser | None:
        """The user the tokens are for; absent in flows without a user."""
        return self._section(OKTA_USER, "context", "user")  # type: ignore[no-any-return]

    @lazy_property
    def policy(self) -> Policy | None:
        return self._section(_POLICY, "context", "policy")  # type: ignore[no-any-return]

    @lazy_property
    def id_token(self) -> MintedToken | None:
        """The ID token being minted, or ``None`` when no ID token is minted."""
        return self._section(_MINTED, Token.ID.value)  # type: ignore[no-any-return]

    @lazy_property
    def access_token(self) -> MintedToken | None:
        """The access token being minted, or ``None`` when no access token is minted."""
        return self._section(_MINTED, Token.ACCESS.value)  # type: ignore[no-any-return]

    @lazy_property
    def refresh_token_jti(self) -> str | None:
        """Id of the refresh token involved; it comes back on later refresh grants."""
        return self._section(_REFRESH, "refresh_token")  # type: ignore[no-any-return]

    def token(self, token: Token) -> MintedToken | None:
        """The minted token of that kind, or ``None``."""
        return self.id_token if token is Token.ID else self.access_token

    @property
    def login(self) -> str | None:
        """The user's Okta login, from the user profile or else the session."""
        if self.user is not None and self.user.profile.login is not None:
            return self.user.profile.login
        return self.session.login if self.session is not None else None

    @property
    def grant_type(self) -> str | None:
        """The OAuth 2.0 grant type, e.g. ``authorization_code`` or ``client_credentials``."""
        return self.protocol.request.grant_type

    @property
    def client_id(self) -> str | None:
        return self.protocol.client.id or self.protocol.request.client_id

    @property
    def granted_scopes(self) -> tuple[str, ...]:
        """Scopes granted in the access token (empty when no access token is minted)."""
        return self.access_token.granted_scopes if self.access_token is not None else ()

    def respond(self) -> TokenHookResponse:
        """Start the response to this call."""
        return TokenHookResponse(self)


# --- response --------------------------------------------------------------------------------


class TokenHookResponse(HookResponse):
    """Changes to the tokens being minted, checked against Okta's rules as they are made.

    Example::

        response = call.respond()
        response.add_claim(Token.ACCESS, "tier", "gold")
        response.add_claim(Token.ID, ("preferred_airports", "-"), "LAX")
        response.set_lifetime(Token.ACCESS, 3600)
    """

    request_class = TokenHookRequest
    command_types = frozenset(_TOKEN_BY_COMMAND)
    _request: TokenHookRequest

    def __init__(self, request: HookRequest) -> None:
        super().__init__(request)
        self._claims: dict[Token, Document] = {}
        """Each token's claims as the operations so far leave them, once one read them."""

    def add_claim(self, token: Token, claim: ClaimPath, value: Any) -> Self:
        """Add a claim, a member of an object claim, or an array element (``-`` appends).

        The parent of a nested path must exist in the token as the request sent it and
        the earlier operations of this response changed it (Okta applies them in order).
        """
        path, segments = _claim_target(claim)
        return self._patch(token, {"op": "add", "path": path, "value": value}, segments)

    def replace_claim(self, token: Token, claim: ClaimPath, value: Any) -> Self:
        """Replace a claim (or member, or element) present in the token, as the request
        sent it and the earlier operations of this response changed it."""
        path, segments = _claim_target(claim)
        return self._patch(token, {"op": "replace", "path": path, "value": value}, segments)

    def remove_claim(self, token: Token, claim: ClaimPath, *, null_value: bool = False) -> Self:
        """Remove a claim (or member, or element) present in the token.

        Okta documents ``remove`` both without a value and with ``"value": null``; the
        operation is written without one, or with ``null`` when ``null_value`` is set.
        """
        path, segments = _claim_target(claim)
        operation: dict[str, Any] = {"op": "remove", "path": path}
        if null_value:
            operation["value"] = None
        return self._patch(token, operation, segments)

    def set_lifetime(self, token: Token, seconds: int) -> Self:
        """Set the token's lifetime, from 300 s to 86,400 s."""
        return self._patch(token, {"op": "replace", "path": LIFETIME_PATH, "value": seconds}, None)

    def add_access_claim(self, claim: ClaimPath, value: Any) -> Self:
        """Shortcut for ``add_claim(Token.ACCESS, claim, value)``."""
        return self.add_claim(Token.ACCESS, claim, value)

    def add_id_claim(self, claim: ClaimPath, value: Any) -> Self:
        """Shortcut for ``add_claim(Token.ID, claim, value)``."""
        return self.add_claim(Token.ID, claim, value)

    def _patch(self, token: Token, operation: dict[str, Any], segments: list[str] | None) -> Self:
        # What _check_command checks of a whole command, for the one operation added, whose
        # shape is right by construction: a claim at ``segments``, or else the lifetime.
        if type(token) is not Token:
            token = Token(token)
        command_type = token.command_type
        commands = self._commands
        index = next(
            (i for i, c in enumerate(commands) if c["type"] == command_type), len(commands)
        )
        new = index == len(commands)
        minted = self._request.token(token)
        if minted is None:
            raise ResponseRuleError([_not_minted(token, f"commands[{index}]")])
        operations = [] if new else commands[index]["value"]
        where = f"commands[{index}].value[{len(operations)}]"
        op, value = operation["op"], operation.get("value")
        claims = None
        if segments is None:
            violations = _check_lifetime(op, value, where)
        else:
            claims = self._claims.get(token)
            if claims is None and (op != "add" or len(segments) > 1):  # it reads the claims
                claims = replayed(minted.claims, operations, _claim_segments)
                self._claims[token] = claims
            violations = _check_claim(token, op, segments, claims, where)
        violations = check_finite(value, where) + violations
        if violations:
            self._refuse(violations)  # raises unless every one is a precaution
        if claims is not None:
            claims.apply(op, segments, value)  # type: ignore[arg-type]
        operations.append(operation)
        if new:
            commands.append({"type": command_type, "value": operations})
        return self

    @classmethod
    def _check_command(
        cls, request: HookRequest, command: dict[str, Any], where: str
    ) -> list[Violation]:
        assert isinstance(request, TokenHookRequest)
        token = _TOKEN_BY_COMMAND[command["type"]]
        minted = request.token(token)
        if minted is None:
            return [_not_minted(token, where)]
        operations = command["value"]
        if type(operations) is not list or not operations:
            return [Violation("patch_shape", f"{where}.value", "the value is a non-empty array")]
        claims = Document(minted.claims)
        violations: list[Violation] = []
        for index, operation in enumerate(operations):
            violations += _check_operation(token, operation, claims, f"{where}.value[{index}]")
        return violations

    @classmethod
    def deny_outcome(cls, request: HookRequest) -> TokenHookResponse:
        """An ``error``: Okta issues no token. The ``"deny"`` failure policy, for token
        hooks that enforce a policy and must not let tokens through unchecked."""
        assert isinstance(request, TokenHookRequest)
        return request.respond().error(DENY_SUMMARY)


def _not_minted(token: Token, where: str) -> Violation:
    return Violation(
        "token_not_minted",
        where,
        f"no {token.name} token is minted in this request, so Okta rejects {token.command_type}",
    )


def _claim_target(claim: ClaimPath) -> tuple[str, list[str]]:
    """The escaped pointer to ``claim`` and its segments as names, the claim's first."""
    if type(claim) is str:
        return "/claims/" + pointer.escape(claim), [claim]
    parts = [claim] if isinstance(claim, str) else list(claim)
    if not parts:
        raise ValueError("a claim path names at least the claim")
    path = pointer.join("/claims", parts)  # refuses segments that are no name or index
    return path, [str(part) for part in parts]


def _claim_segments(path: str) -> list[str] | None:
    """The segments below ``/claims`` of a path the helpers wrote; ``None`` for the lifetime."""
    segments = pointer.split(path)
    return None if segments is None or segments[0] != "claims" else segments[1:]


def _check_operation(token: Token, operation: Any, claims: Document, where: str) -> list[Violation]:
    """Okta's rules for one patch operation on ``token``; an operation that breaks no
    documented rule is applied to ``claims``, for the operations after it."""
    if (
        type(operation) is not dict
        or "op" not in operation
        or "path" not in operation
        or not _OPERATION_MEMBERS.issuperset(operation)
    ):
        return _bad(
            "operation_shape", where, 'an operation is {"op": ..., "path": ..., "value": ...}'
        )
    op, path = operation["op"], operation["path"]
    if op not in ("add", "replace", "remove"):
        return _bad("operation", where, f"op {op!r} is not one of add, replace, remove")
    if type(path) is not str:
        return _bad("path", where, "path is a string")
    if op == "remove" and operation.get("value") is not None:
        return _bad("remove_value", where, "remove carries no value (or null)")
    if op != "remove" and "value" not in operation:
        return _bad("missing_value", where, f"{op} carries a value")
    if path == LIFETIME_PATH:
        return _check_lifetime(op, operation.get("value"), where)
    segments = pointer.split(path)
    if segments is None or len(segments) < 2 or segments[0] != "claims":
        return _bad(
            "path",
            where,
            f"path {path!r} is not /claims/<claim>[/...] (claim names escaped per RFC 6901) "
            f"nor {LIFETIME_PATH}",
        )
    violations = _check_claim(token, op, segments[1:], claims, where)
    if not any(not v.precaution for v in violations):
        claims.apply(op, segments[1:], operation.get("value"))
    return violations


def _check_claim(
    token: Token, op: str, segments: list[str], claims: Document | None, where: str
) -> list[Violation]:
    """Okta's rules for ``op`` on the claim at ``segments`` (names, the claim's first);
    ``claims`` may be ``None`` for an ``add`` of a whole claim, which reads none."""
    claim = segments[0]
    if claim in RESERVED_CLAIMS[token]:
        return _bad(
            "reserved_claim",
            where,
            f"{claim!r} is reserved in the {token.name} token; Okta rejects the whole patch",
        )
    found = _check_presence(op, segments, claims, where)
    if found or (claim and len(claim) <= MAX_CLAIM_NAME and not _CONTROL.search(claim)):
        return found
    return _bad(
        "claim_name",
        where,
        f"claim names are 1 to {MAX_CLAIM_NAME} characters without NUL, CR or LF",
    )


def _bad(rule: str, where: str, message: str) -> list[Violation]:
    return [Violation(rule, where, message)]


def _check_lifetime(op: str, value: Any, where: str) -> list[Violation]:
    if op != "replace":
        return [Violation("lifetime_op", where, f"the lifetime is set with replace, not {op}")]
    if type(value) is not int or not MIN_LIFETIME <= value <= MAX_LIFETIME:
        return [
            Violation(
                "lifetime_range",
                where,
                f"a token lifetime is a whole number of seconds from {MIN_LIFETIME} "
                f"to {MAX_LIFETIME}",
            )
        ]
    return []


def _check_presence(
    op: str, segments: list[str], claims: Document | None, where: str
) -> list[Violation]:
    """Whether the path exists in the claims as ``op`` needs it to."""
    claim = segments[0]
    # add may create a top-level claim or a last segment; everything else must exist.
    must_exist = segments if op != "add" else segments[:-1]
    if not must_exist:
        return []
    assert claims is not None
    node, found = claims.get(must_exist)
    if found < len(must_exist):
        rule = "claim_not_present" if op != "add" else "parent_not_present"
        what = "claim" if found == 0 else "member or element"
        return [
            Violation(
                rule,
                where,
                f"the {what} at {'/'.join(segments[: found + 1])!r} of claim {claim!r} is "
                f"not in the token; Okta rejects the whole patch",
            )
        ]
    if op == "add" and len(segments) > 1:
        position = segments[-1]
        if type(node) in (list, tuple):
            if position != "-" and not (pointer.is_index(position) and int(position) <= len(node)):
                return [
                    Violation(
                        "array_position",
                        where,
                        f"claim {claim!r} is an array of {len(node)}: add at an index from 0 "
                        f"to {len(node)}, or at '-' to append",
                    )
                ]
        elif type(node) is not dict:
            return [
                Violation(
                    "parent_not_present",
                    where,
                    f"claim {claim!r} has no object or array at {'/'.join(segments[:-1])!r}",
                )
            ]
    return []
