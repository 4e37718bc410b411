"""Turn a handler's result into the bytes sent to Okta, and a refusal into the one JSON
error shape.

Used by the blueprint (refusals) and the runner (results, under the call's deadline); it
imports neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from flask import Flask, Response

from .constants import MAX_RESPONSE_BYTES
from .endpoint import HandlerResult
from .errors import (
    HandlerResultError,
    HookRequestError,
    MethodNotAllowed,
    ResponseRuleError,
    Violation,
)
from .hook_types import HookType
from .request import HookRequest
from .response import HookResponse


def render(
    hook_type: HookType, call: HookRequest, result: HandlerResult, validate: bool = True
) -> bytes | None:
    """Turn a handler's result into the bytes to send, ``None`` meaning an empty 204.

    Raises :class:`~.errors.HandlerResultError` for a result this hook type cannot send
    and :class:`~.errors.ResponseRuleError` for one that breaks Okta's rules.
    """
    if result is None:
        if not hook_type.empty_allowed:
            raise HandlerResultError(
                f"a {hook_type.slug} handler must return a {hook_type.response_class.__name__}: "
                f"Okta does not accept an empty answer for this hook type"
            )
        result = hook_type.response_class.empty_outcome(call)
        if result is None:
            return None
    if isinstance(result, hook_type.response_class):
        if result.request is not call:
            raise HandlerResultError("the handler returned a response to another request")
        body = result.to_dict()
        # What violations() checks, on the body already built.
        violations = result._check_body(call, body) if validate else []
    elif isinstance(result, Mapping) and not isinstance(result, HookResponse):
        body = dict(result)
        violations = hook_type.response_class.check(call, body) if validate else []
    else:
        raise HandlerResultError(
            f"a {hook_type.slug} handler returns a {hook_type.response_class.__name__}, "
            f"a dict in Okta's wire format or None, not {type(result).__name__}"
        )
    if violations:
        raise ResponseRuleError(violations)
    try:
        data = orjson.dumps(body)
    except orjson.JSONEncodeError:
        raise ResponseRuleError(
            [Violation("not_json", "", "the response holds values JSON cannot represent")]
        ) from None
    if len(data) >= MAX_RESPONSE_BYTES:
        raise ResponseRuleError(
            [
                Violation(
                    "response_too_large",
                    "",
                    f"Okta takes responses under {MAX_RESPONSE_BYTES} bytes",
                )
            ]
        )
    return data


def error_response(app: Flask, exc: HookRequestError) -> Response:
    """The one JSON error shape: ``{"error": {"code", "message"[, "fields"]}}``."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.fields:
        error["fields"] = list(exc.fields)
    response = app.response_class(
        orjson.dumps({"error": error}), status=exc.status, mimetype="application/json"
    )
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.allowed)
    return response
