"""Serve Okta inline hooks and event hooks from a Flask app.

Mount an :class:`OktaHooks` blueprint, decorate one handler per hook type, and answer
with the typed response helpers; requests are authenticated and validated, responses
checked against Okta's rules, before anything reaches Okta.
"""

from .blueprint import OktaHooks, render
from .errors import (
    ConfigurationError,
    DeadlineExceeded,
    HandlerResultError,
    HookRequestError,
    HookResponseError,
    OktaHooksError,
    ResponseRuleError,
    TemporarilyUnavailable,
    Violation,
)
from .failure import Failure, FailurePolicy, Reason
from .hook_types import HOOK_TYPES, FailureDirection, HookType
from .hooks.password_import import (
    PasswordCredential,
    PasswordImportHookRequest,
    PasswordImportHookResponse,
    PasswordVerdict,
)
from .hooks.registration import (
    RegistrationFlow,
    RegistrationHookRequest,
    RegistrationHookResponse,
    field_error,
)
from .hooks.saml import (
    AssertionSection,
    AttributeNameFormat,
    SamlAttribute,
    SamlAttributeValue,
    SamlAuthentication,
    SamlConditions,
    SamlHookRequest,
    SamlHookResponse,
    SamlIssuer,
    SamlProtocol,
    SamlSubject,
    SubjectConfirmation,
)
from .hooks.telephony import (
    DeliveryChannel,
    DeliveryStatus,
    MessageProfile,
    TelephonyHookRequest,
    TelephonyHookResponse,
    TelephonyRequestType,
    TelephonyUser,
)
from .hooks.token import MintedToken, Token, TokenHookRequest, TokenHookResponse
from .hooks.user_import import (
    AppUserProfile,
    ImportApplication,
    ImportContext,
    ImportJob,
    ImportResult,
    ImportUser,
    UserImportHookRequest,
    UserImportHookResponse,
)
from .redaction import RedactingFilter
from .request import HookRequest, OktaSession, OktaUser, RequestInfo, UserProfile
from .response import ErrorCause, HookResponse
from .secret import Secret

__all__ = [
    "HOOK_TYPES",
    "AppUserProfile",
    "AssertionSection",
    "AttributeNameFormat",
    "ConfigurationError",
    "DeadlineExceeded",
    "DeliveryChannel",
    "DeliveryStatus",
    "ErrorCause",
    "Failure",
    "FailureDirection",
    "FailurePolicy",
    "HandlerResultError",
    "HookRequest",
    "HookRequestError",
    "HookResponse",
    "HookResponseError",
    "HookType",
    "ImportApplication",
    "ImportContext",
    "ImportJob",
    "ImportResult",
    "ImportUser",
    "MessageProfile",
    "MintedToken",
    "OktaHooks",
    "OktaHooksError",
    "OktaSession",
    "OktaUser",
    "PasswordCredential",
    "PasswordImportHookRequest",
    "PasswordImportHookResponse",
    "PasswordVerdict",
    "Reason",
    "RedactingFilter",
    "RegistrationFlow",
    "RegistrationHookRequest",
    "RegistrationHookResponse",
    "RequestInfo",
    "ResponseRuleError",
    "SamlAttribute",
    "SamlAttributeValue",
    "SamlAuthentication",
    "SamlConditions",
    "SamlHookRequest",
    "SamlHookResponse",
    "SamlIssuer",
    "SamlProtocol",
    "SamlSubject",
    "Secret",
    "SubjectConfirmation",
    "TelephonyHookRequest",
    "TelephonyHookResponse",
    "TelephonyRequestType",
    "TelephonyUser",
    "TemporarilyUnavailable",
    "Token",
    "TokenHookRequest",
    "TokenHookResponse",
    "UserImportHookRequest",
    "UserImportHookResponse",
    "UserProfile",
    "Violation",
    "field_error",
    "render",
]
