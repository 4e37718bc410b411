"""Serve Okta inline hooks and event hooks from a Flask app.

Mount an :class:`OktaHooks` blueprint, decorate one handler per hook type, and answer
with the typed response helpers; requests are authenticated and validated, responses
checked against Okta's rules, before anything reaches Okta.
"""

from .blueprint import OktaHooks, render
from .errors import (
    ConfigurationError,
    HandlerResultError,
    HookRequestError,
    HookResponseError,
    OktaHooksError,
    ResponseRuleError,
    Violation,
)
from .hook_types import HOOK_TYPES, FailureDirection, HookType
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
from .hooks.token import MintedToken, Token, TokenHookRequest, TokenHookResponse
from .request import HookRequest, OktaSession, OktaUser, RequestInfo, UserProfile
from .response import ErrorCause, HookResponse

__all__ = [
    "HOOK_TYPES",
    "AssertionSection",
    "AttributeNameFormat",
    "ConfigurationError",
    "ErrorCause",
    "FailureDirection",
    "HandlerResultError",
    "HookRequest",
    "HookRequestError",
    "HookResponse",
    "HookResponseError",
    "HookType",
    "MintedToken",
    "OktaHooks",
    "OktaHooksError",
    "OktaSession",
    "OktaUser",
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
    "SubjectConfirmation",
    "Token",
    "TokenHookRequest",
    "TokenHookResponse",
    "UserProfile",
    "Violation",
    "field_error",
    "render",
]
