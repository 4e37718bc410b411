"""Okta's verdict on an answer: would Okta take it, and what happens when it does not.

Shared by the test kit's assertions, the ``simulate`` command and the OpenAPI document,
so all three judge an answer by the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .constants import MAX_RESPONSE_BYTES
from .errors import Violation
from .hook_types import FailureDirection, HookType
from .request import HookRequest

#: What Okta does when a hook answers with something it cannot use, by failure direction.
OKTA_ON_FAILURE: Mapping[FailureDirection, str] = {
    FailureDirection.OPEN: "Okta goes on without the hook's changes",
    FailureDirection.CLOSED: "Okta stops the flow: the user is denied",
    FailureDirection.LOGGED: "Okta logs a failed delivery and sends it once more after a "
    "timeout or a 5xx, never after a 4xx; after that the events are not delivered",
}


def parse_body(data: bytes) -> Any:
    """A body as JSON; ``None`` when empty, the text itself when it is not JSON."""
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def okta_verdict(
    hook_type: HookType, request: HookRequest | None, status: int, body: bytes | Any
) -> list[Violation]:
    """Every reason Okta would reject or silently drop this answer (empty when it takes it).

    ``body`` is the raw answer (``bytes``) or its parsed JSON. Without ``request`` the
    rules that need it (which tokens are minted ...) cannot be checked, so the request
    is required for a 200. A broken precaution is no such reason: Okta documents no
    refusal there (see :func:`answer_violations`).
    """
    return [v for v in answer_violations(hook_type, request, status, body) if not v.precaution]


def answer_violations(
    hook_type: HookType, request: HookRequest | None, status: int, body: bytes | Any
) -> list[Violation]:
    """What :func:`okta_verdict` finds, and the precautions the answer breaks besides."""
    raw = body if isinstance(body, bytes) else None
    parsed = parse_body(body) if isinstance(body, bytes) else body
    consequence = OKTA_ON_FAILURE[hook_type.okta_fails]
    reads_body = hook_type.response_class.reads_body
    if status == 204:
        if parsed is not None:
            return [Violation("empty_with_body", "", "a 204 carries no body")]
        if not hook_type.empty_allowed:
            return [
                Violation(
                    "empty_not_allowed",
                    "",
                    f"Okta does not take an empty answer from a {hook_type.slug} hook: "
                    f"{consequence}",
                )
            ]
        return []
    if status != 200:
        return [
            Violation(
                "status",
                "",
                f"Okta treats HTTP {status} as a failed hook call: {consequence}",
            )
        ]
    if parsed is None and not reads_body:
        return []  # a 200 that only acknowledges the call, as Okta asks of event hooks
    if raw is not None and len(raw) >= MAX_RESPONSE_BYTES:
        return [
            Violation(
                "response_too_large", "", f"Okta takes answers under {MAX_RESPONSE_BYTES} bytes"
            )
        ]
    if not isinstance(parsed, dict):
        return [Violation("body_shape", "", f"a 200 carries a JSON object: {consequence}")]
    if request is None:
        raise ValueError("Okta's rules for a response depend on its request: pass the request")
    return hook_type.response_class.check(request, parsed)


def verification_verdict(
    hook_type: HookType, challenge: str, status: int, body: bytes | Any
) -> list[Violation]:
    """Every reason Okta would fail its verification GET of a ``hook_type`` endpoint.

    Okta wants a 200 whose JSON body echoes ``challenge`` (see
    :attr:`~flask_okta_hooks.request.HookRequest.verification`); the event hook stays
    unverified otherwise, and gets no events.
    """
    verification = hook_type.request_class.verification
    if verification is None:
        raise ValueError(f"Okta does not verify {hook_type.slug} hooks with a GET")
    expected = verification.answer(challenge)
    if status != 200:
        return [Violation("status", "", f"Okta takes only a 200 as verified, not HTTP {status}")]
    parsed = parse_body(body) if isinstance(body, bytes) else body
    if parsed != expected:
        return [
            Violation(
                "verification_answer",
                verification.member,
                f"the body must be exactly {json.dumps(expected)}",
            )
        ]
    return []
