"""One exception tree for the extension.

Three families:

* :class:`ConfigurationError`: the app's ``OKTA_HOOKS_*`` settings are wrong; raised when
  the blueprint is registered so a bad deployment fails at start-up.
* :class:`HookRequestError` and subclasses: Okta's call cannot be served (bad auth, bad
  body, wrong hook type). Each carries the HTTP status and a stable machine-readable
  ``code``; the blueprint turns them into one fixed JSON error shape. Messages are fixed
  strings chosen here and never contain request data.
* :class:`HookResponseError` and subclasses: the handler's answer would be rejected or
  silently dropped by Okta. :class:`ResponseRuleError` lists every broken rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .rules import is_precaution


class OktaHooksError(Exception):
    """Base class of every error raised by flask-okta-hooks."""


class ConfigurationError(OktaHooksError, ValueError):
    """An ``OKTA_HOOKS_*`` setting is missing or invalid; the message says what to fix."""


# --- request errors: Okta's call cannot be served --------------------------------------------


class HookRequestError(OktaHooksError):
    """The incoming call cannot be served; rendered as a JSON error response.

    ``status`` is the HTTP status code, ``code`` a stable identifier clients and logs can
    match on, ``message`` a fixed human-readable text (never derived from the request).
    ``fields`` optionally names the payload locations that failed validation, as paths
    built from the schema's own field names.
    """

    status: int = 400
    code: str = "bad_request"
    message: str = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, fields: Sequence[str] = ()) -> None:
        if message is not None:
            self.message = message
        self.fields = tuple(fields)
        super().__init__(self.message)


class Unauthorized(HookRequestError):
    status = 401
    code = "unauthorized"
    message = "The request is not authenticated."


class JwksUnavailable(HookRequestError):
    """The signing keys of the OAuth issuer cannot be fetched and none is cached.

    A server-side fault, not a verdict on the token: Okta retries once where the hook
    type allows it. The token is never accepted unverified.
    """

    status = 503
    code = "jwks_unavailable"
    message = "The keys that verify the request's token cannot be fetched right now."


class TemporarilyUnavailable(HookRequestError):
    """The handler could not answer in time because of a passing fault (a slow dependency,
    a full worker pool); sent only where the endpoint's failure policy is ``"retry"``, so
    that Okta calls once more."""

    status = 503
    code = "temporarily_unavailable"
    message = "The hook cannot answer right now; the call may be retried."


class MethodNotAllowed(HookRequestError):
    """The endpoint does not answer this method; ``allowed`` goes into the ``Allow`` header."""

    status = 405
    code = "method_not_allowed"
    message = "This endpoint accepts POST requests only."

    def __init__(self, allowed: Sequence[str] = ("POST",)) -> None:
        self.allowed = tuple(allowed)
        super().__init__(f"This endpoint accepts {' and '.join(self.allowed)} requests only.")


class PayloadTooLarge(HookRequestError):
    status = 413
    code = "payload_too_large"
    message = "The request body is larger than this endpoint accepts."


class UnsupportedMediaType(HookRequestError):
    status = 415
    code = "unsupported_media_type"
    message = "The request body must be uncompressed JSON sent as application/json."


class EmptyBody(HookRequestError):
    code = "empty_body"
    message = "The request body is empty."


class InvalidJSON(HookRequestError):
    code = "invalid_json"
    message = "The request body is not valid UTF-8 JSON."


class TooDeep(HookRequestError):
    code = "too_deep"
    message = "The request body is nested more deeply than this endpoint accepts."


class TooComplex(HookRequestError):
    code = "too_complex"
    message = "The request body has more members or longer strings than this endpoint accepts."


class DuplicateKeys(HookRequestError):
    code = "duplicate_keys"
    message = "The request body repeats a key inside one JSON object."


class InvalidEnvelope(HookRequestError):
    code = "invalid_envelope"
    message = "The request body is not an Okta hook call: expected an object with a data object."


class WrongEventType(HookRequestError):
    code = "wrong_event_type"
    message = "The request's eventType is not the hook type this endpoint serves."


class InvalidPayload(HookRequestError):
    code = "invalid_payload"
    message = "The request body does not match the payload Okta sends for this hook type."


class InvalidChallenge(HookRequestError):
    code = "invalid_challenge"
    message = "The X-Okta-Verification-Challenge header is not valid UTF-8 text."


class MissingChallenge(InvalidChallenge):
    code = "missing_challenge"
    message = "A GET on an event hook endpoint carries an X-Okta-Verification-Challenge header."


class ChallengeTooLarge(InvalidChallenge):
    code = "challenge_too_large"
    message = "The X-Okta-Verification-Challenge header is longer than this endpoint echoes."


class EventsNotAccepted(HookRequestError):
    """An event hook delivery cannot be taken on right now; Okta retries a 503 once."""

    status = 503
    code = "events_not_accepted"
    message = "The events cannot be accepted right now."


class EventQueueFull(EventsNotAccepted):
    code = "event_queue_full"
    message = "Too many events are waiting to be handled; the delivery was not accepted."


class DedupeUnavailable(EventsNotAccepted):
    code = "dedupe_unavailable"
    message = "The store of handled events cannot be reached; the delivery was not accepted."


class EventHandlerFailed(EventsNotAccepted):
    code = "event_handler_failed"
    message = "An event handler failed; the events it did not handle can be delivered again."


# --- response errors: the handler's answer breaks Okta's rules --------------------------------


@dataclass(frozen=True)
class Violation:
    """One broken rule in a hook response.

    ``rule`` is a stable identifier (for example ``reserved_claim``), ``location`` says
    where in the response body it is (``commands[0].value[1]``), ``message`` explains it.
    """

    rule: str
    location: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message} [{self.rule}]"

    @property
    def precaution(self) -> bool:
        """Whether the rule is the package's own caution rather than Okta's documented
        rule (see :mod:`flask_okta_hooks.rules`)."""
        return is_precaution(self.rule)


class HookResponseError(OktaHooksError):
    """The handler produced something that cannot be sent to Okta."""


class ResponseRuleError(HookResponseError, ValueError):
    """A response breaks Okta's rules; Okta would reject it or drop it silently.

    ``violations`` lists every broken rule; the message names each rule and location.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        lines = "\n".join(
            f"  - {v}{' (precaution)' if v.precaution else ''}" for v in self.violations
        )
        message = f"the response breaks Okta's rules:\n{lines}"
        precautions = sorted({v.rule for v in self.violations if v.precaution})
        if precautions:
            listed = ", ".join(repr(rule) for rule in precautions)
            message += (
                f"\nA precaution is this package's caution where Okta documents no refusal; "
                f"production sends such an answer with a warning. If Okta accepts it, waive "
                f"it for this response with response.waive({listed}), for the endpoint with "
                f"@hooks.<hook type>(waive=[{listed}]) or for the app with "
                f"OKTA_HOOKS_WAIVED_RULES = [{listed}]."
            )
        super().__init__(message)

    @property
    def rules(self) -> tuple[str, ...]:
        """The identifiers of the broken rules, in order."""
        return tuple(v.rule for v in self.violations)


class HandlerResultError(HookResponseError, TypeError):
    """A handler returned something that is not a response this hook type accepts."""


class DeadlineExceeded(HookResponseError):
    """The handler was still running at the call's deadline (``OKTA_HOOKS_DEADLINE``).

    Raised to the developer in strict mode only; otherwise the call gets its failure
    outcome and the handler finishes in the background.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(f"the handler was still running at the {deadline:g} s deadline")
