"""Okta-shaped hook calls: realistic by default, every field overridable.

The test kit (:mod:`flask_okta_hooks.testing`), the ``sample`` and ``simulate`` commands
and the OpenAPI examples all build their calls here.

Each factory starts from a sample shipped with the package (``flask_okta_hooks/samples``,
one realistic call per hook type, shaped like Okta's documented samples) and applies, in
this order: its own keyword arguments, ``drop`` (members of ``data`` to leave out) and
``overrides`` (any member, by dotted path from the root of the call). Every call returns
a fresh ``dict`` that the caller may change freely.

Example::

    token_request(access_claims={"tier": "silver"}, drop=("identity",))
    registration_request(flow="progressive", profile_update={"department": "R&D"})
    telephony_request(otp_code="000111", overrides={"data.messageProfile.locale": "FR-FR"})
    event_hook_request(events=[log_event("user.lifecycle.suspend", uuid="e-1")])
    make_request("token", login="ada@example.com")    # a TokenHookRequest, no HTTP
"""

from __future__ import annotations

import copy
import json
import uuid as uuids
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, overload

from ..hook_types import HOOK_TYPES, HookType
from ..hooks.events import EventHookRequest, OutcomeResult
from ..hooks.password_import import PasswordImportHookRequest
from ..hooks.registration import RegistrationFlow, RegistrationHookRequest
from ..hooks.saml import SamlHookRequest
from ..hooks.telephony import TelephonyHookRequest, TelephonyRequestType
from ..hooks.token import TokenHookRequest
from ..hooks.user_import import UserImportHookRequest
from ..request import HookRequest
from ..routes import hook_type_named


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""An override value, claim or attribute that means "leave this member out"."""

#: A path into a call: dotted text (``"data.context.user.id"``) or its segments, for
#: names that hold dots (``("data", "access", "claims", "https://example.com/tier")``).
#: Array elements are named by their index.
Path = str | Sequence[str | int]
Overrides = Mapping[str, Any] | Mapping[Path, Any]


# --- samples ---------------------------------------------------------------------------------


@cache
def _sample_text(name: str) -> str:
    resource = resources.files("flask_okta_hooks") / "samples" / f"{name}.json"
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LookupError(f"no sample called {name!r}; the samples are {sample_names()}") from None


def sample_names() -> list[str]:
    """The shipped samples: ``"token"``, ``"registration.progressive-profile"`` ..."""
    folder = resources.files("flask_okta_hooks") / "samples"
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


def load_sample(name: str) -> dict[str, Any]:
    """A fresh copy of the shipped sample ``name`` (see :func:`sample_names`)."""
    sample: dict[str, Any] = json.loads(_sample_text(name))
    return sample


# --- paths -----------------------------------------------------------------------------------


def _segments(path: Path) -> list[str | int]:
    if isinstance(path, str):
        if not path:
            raise ValueError("an override path names at least one member")
        return list(path.split("."))
    segments = list(path)
    if not segments:
        raise ValueError("an override path names at least one member")
    return segments


def _index(node: list[Any], segment: str | int, path: Path) -> int:
    index = segment if isinstance(segment, int) else int(segment) if segment.isdigit() else None
    if index is None or not 0 <= index < len(node):
        raise KeyError(f"{path!r}: {segment!r} is not an index of an array of {len(node)}")
    return index


def set_path(payload: dict[str, Any], path: Path, value: Any) -> None:
    """Set the member at ``path``, creating missing objects on the way; :data:`DROP` removes it.

    Example::

        set_path(call, "data.context.user.profile.login", "ada@example.com")
        set_path(call, ("data", "identity", "claims", "a.b"), 1)
        set_path(call, "data.access", DROP)
    """
    *parents, last = _segments(path)
    node: Any = payload
    for segment in parents:
        if isinstance(node, list):
            node = node[_index(node, segment, path)]
            continue
        child = node.get(str(segment))
        if not isinstance(child, dict | list):
            if value is DROP:
                return  # nothing to remove below a member that is absent
            child = node[str(segment)] = {}
        node = child
    if isinstance(node, list):
        index = _index(node, last, path)
        if value is DROP:
            del node[index]
        else:
            node[index] = copy.deepcopy(value)
    elif value is DROP:
        node.pop(str(last), None)
    else:
        node[str(last)] = copy.deepcopy(value)


def get_path(payload: Any, path: Path, default: Any = None) -> Any:
    """The member at ``path``, or ``default`` when it is absent."""
    node = payload
    for segment in _segments(path):
        if isinstance(node, dict) and str(segment) in node:
            node = node[str(segment)]
        elif isinstance(node, list) and str(segment).isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return default
    return node


def apply_overrides(payload: dict[str, Any], overrides: Overrides | None) -> dict[str, Any]:
    """Set every ``path: value`` of ``overrides`` in ``payload`` (in place) and return it."""
    for path, value in (overrides or {}).items():
        set_path(payload, path, value)
    return payload


def _merge(target: dict[str, Any], values: Mapping[str, Any] | None) -> None:
    for name, value in (values or {}).items():
        if value is DROP:
            target.pop(name, None)
        else:
            target[name] = copy.deepcopy(value)


def _finish(payload: dict[str, Any], drop: Iterable[Path], overrides: Overrides | None) -> Any:
    for path in drop:
        set_path(payload, ["data", *_segments(path)], DROP)
    return apply_overrides(payload, overrides)


# --- factories -------------------------------------------------------------------------------


def token_request(
    *,
    id_claims: Mapping[str, Any] | None = None,
    access_claims: Mapping[str, Any] | None = None,
    login: str | None = None,
    user_id: str | None = None,
    client_id: str | None = None,
    grant_type: str | None = None,
    scopes: Sequence[str] | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """A token inline hook call: an authorization-code flow minting an ID and an access token.

    ``id_claims`` and ``access_claims`` are merged into the tokens' claims (:data:`DROP`
    removes one). ``login``, ``user_id`` and ``client_id`` are set everywhere Okta repeats
    them (user, session, claims). ``scopes`` replaces the granted scopes. ``drop`` leaves
    members of ``data`` out, e.g. ``("identity",)`` for a call minting no ID token.

    Example::

        token_request(access_claims={"groups_hint": ["staff"]}, login="ada@example.com")
    """
    payload = load_sample("token")
    data = payload["data"]
    context = data["context"]
    identity, access = data["identity"]["claims"], data["access"]["claims"]
    if login is not None:
        context["user"]["profile"]["login"] = login
        context["session"]["login"] = login
        identity["preferred_username"] = login
        access["sub"] = login
    if user_id is not None:
        context["user"]["id"] = user_id
        context["session"]["userId"] = user_id
        identity["sub"] = user_id
        access["uid"] = user_id
    if client_id is not None:
        context["protocol"]["request"]["client_id"] = client_id
        context["protocol"]["client"]["id"] = client_id
        identity["aud"] = client_id
        access["cid"] = client_id
    if grant_type is not None:
        context["protocol"]["request"]["grant_type"] = grant_type
    if scopes is not None:
        context["protocol"]["request"]["scope"] = " ".join(scopes)
        data["access"]["scopes"] = {
            name: {"id": f"scp{index:017d}", "action": "GRANT"}
            for index, name in enumerate(scopes, start=1)
        }
    _merge(identity, id_claims)
    _merge(access, access_claims)
    return _finish(payload, drop, overrides)  # type: ignore[no-any-return]


def _saml_attribute(values: Any) -> dict[str, Any]:
    if isinstance(values, Mapping):
        return dict(values)
    items = values if isinstance(values, list | tuple) else [values]
    return {
        "attributes": {"NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"},
        "attributeValues": [
            {"attributes": {"xsi:type": _xsi_type(item)}, "value": _text(item)} for item in items
        ],
    }


def _xsi_type(value: Any) -> str:
    if isinstance(value, bool):
        return "xs:boolean"
    return "xs:integer" if isinstance(value, int) else "xs:string"


def _text(value: Any) -> str:
    # Okta sends every SAML attribute value as JSON text, typed integers included.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def saml_request(
    *,
    claims: Mapping[str, Any] | None = None,
    login: str | None = None,
    audience: str | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """A SAML assertion inline hook call for a custom SAML app.

    ``claims`` adds attribute statements: a value or a list of values (typed
    ``xs:string``, ``xs:integer`` or ``xs:boolean`` from the Python value), or a whole
    attribute statement in Okta's shape; :data:`DROP` removes one. ``login`` is the
    user's login and the subject's ``nameId``; ``audience`` the one audience restriction.

    Example::

        saml_request(claims={"groups": ["Everyone", "Admins"], "clearance": 3})
    """
    payload = load_sample("saml")
    data = payload["data"]
    assertion = data["assertion"]
    if login is not None:
        data["context"]["user"]["profile"]["login"] = login
        data["context"]["session"]["login"] = login
        assertion["subject"]["nameId"] = login
    if audience is not None:
        assertion["conditions"]["audienceRestriction"] = [audience]
    for name, values in (claims or {}).items():
        if values is DROP:
            assertion["claims"].pop(name, None)
        else:
            assertion["claims"][name] = _saml_attribute(values)
    return _finish(payload, drop, overrides)  # type: ignore[no-any-return]


#: Names a registration flow is known by, besides Okta's own ``requestType`` values.
REGISTRATION_FLOWS: Mapping[str, str] = {
    "ssr": RegistrationFlow.SELF_SERVICE_REGISTRATION,
    "self-service": RegistrationFlow.SELF_SERVICE_REGISTRATION,
    "registration": RegistrationFlow.SELF_SERVICE_REGISTRATION,
    "progressive": RegistrationFlow.PROGRESSIVE_PROFILE,
    "progressive-profile": RegistrationFlow.PROGRESSIVE_PROFILE,
    "classic": "classic",
    **{flow.value: flow.value for flow in RegistrationFlow},
}


def registration_request(
    *,
    flow: RegistrationFlow | str = RegistrationFlow.SELF_SERVICE_REGISTRATION,
    profile: Mapping[str, Any] | None = None,
    profile_update: Mapping[str, Any] | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """A registration inline hook call, in one of its flows.

    ``flow``: ``"self-service"`` (a new user signs up, the default), ``"progressive"`` (a
    signed-in user adds attributes) or ``"classic"`` (Classic Engine self-service: no
    ``requestType``, ``action`` null). ``profile`` is merged into the submitted form
    (``data.userProfile``) of a registration, or into the user's current profile
    (``data.context.user.profile``) of a progressive profile; ``profile_update`` replaces
    the attributes a progressive profile submits (``data.userProfileUpdate``).

    Example::

        registration_request(profile={"email": "eve@blocked.test"})
        registration_request(flow="progressive", profile_update={"employeeNumber": "4242"})
    """
    kind = REGISTRATION_FLOWS.get(str(flow))
    if kind is None:
        raise ValueError(f"no registration flow {flow!r}; use one of {sorted(REGISTRATION_FLOWS)}")
    progressive = kind == RegistrationFlow.PROGRESSIVE_PROFILE
    if profile_update is not None and not progressive:
        raise ValueError(
            "profile_update is what a progressive profile submits: pass flow='progressive'"
        )
    payload = load_sample("registration.progressive-profile" if progressive else "registration")
    data = payload["data"]
    if kind == "classic":
        del payload["requestType"]
        data["action"] = None
        data["context"]["request"]["url"]["value"] = (
            f"/api/v1/registration/{payload['source']}/register"
        )
    if progressive:
        _merge(data["context"]["user"]["profile"], profile)
        if profile_update is not None:
            data["userProfileUpdate"] = copy.deepcopy(dict(profile_update))
    else:
        _merge(data["userProfile"], profile)
    return _finish(payload, drop, overrides)  # type: ignore[no-any-return]


def password_import_request(
    *,
    username: str | None = None,
    password: str | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """A password import inline hook call: an Identity Engine sign-in with typed credentials.

    Example::

        password_import_request(username="alan@example.com", password="Enigma-1912")
    """
    payload = load_sample("password-import")
    credential = payload["data"]["context"]["credential"]
    if username is not None:
        credential["username"] = username
    if password is not None:
        credential["password"] = password
    return _finish(payload, drop, overrides)  # type: ignore[no-any-return]


def user_import_request(
    *,
    app_user: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
    matched_user_id: str | None = None,
    result: str | None = None,
    conflicts: Sequence[str] | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """A user import inline hook call for one imported user.

    ``app_user`` is merged into the app user's profile, ``profile`` into the Okta profile
    after mapping. ``matched_user_id`` makes the app user match that Okta user, whose
    default action then is ``LINK_USER`` unless ``result`` says otherwise.

    Example::

        user_import_request(app_user={"department": None}, matched_user_id="00u1abc")
    """
    payload = load_sample("user-import")
    data = payload["data"]
    _merge(data["appUser"]["profile"], app_user)
    _merge(data["user"]["profile"], profile)
    if matched_user_id is not None:
        data["user"]["id"] = matched_user_id
        data["action"]["result"] = "LINK_USER"
    if result is not None:
        data["action"]["result"] = str(result)
    if conflicts is not None:
        data["context"]["conflicts"] = list(conflicts)
    return _finish(payload, drop, overrides)  # type: ignore[no-any-return]


def telephony_request(
    *,
    request_type: TelephonyRequestType | str | None = None,
    phone_number: str | None = None,
    otp_code: str | None = None,
    delivery_channel: str | None = None,
    message: str | None = None,
    locale: str | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """A telephony inline hook call: an SMS code for a sign-in (MFA verification).

    ``request_type`` names the flow (a :class:`~.TelephonyRequestType`); ``otp_code``
    also goes into the message text unless ``message`` is given; ``delivery_channel`` is
    ``"SMS"`` or a voice value such as ``"voice call"``.

    Example::

        telephony_request(request_type=TelephonyRequestType.PRE_ENROLLMENT, otp_code="314159")
    """
    payload = load_sample("telephony")
    profile = payload["data"]["messageProfile"]
    if request_type is not None:
        payload["requestType"] = str(request_type)
    if phone_number is not None:
        profile["phoneNumber"] = phone_number
    if otp_code is not None:
        if message is None:
            profile["msgTemplate"] = profile["msgTemplate"].replace(profile["otpCode"], otp_code)
        profile["otpCode"] = otp_code
    if message is not None:
        profile["msgTemplate"] = message
    if delivery_channel is not None:
        profile["deliveryChannel"] = delivery_channel
    if locale is not None:
        profile["locale"] = locale
    return _finish(payload, drop, overrides)  # type: ignore[no-any-return]


def log_event(
    event_type: str | None = None,
    *,
    uuid: str | None = None,
    published: str | datetime | None = None,
    outcome: OutcomeResult | str | Mapping[str, Any] | None = None,
    actor: Mapping[str, Any] | None = None,
    targets: Sequence[Mapping[str, Any]] | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
    **members: Any,
) -> dict[str, Any]:
    """One System Log event (a ``LogEvent``), to put in :func:`event_hook_request`.

    It starts from the first event of the shipped delivery: an admin deactivating a user.
    ``uuid`` is new on every call unless given, so events built apart are distinct
    events; give two events one ``uuid`` to send the same event twice, as Okta may
    (``drop=("uuid",)`` sends one without).
    ``published`` takes text or an aware ``datetime``; ``outcome`` a result
    (``"SUCCESS"``, ``OutcomeResult.FAILURE`` ...) or the whole ``outcome`` object;
    ``actor`` replaces the actor and ``targets`` the ``target`` list. ``members`` set
    other top-level members by their Okta name (:data:`DROP` removes one); ``drop`` and
    ``overrides`` take paths from the event's root.

    Example::

        log_event("user.import.password", outcome="SUCCESS",
                  targets=[{"id": "00u1abc", "type": "User", "alternateId": "ada@example.com"}])
        log_event(uuid="same-event", severity="WARN", debugContext=DROP)
    """
    event: dict[str, Any] = load_sample("events")["data"]["events"][0]
    if event_type is not None:
        event["eventType"] = event_type
    event["uuid"] = str(uuids.uuid4()) if uuid is None else uuid
    if isinstance(published, datetime):
        if published.tzinfo is None:
            raise ValueError("published is an aware datetime: Okta sends UTC times")
        stamp = published.astimezone(UTC).isoformat(timespec="milliseconds")
        event["published"] = stamp.replace("+00:00", "Z")
    elif published is not None:
        event["published"] = published
    if isinstance(outcome, Mapping):
        event["outcome"] = copy.deepcopy(dict(outcome))
    elif outcome is not None:
        event["outcome"] = {"result": str(outcome), "reason": None}
    if actor is not None:
        event["actor"] = copy.deepcopy(dict(actor))
    if targets is not None:
        event["target"] = [copy.deepcopy(dict(target)) for target in targets]
    _merge(event, members)
    for path in drop:
        set_path(event, path, DROP)
    return apply_overrides(event, overrides)


def event_hook_request(
    events: Sequence[Mapping[str, Any] | str] | None = None,
    *,
    event_id: str | None = None,
    drop: Iterable[Path] = (),
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """An event hook delivery: a batch of System Log events.

    Without ``events`` it carries the shipped batch (a user deactivated, an admin's
    sign-in). ``events`` are events in wire format, e.g. from :func:`log_event`; an event
    type alone stands for ``log_event(event_type)``. ``event_id`` is the delivery's id.

    Example::

        event_hook_request(events=[log_event("user.lifecycle.suspend"), "user.session.end"])
        event_hook_request(events=[])                 # an empty batch, acknowledged
    """
    payload = load_sample("events")
    if events is not None:
        payload["data"]["events"] = [
            log_event(event) if isinstance(event, str) else copy.deepcopy(dict(event))
            for event in events
        ]
    if event_id is not None:
        payload["eventId"] = event_id
    return _finish(payload, drop, overrides)  # type: ignore[no-any-return]


def generic_request(
    slug: str, *, drop: Iterable[Path] = (), overrides: Overrides | None = None
) -> dict[str, Any]:
    """The shipped sample of a hook type without a factory of its own, with changes."""
    return _finish(load_sample(slug), drop, overrides)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PayloadFactory:
    """How to build calls of one hook type, and its named variants (keyword sets)."""

    build: Callable[..., dict[str, Any]]
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


#: The factory of each hook type by slug. A hook type missing here gets
#: :func:`generic_request` over its shipped sample ``samples/<slug>.json``.
FACTORIES: Mapping[str, PayloadFactory] = {
    "token": PayloadFactory(
        token_request,
        {
            "client-credentials": {
                "grant_type": "client_credentials",
                "drop": ("identity", "context.user", "context.session", "refresh_token"),
            },
        },
    ),
    "saml": PayloadFactory(saml_request),
    "registration": PayloadFactory(
        registration_request,
        {
            "progressive-profile": {"flow": RegistrationFlow.PROGRESSIVE_PROFILE},
            "classic": {"flow": "classic"},
        },
    ),
    "password-import": PayloadFactory(
        password_import_request,
        {"classic": {"overrides": {"data.context.request.url.value": "/api/v1/authn"}}},
    ),
    "user-import": PayloadFactory(
        user_import_request, {"matched": {"matched_user_id": "00u5d9h3l7QcZbXa6x7"}}
    ),
    "telephony": PayloadFactory(
        telephony_request,
        {
            "enrollment": {"request_type": TelephonyRequestType.PRE_ENROLLMENT},
            "account-unlock": {"request_type": TelephonyRequestType.ACCOUNT_UNLOCK},
            "password-reset": {"request_type": TelephonyRequestType.PASSWORD_RESET},
            "voice": {"delivery_channel": "voice call", "drop": ("messageProfile.msgTemplate",)},
        },
    ),
    "events": PayloadFactory(event_hook_request),
}


def variants(hook: str | HookType) -> tuple[str, ...]:
    """The named variants of a hook type's calls, e.g. ``("classic", "progressive-profile")``."""
    factory = FACTORIES.get(hook_type_named(hook).slug)
    return tuple(sorted(factory.variants)) if factory is not None else ()


