"""The Okta hook handlers of the example service, one module per hook type."""

from __future__ import annotations

from . import registration, saml, token
from .blueprint import hooks

__all__ = ["hooks", "registration", "saml", "token"]
