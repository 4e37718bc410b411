"""Turn a handler's result into the bytes sent to Okta, and a refusal into the one JSON
error shape.

Used by the blueprint (refusals) and the runner (results, under the call's deadline); it
imports neither.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Flask, Response, current_app

from .config import Settings
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

logger = logging.getLogger("flask_okta_hooks")


def render(
    hook_type: HookType,
    call: HookRequest,
    result: HandlerResult,
    checks: Settings | bool = True,
    waived: frozenset[str] = frozenset(),
) -> bytes | None:
    """Turn a handler's result into the bytes to send, ``None`` meaning an empty 204.

    ``checks`` is the endpoint's settings (whether responses are checked, strict mode,
    the precautions waived for the app), or a bool: check or not, outside strict mode.
    ``waived`` holds the precautions waived for the endpoint.

    Raises :class:`~.errors.HandlerResultError` for a result this hook type cannot send
    (cyclic or absurdly deep values included) and :class:`~.errors.ResponseRuleError`
    for one that breaks a documented rule of Okta's, or a precaution in strict mode. A
    broken precaution outside strict mode is logged once and the answer sent as built.
    """
    validate = checks if isinstance(checks, bool) else checks.validate_responses
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
        own_waivers = result.waived
        violations = result._violations(body) if validate else []
    elif isinstance(result, Mapping) and not isinstance(result, HookResponse):
        body = dict(result)
        own_waivers = frozenset()
        violations = hook_type.response_class.check(call, body) if validate else []
    else:
        raise HandlerResultError(
            f"a {hook_type.slug} handler returns a {hook_type.response_class.__name__}, "
            f"a dict in Okta's wire format or None, not {type(result).__name__}"
        )
    if violations:
        _enforce(hook_type, violations, waived | own_waivers, checks)
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


def _enforce(
    hook_type: HookType,
    violations: list[Violation],
    waived: frozenset[str],
    checks: Settings | bool,
) -> None:
    """Raise for documented rules; weigh the precautions that are not waived."""
    if isinstance(checks, Settings):
        waived = waived | checks.waived_rules
    documented = [v for v in violations if not v.precaution]
    precautions = [v for v in violations if v.precaution and v.rule not in waived]
    if documented or (precautions and _strict(checks)):
        raise ResponseRuleError(documented + precautions)
    if precautions:
        # Rule ids and locations only: a message may quote a claim or attribute name.
        logger.warning(
            "okta hook response breaks precautions, sent as the handler built it: hook=%s rules=%s",
            hook_type.slug,
            ",".join(f"{v.rule}@{v.location or '/'}" for v in precautions),
        )


def _strict(checks: Settings | bool) -> bool:
    # A bool comes from a failure policy, whose answer is sent in place of a failed one:
    # raising there would only trade it for the safe outcome, so its precautions warn.
    if isinstance(checks, bool):
        return False
    if checks.strict is not None:
        return checks.strict
    return bool(current_app.debug or current_app.testing)


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
