"""Password import inline hook (``com.okta.user.credential.password.import``).

Okta calls it when a user whose password still lives in another system signs in, with
the username and the password as typed. The handler checks them against that system and
answers with a verdict: ``VERIFIED`` makes Okta store the password and sign the user in,
``UNVERIFIED`` rejects the sign-in. The flow fails closed, and so does this module: only
an explicit :meth:`PasswordImportHookResponse.verified` produces ``VERIFIED``; an empty
answer, an error, a broken handler and the safe outcome all mean ``UNVERIFIED``.

The password arrives as a :class:`~flask_okta_hooks.secret.Secret`, so it does not show
up in logs, tracebacks or ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from marshmallow import fields

from ..constants import ACTION_UPDATE, PASSWORD_IMPORT_EVENT
from ..errors import InvalidPayload, Violation
from ..fastload import SectionLoader
from ..lazy import lazy_property
from ..request import REQUEST_INFO, HookRequest, OktaSchema, OpenEnum, RequestInfo
from ..response import ErrorCause, HookResponse, check_choice
from ..secret import Secret, SecretString


class PasswordVerdict(StrEnum):
    """The two answers Okta takes for an imported password (``value.credential``)."""

    VERIFIED = "VERIFIED"
    """The password is right: Okta stores its own hash of it and signs the user in."""
    UNVERIFIED = "UNVERIFIED"
    """The password is wrong (or cannot be checked): the sign-in fails."""


_VERDICTS = tuple(verdict.value for verdict in PasswordVerdict)


# --- request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordCredential:
    """``data.context.credential``: what the user typed at sign-in.

    Example::

        call.credential.username                  # "isaac.brock@example.com"
        call.credential.password                  # Secret(<secret>)
        call.credential.password.reveal_bytes()   # b"..." for the legacy hash check
    """

    username: str = field(repr=False)
    password: Secret


class PasswordCredentialSchema(OktaSchema):
    model = PasswordCredential
    username = fields.String(required=True)
    password = SecretString(required=True)


class _ActionSchema(OktaSchema):
    unwrap = "credential"
    credential = OpenEnum(PasswordVerdict, load_default=None)


_CREDENTIAL = SectionLoader(PasswordCredentialSchema())
_ACTION = SectionLoader(_ActionSchema())


class PasswordImportHookRequest(HookRequest):
    """A password import inline hook call. Sections are typed and validated when first read.

    Example::

        @hooks.password_import
        def migrate(call: PasswordImportHookRequest) -> PasswordImportHookResponse:
            if legacy_store.check(call.username, call.password.reveal_bytes()):
                return call.respond().verified()
            return call.respond().unverified()
    """

    event_type = PASSWORD_IMPORT_EVENT
    sections = (
        ("context.request", REQUEST_INFO.schema),
        ("context.credential", _CREDENTIAL.schema),
        ("action", _ACTION.schema),
    )
    secret_paths = (("context", "credential", "password"),)

    @lazy_property
    def request_info(self) -> RequestInfo | None:
        """``data.context.request``: the sign-in request (``/api/v1/authn``, ``/idp/idx/...``)."""
        return self._section(REQUEST_INFO, "context", "request")  # type: ignore[no-any-return]

    @lazy_property
    def credential(self) -> PasswordCredential:
        """The username and password typed; Okta always sends them (a 400 otherwise)."""
        return self._section(  # type: ignore[no-any-return]
            _CREDENTIAL, "context", "credential", required=True
        )

    @property
    def username(self) -> str:
        """The username as typed by the user."""
        return self.credential.username

    @property
    def password(self) -> Secret:
        """The password as typed, wrapped: call ``.reveal()`` or ``.reveal_bytes()`` to use it."""
        return self.credential.password

    @lazy_property
    def default_verdict(self) -> PasswordVerdict | str | None:
        """``data.action.credential``: what Okta does on an empty answer (``UNVERIFIED``)."""
        return self._section(_ACTION, "action")  # type: ignore[no-any-return]

    def respond(self) -> PasswordImportHookResponse:
        """Start the response to this call."""
        return PasswordImportHookResponse(self)


# --- response --------------------------------------------------------------------------------


class PasswordImportHookResponse(HookResponse):
    """The verdict on an imported password: exactly one, and ``VERIFIED`` only on request.

    Example::

        return call.respond().verified()            # Okta stores the password
        return call.respond().unverified()          # the sign-in fails
        return None                                 # same as unverified()
    """

    request_class = PasswordImportHookRequest
    command_types = frozenset({ACTION_UPDATE})
    _request: PasswordImportHookRequest

    @property
    def verdict(self) -> PasswordVerdict | None:
        """The verdict given so far, if any."""
        if not self._commands:
            return None
        return PasswordVerdict(self._commands[0]["value"]["credential"])

    def verified(self) -> Self:
        """Accept the password: Okta stores it and signs the user in.

        Refused when an error was reported: an error and an acceptance contradict.
        """
        if self._error is not None:
            self._refuse(
                [
                    Violation(
                        "error_without_unverified",
                        "error",
                        "a response that reports an error cannot accept the password",
                    )
                ]
            )
        return self._verdict(PasswordVerdict.VERIFIED)

    def unverified(self) -> Self:
        """Reject the password: the sign-in fails and Okta asks again next time."""
        return self._verdict(PasswordVerdict.UNVERIFIED)

    def error(self, summary: str | None = None, *causes: ErrorCause) -> Self:
        """Report an error and reject the password.

        Okta does not document what an ``error`` object does for this hook type, so it
        always travels with an explicit ``UNVERIFIED`` and the outcome never depends on it.
        """
        if self.verdict is PasswordVerdict.VERIFIED:
            self._refuse(
                [
                    Violation(
                        "error_without_unverified",
                        "commands[0]",
                        "the password was accepted; an error cannot be reported with it",
                    )
                ]
            )
        super().error(summary, *causes)
        if self.verdict is None:
            self.unverified()
        return self

    def _verdict(self, verdict: PasswordVerdict) -> Self:
        if self._commands:
            self._refuse(
                [
                    Violation(
                        "verdict_repeated",
                        f"commands[{len(self._commands)}]",
                        f"the verdict is already {self.verdict}; a response carries one verdict",
                    )
                ]
            )
        return self._add_command(ACTION_UPDATE, {"credential": verdict.value})

    @classmethod
    def _check_command(
        cls, request: HookRequest, command: dict[str, Any], where: str
    ) -> list[Violation]:
        return check_choice(
            command["value"],
            "credential",
            _VERDICTS,
            where,
            shape_rule="credential_shape",
            value_rule="credential_value",
        )

    @classmethod
    def _check_body(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        commands = body.get("commands", [])
        count = len(commands) if type(commands) is list else -1  # -1: reported by check()
        violations: list[Violation] = []
        if count == 0:
            # Okta would fall back to data.action, which this module does not trust blindly.
            violations.append(
                Violation(
                    "verdict_missing",
                    "commands",
                    "a password import response carries one verdict: call verified() or "
                    "unverified(), or return None",
                )
            )
        elif count > 1:
            violations.append(
                Violation("verdict_repeated", "commands[1]", "a response carries one verdict")
            )
        if "error" in body and not _only_unverified(commands):
            violations.append(
                Violation(
                    "error_without_unverified",
                    "error",
                    "Okta does not document the error object for this hook type: send it "
                    "only with an UNVERIFIED verdict",
                )
            )
        return violations

    @classmethod
    def empty_outcome(cls, request: HookRequest) -> PasswordImportHookResponse | None:
        """An empty 204 makes Okta apply ``data.action.credential``; that is trusted only
        when it is ``UNVERIFIED``, otherwise ``UNVERIFIED`` is sent explicitly."""
        assert isinstance(request, PasswordImportHookRequest)
        try:
            default = request.default_verdict
        except InvalidPayload:  # a malformed default is trusted even less than a missing one
            default = None
        if default is PasswordVerdict.UNVERIFIED:
            return None
        return request.respond().unverified()

    @classmethod
    def fallback_violations(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        """Only a handler that checked the password may accept it: a failure outcome that
        carries anything but ``UNVERIFIED`` is refused."""
        if _only_unverified(body.get("commands")):
            return []
        return [
            Violation(
                "verified_fallback",
                "commands",
                "a failure outcome never accepts a password: answer UNVERIFIED",
            )
        ]

    @classmethod
    def safe_outcome(cls, request: HookRequest) -> PasswordImportHookResponse:
        """``UNVERIFIED``, sent explicitly: the sign-in fails now rather than after a timeout."""
        assert isinstance(request, PasswordImportHookRequest)
        return request.respond().unverified()


def _only_unverified(commands: Any) -> bool:
    return (
        type(commands) is list
        and len(commands) == 1
        and type(commands[0]) is dict
        and commands[0].get("value") == {"credential": PasswordVerdict.UNVERIFIED.value}
    )