def make_payload(hook: str | HookType, variant: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """A call of any hook type, by slug: ``make_payload("token", login="ada@example.com")``.

    ``variant`` starts from a named variant (see :func:`variants`); ``kwargs`` go to the
    hook type's factory (``drop`` and ``overrides`` work for every type).
    """
    slug = hook_type_named(hook).slug
    factory = FACTORIES.get(slug)
    if variant is not None:
        known = variants(slug)
        if not known:
            raise LookupError(f"the {slug} hook type has no variants")
        if variant not in known:
            raise LookupError(
                f"no {slug} variant {variant!r}; the variants are: {', '.join(known)}"
            )
    if factory is None:
        return generic_request(slug, **kwargs)
    if variant is not None:
        kwargs = {**factory.variants[variant], **kwargs}
    return factory.build(**kwargs)


@overload
def make_request(
    hook: Literal["token"], variant: str | None = ..., **kwargs: Any
) -> TokenHookRequest: ...
@overload
def make_request(
    hook: Literal["saml"], variant: str | None = ..., **kwargs: Any
) -> SamlHookRequest: ...
@overload
def make_request(
    hook: Literal["registration"], variant: str | None = ..., **kwargs: Any
) -> RegistrationHookRequest: ...
@overload
def make_request(
    hook: Literal["password-import"], variant: str | None = ..., **kwargs: Any
) -> PasswordImportHookRequest: ...
@overload
def make_request(
    hook: Literal["user-import"], variant: str | None = ..., **kwargs: Any
) -> UserImportHookRequest: ...
@overload
def make_request(
    hook: Literal["telephony"], variant: str | None = ..., **kwargs: Any
) -> TelephonyHookRequest: ...
@overload
def make_request(
    hook: Literal["events"], variant: str | None = ..., **kwargs: Any
) -> EventHookRequest: ...
@overload
def make_request(hook: str | HookType, variant: str | None = ..., **kwargs: Any) -> HookRequest: ...


def make_request(hook: str | HookType, variant: str | None = None, **kwargs: Any) -> HookRequest:
    """A typed request object, built as the blueprint builds it, without HTTP.

    Takes what :func:`make_payload` takes; hand the result to a handler to unit-test it::

        call = make_request("token", access_claims={"tier": "silver"})
        assert_claim_added(enrich(call), token=Token.ACCESS, name="tier_label")
    """
    hook_type = hook_type_named(hook)
    return hook_type.request_class.from_payload(make_payload(hook_type, variant, **kwargs))


def request_from_payload(payload: Mapping[str, Any]) -> HookRequest:
    """The typed request for a call in wire format, of whichever hook type it names.

    Raises :class:`LookupError` when ``eventType`` names no hook type this library serves.
    """
    event_type = payload.get("eventType")
    for hook_type in HOOK_TYPES:
        if hook_type.event_type == event_type:
            return hook_type.request_class.from_payload(copy.deepcopy(dict(payload)))
    raise LookupError(f"no hook type has the eventType {event_type!r}")
