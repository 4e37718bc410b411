"""What the blueprint mounts: one handler with its hook type, path and failure policy.

A leaf module, so that the blueprint and the runner below it can both name it without
importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .failure import FailurePolicy, Fallback
from .hook_types import HookType
from .response import HookResponse

#: What a handler may return: its hook type's response, a body in wire format, or None.
HandlerResult = HookResponse | Mapping[str, Any] | None
#: An endpoint's failure policy: a name (``"safe"``, ``"retry"``, ``"deny"`` ...) or a
#: callable ``(call) -> response | None``; see :mod:`flask_okta_hooks.failure`.
OnFailure = str | Fallback | None


@dataclass(frozen=True)
class Endpoint:
    """One mounted handler: its hook type, path below the prefix, endpoint name and
    failure policy."""

    hook_type: HookType
    path: str
    name: str
    handler: Callable[[Any], HandlerResult]
    policy: FailurePolicy | None = None
    """``None`` means the hook type's ``"safe"`` outcome."""
