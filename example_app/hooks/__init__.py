"""The Okta hook handlers of the example service, one module per hook type."""

from __future__ import annotations

from . import events, password_import, registration, saml, telephony, token, user_import
from .blueprint import hooks

__all__ = [
    "events",
    "hooks",
    "password_import",
    "registration",
    "saml",
    "telephony",
    "token",
    "user_import",
]
