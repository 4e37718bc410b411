"""The one table of hook types.

Everything that differs between Okta's hook types and is data lives in a row here: the
default path, Okta's ``eventType``, the request and response classes (which carry the
schemas and Okta's rules), whether an empty 204 is a valid answer, which way Okta fails
when the hook does not answer, whether Okta retries a failed call, the failure outcomes
an endpoint may choose instead of the safe one, which HTTP methods the endpoint answers,
whether Okta can authenticate with OAuth 2.0, where an admin registers the URL and the
sections every real call carries. Adding a hook type means one module and one row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .hooks.events import EventHookRequest, EventHookResponse
from .hooks.password_import import PasswordImportHookRequest, PasswordImportHookResponse
from .hooks.registration import RegistrationHookRequest, RegistrationHookResponse
from .hooks.saml import SamlHookRequest, SamlHookResponse
from .hooks.telephony import TelephonyHookRequest, TelephonyHookResponse
from .hooks.token import TokenHookRequest, TokenHookResponse
from .hooks.user_import import UserImportHookRequest, UserImportHookResponse
from .request import HookRequest
from .response import HookResponse


class FailureDirection(StrEnum):
    """What Okta does when the hook fails or times out."""

    OPEN = "open"
    """The flow goes on without the hook's changes."""
    CLOSED = "closed"
    """The flow stops: the user is denied."""
    LOGGED = "logged"
    """Nothing waits on the hook: Okta logs the failed delivery (and retries a 5xx once)."""


@dataclass(frozen=True)
class HookType:
    """One Okta hook type; see :data:`HOOK_TYPES`."""

    slug: str
    """Default path below the blueprint's prefix, and the decorator's name with ``_``."""
    event_type: str
    """Okta's ``eventType`` for this hook type (also the inline hook's ``type``)."""
    request_class: type[HookRequest]
    response_class: type[HookResponse]
    empty_allowed: bool
    """Whether Okta takes an empty 204 as a valid answer."""
    okta_fails: FailureDirection
    """What Okta does on a timeout or an error status."""
    title: str
    methods: tuple[str, ...] = ("POST",)
    """The HTTP methods the endpoint answers; any other gets a 405 with this ``Allow``."""
    bearer_auth: bool = True
    """Whether Okta can authenticate this type's calls with an OAuth 2.0 bearer token.
    Types that cannot are authenticated with the shared header secret in every mode."""
    admin_page: str = "Workflow > Inline Hooks"
    """Where in Okta's Admin Console the endpoint's URL is registered."""
    okta_retries: bool = True
    """Whether Okta calls once more after a timeout or a 5xx (never for token and
    telephony hooks); the ``"retry"`` failure policy exists only where it does."""
    fallbacks: tuple[tuple[str, Callable[[Any], HookResponse | None]], ...] = ()
    """Named failure outcomes an endpoint may choose with ``on_failure``, besides
    ``"safe"`` (:meth:`HookResponse.safe_outcome`) and ``"retry"``."""
    required_sections: tuple[str, ...] = ("context",)
    """Paths below ``data`` that every real call has (objects; arrays end in ``[]``). A
    call without one, or with a null or another JSON type there, is refused with
    ``400 invalid_envelope`` naming it before the handler runs. Only what Okta's contract
    is sure of: a refused real call costs the user the flow where Okta fails closed."""

    def __post_init__(self) -> None:
        # The request class checks them where it checks the envelope, for every caller.
        self.request_class.require(self.required_sections)

    @property
    def default_path(self) -> str:
        return "/" + self.slug


TOKEN = HookType(
    slug="token",
    event_type=TokenHookRequest.event_type,
    request_class=TokenHookRequest,
    response_class=TokenHookResponse,
    empty_allowed=True,
    okta_fails=FailureDirection.OPEN,
    title="Token inline hook",
    okta_retries=False,
    # The reference also lists data.context.protocol as always sent, but neither Okta's
    # spec nor its samples' schema needs it, and which tokens are minted (data.identity,
    # data.access) is only inferred; the hook is skipped on a 400, so they are not required.
    required_sections=("context",),
    fallbacks=(("deny", TokenHookResponse.deny_outcome),),
)

SAML = HookType(
    slug="saml",
    event_type=SamlHookRequest.event_type,
    request_class=SamlHookRequest,
    response_class=SamlHookResponse,
    empty_allowed=True,
    okta_fails=FailureDirection.OPEN,
    title="SAML assertion inline hook",
    required_sections=("context", "assertion"),
    fallbacks=(("deny", SamlHookResponse.deny_outcome),),
)

REGISTRATION = HookType(
    slug="registration",
    event_type=RegistrationHookRequest.event_type,
    request_class=RegistrationHookRequest,
    response_class=RegistrationHookResponse,
    empty_allowed=True,
    okta_fails=FailureDirection.CLOSED,
    title="Registration inline hook",
    # data.userProfile (self-service) or data.userProfileUpdate (progressive profile)
    # depends on requestType, which Classic Engine leaves out: neither is required.
    required_sections=("context",),
    fallbacks=(("allow", RegistrationHookResponse.allow_outcome),),
)

PASSWORD_IMPORT = HookType(
    slug="password-import",
    event_type=PasswordImportHookRequest.event_type,
    request_class=PasswordImportHookRequest,
    response_class=PasswordImportHookResponse,
    empty_allowed=True,
    okta_fails=FailureDirection.CLOSED,
    title="Password import inline hook",
    required_sections=("context", "context.credential"),
)

USER_IMPORT = HookType(
    slug="user-import",
    event_type=UserImportHookRequest.event_type,
    request_class=UserImportHookRequest,
    response_class=UserImportHookResponse,
    empty_allowed=True,
    okta_fails=FailureDirection.OPEN,
    title="User import inline hook",
    # data.appUser and data.user are in every sample, but Okta states no presence rule.
    required_sections=("context",),
    fallbacks=(("error", UserImportHookResponse.error_outcome),),
)

TELEPHONY = HookType(
    slug="telephony",
    event_type=TelephonyHookRequest.event_type,
    request_class=TelephonyHookRequest,
    response_class=TelephonyHookResponse,
    empty_allowed=False,
    okta_fails=FailureDirection.OPEN,
    title="Telephony inline hook",
    okta_retries=False,
    required_sections=("context", "messageProfile"),
)

EVENTS = HookType(
    slug="events",
    event_type=EventHookRequest.event_type,
    request_class=EventHookRequest,
    response_class=EventHookResponse,
    empty_allowed=True,
    okta_fails=FailureDirection.LOGGED,
    title="Event hook",
    # GET is Okta's one-time verification of the endpoint.
    methods=("GET", "POST"),
    # Okta offers event hooks the header secret only.
    bearer_auth=False,
    admin_page="Workflow > Event Hooks",
    # Event hooks carry no data.context.
    required_sections=("events[]",),
)

HOOK_TYPES: tuple[HookType, ...] = (
    TOKEN,
    SAML,
    REGISTRATION,
    PASSWORD_IMPORT,
    USER_IMPORT,
    TELEPHONY,
    EVENTS,
)
HOOK_TYPES_BY_SLUG = {hook_type.slug: hook_type for hook_type in HOOK_TYPES}
