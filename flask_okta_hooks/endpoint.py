"""What the blueprint mounts: one handler with its hook type, path and failure policy.

A leaf module, so that the blueprint and the runner below it can both name it without
importing each other.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, overload

from .failure import FailurePolicy, Fallback
from .hook_types import HookType
from .request import HookRequest
from .response import HookResponse

Req = TypeVar("Req", bound=HookRequest)
Resp = TypeVar("Resp", bound=HookResponse)

#: What a handler may return: its hook type's response, a body in wire format, or None.
HandlerResult = HookResponse | Mapping[str, Any] | None
#: A handler: a function of the call, or an ``async def`` one (run through the app's
#: :meth:`~flask.Flask.ensure_sync`, which needs ``asgiref``: the ``async`` extra).
Handler = Callable[[Any], HandlerResult] | Callable[[Any], Awaitable[HandlerResult]]
#: A handler of one hook type, typed with its request and response classes.
SyncHandler = Callable[[Req], Resp | Mapping[str, Any] | None]
AsyncHandler = Callable[[Req], Awaitable[Resp | Mapping[str, Any] | None]]


class Register(Protocol[Req, Resp]):
    """What ``@hooks.token("/path")`` returns: it mounts a plain or an ``async def`` handler
    and gives it back unchanged."""

    @overload
    def __call__(self, handler: SyncHandler[Req, Resp], /) -> SyncHandler[Req, Resp]: ...
    @overload
    def __call__(self, handler: AsyncHandler[Req, Resp], /) -> AsyncHandler[Req, Resp]: ...


#: An endpoint's failure policy: a name (``"safe"``, ``"retry"``, ``"deny"`` ...) or a
#: callable ``(call) -> response | None``; see :mod:`flask_okta_hooks.failure`.
OnFailure = str | Fallback | None


@dataclass(frozen=True)
class Endpoint:
    """One mounted handler: its hook type, path below the prefix, endpoint name, failure
    policy and waived precautions."""

    hook_type: HookType
    path: str
    name: str
    handler: Handler
    policy: FailurePolicy | None = None
    """``None`` means the hook type's ``"safe"`` outcome."""
    waived: frozenset[str] = frozenset()
    """Precautions waived for every answer of this endpoint."""
    coroutine: bool = field(default=False, init=False)
    """Whether ``handler`` is an ``async def`` function; found once, when mounted."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "coroutine", inspect.iscoroutinefunction(self.handler))
