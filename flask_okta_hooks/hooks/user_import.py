"""User import inline hook (``com.okta.import.transform``).

Okta calls it once per user during an app import, after profile mappings and matching
ran and before it creates or links the Okta user. The handler may change the app user
profile or the Okta user profile, choose between creating a new Okta user and linking to
an existing one, or report an error (Okta records it in its System Log). An empty answer,
``{}`` or a 204, keeps Okta's default action; so does a timeout, and so does the safe
outcome of this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from marshmallow import fields

from ..constants import (
    ACTION_UPDATE,
    APP_USER_PROFILE_UPDATE,
    USER_IMPORT_EVENT,
    USER_PROFILE_UPDATE,
    USER_UPDATE,
)
from ..errors import InvalidPayload, ResponseRuleError, Violation
from ..fastload import QuickField, SectionLoader, unsure
from ..lazy import lazy_property
from ..request import HookRequest, OktaSchema, OpenEnum, StringTuple, UserProfile
from ..request import UserProfileSchema as _UserProfileSchema
from ..response import HookResponse, check_choice, check_profile

#: The ``errorSummary`` of the ``"error"`` failure outcome, recorded in Okta's System Log.
ERROR_SUMMARY = "The import hook could not process this user."


class ImportResult(StrEnum):
    """What Okta does with the imported user (``action.result``)."""

    CREATE_USER = "CREATE_USER"
    """Create a new Okta user from the app user."""
    LINK_USER = "LINK_USER"
    """Treat the app user as an existing Okta user (named by ``com.okta.user.update``)."""


_RESULTS = tuple(result.value for result in ImportResult)
_PROFILE_COMMANDS = frozenset({APP_USER_PROFILE_UPDATE, USER_PROFILE_UPDATE})


# --- request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppUserProfile:
    """``data.appUser.profile``: the app user's attributes, named as the app names them.

    Values are whatever the app holds: strings, ``None``, arrays ... Example::

        call.app_user_profile.get("userName")     # "administrator2"
        call.app_user_profile.attributes           # every attribute
    """

    attributes: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def get(self, name: str, default: Any = None) -> Any:
        """One attribute by its app name."""
        return self.attributes.get(name, default)


class AppUserProfileSchema(OktaSchema):
    def build(self, data: dict[str, Any], original: Any) -> AppUserProfile:
        return AppUserProfile(attributes=dict(original))


class _ImportUserProfileSchema(_UserProfileSchema):
    # Mapping may leave any attribute empty before the handler fixes it, the login too.
    login = fields.String(load_default=None, allow_none=True)


@dataclass(frozen=True)
class ImportUser:
    """``data.user``: the Okta user Okta intends to create or link, after mapping."""

    profile: UserProfile = field(default_factory=UserProfile, repr=False)
    id: str | None = None
    """The matched Okta user; set only when the app user matched one."""


class ImportUserSchema(OktaSchema):
    model = ImportUser
    profile = fields.Nested(_ImportUserProfileSchema, load_default=UserProfile)
    id = fields.String(load_default=None, allow_none=True)


@dataclass(frozen=True)
class ImportApplication:
    """``data.context.application``: the app the users are imported from."""

    id: str | None = None
    name: str | None = None
    label: str | None = None
    status: str | None = None


class ImportApplicationSchema(OktaSchema):
    model = ImportApplication
    id = fields.String(load_default=None)
    name = fields.String(load_default=None)
    label = fields.String(load_default=None)
    status = fields.String(load_default=None)


@dataclass(frozen=True)
class ImportJob:
    """``data.context.job``: the import job, e.g. type ``import:users``."""

    id: str | None = None
    type: str | None = None


class ImportJobSchema(OktaSchema):
    model = ImportJob
    id = fields.String(load_default=None)
    type = fields.String(load_default=None)


class _AnyTuple(QuickField[tuple[Any, ...]]):
    default_error_messages = {"invalid": "Not an array."}  # noqa: RUF012

    @staticmethod
    def quick_convert(value: Any) -> Any:
        return tuple(value) if type(value) is list else unsure()


@dataclass(frozen=True)
class ImportContext:
    """``data.context``: the import job, the app, and how matching went."""

    conflicts: tuple[str, ...] = ()
    matches: tuple[Any, ...] = ()
    policy: tuple[str, ...] = ()
    application: ImportApplication = field(default_factory=ImportApplication)
    job: ImportJob = field(default_factory=ImportJob)


class ImportContextSchema(OktaSchema):
    model = ImportContext
    conflicts = StringTuple(load_default=())
    # Okta's samples only ever show an empty array and its spec says strings; the element
    # shape is not confirmed, so elements are kept as sent.
    matches = _AnyTuple(load_default=())
    policy = StringTuple(load_default=())
    application = fields.Nested(ImportApplicationSchema, load_default=ImportApplication)
    job = fields.Nested(ImportJobSchema, load_default=ImportJob)


class _ActionSchema(OktaSchema):
    unwrap = "result"
    result = OpenEnum(ImportResult, load_default=None)


_APP_USER_PROFILE = SectionLoader(AppUserProfileSchema())
_USER = SectionLoader(ImportUserSchema())
_CONTEXT = SectionLoader(ImportContextSchema())
_ACTION = SectionLoader(_ActionSchema())


class UserImportHookRequest(HookRequest):
    """A user import inline hook call. Sections are typed and validated when first read.

    This hook type carries no ``data.context.request``: it runs inside an import job.

    Example::

        @hooks.user_import
        def tidy(call: UserImportHookRequest) -> UserImportHookResponse | None:
            if call.matched_user_id and "login" in call.conflicts:
                return call.respond().link_user()
            return None                                 # keep Okta's default action
    """

    event_type = USER_IMPORT_EVENT
    sections = (
        ("context", _CONTEXT.schema),
        ("appUser.profile", _APP_USER_PROFILE.schema),
        ("user", _USER.schema),
        ("action", _ACTION.schema),
    )

    @lazy_property
    def app_user_profile(self) -> AppUserProfile:
        """``data.appUser.profile``: the app user as the app describes it."""
        return self._section(_APP_USER_PROFILE, "appUser", "profile") or AppUserProfile()

    @lazy_property
    def user(self) -> ImportUser:
        """``data.user``: the Okta user to create or link, with its mapped profile."""
        return self._section(_USER, "user") or ImportUser()

    @property
    def user_profile(self) -> UserProfile:
        """The Okta user profile Okta intends to use, after mapping."""
        return self.user.profile

    @property
    def matched_user_id(self) -> str | None:
        """Id of the Okta user the app user matched, if any."""
        return self.user.id

    @lazy_property
    def default_result(self) -> ImportResult | str | None:
        """``data.action.result``: what Okta does on an empty answer."""
        return self._section(_ACTION, "action")  # type: ignore[no-any-return]

    @lazy_property
    def import_context(self) -> ImportContext:
        """``data.context``: the job, the app, conflicts, matches and matching rules."""
        return self._section(_CONTEXT, "context") or ImportContext()

    @property
    def conflicts(self) -> tuple[str, ...]:
        """Profile attributes in conflict with existing Okta users, e.g. ``("login",)``."""
        return self.import_context.conflicts

    @property
    def matches(self) -> tuple[Any, ...]:
        """The Okta users matched so far, as Okta sends them (the shape is undocumented)."""
        return self.import_context.matches

    @property
    def policy(self) -> tuple[str, ...]:
        """The matching rules in force, e.g. ``("EMAIL", "FIRST_AND_LAST_NAME")``."""
        return self.import_context.policy

    @property
    def application(self) -> ImportApplication:
        return self.import_context.application

    @property
    def job(self) -> ImportJob:
        return self.import_context.job

    def respond(self) -> UserImportHookResponse:
        """Start the response to this call."""
        return UserImportHookResponse(self)


# --- response --------------------------------------------------------------------------------


class UserImportHookResponse(HookResponse):
    """Changes to the imported user, and whether Okta creates or links it.

    Example::

        response = call.respond()
        response.update_app_user_profile(firstName="Stan", lastName="Lee")
        response.link_user("00garwpuyxHaWOkdV0g4")   # LINK_USER, then the user to link

    A response with nothing in it is ``{}``, which keeps Okta's default action (as does a
    handler returning ``None``, answered with a 204).
    """

    request_class = UserImportHookRequest
    command_types = frozenset(
        {APP_USER_PROFILE_UPDATE, USER_PROFILE_UPDATE, ACTION_UPDATE, USER_UPDATE}
    )
    _request: UserImportHookRequest

    @property
    def result(self) -> ImportResult | None:
        """The action chosen so far, if any."""
        for command in self._commands:
            if command["type"] == ACTION_UPDATE:
                return ImportResult(command["value"]["result"])
        return None

    def create_user(self) -> Self:
        """Create a new Okta user from this app user."""
        return self._set_result(ImportResult.CREATE_USER)

    def link_user(self, user_id: str | None = None) -> Self:
        """Link the app user to the existing Okta user ``user_id`` (default: the one matched).

        Sends ``LINK_USER`` followed by ``com.okta.user.update`` with the id, as Okta wants.
        """
        if user_id is None:
            user_id = self._request.matched_user_id
        if user_id is None:
            raise ResponseRuleError(
                [
                    Violation(
                        "user_id",
                        f"commands[{len(self._commands) + 1}]",
                        "the app user matched no Okta user: pass the id of the user to link",
                    )
                ]
            )
        # Both commands are checked before either is kept, so a bad id leaves no lone action.
        self._refuse(
            self._check_command(
                self._request,
                {"type": USER_UPDATE, "value": {"id": user_id}},
                f"commands[{len(self._commands) + 1}]",
            )
        )
        self._set_result(ImportResult.LINK_USER)
        return self._add_command(USER_UPDATE, {"id": user_id})

    def update_app_user_profile(
        self, attributes: Mapping[str, Any] | None = None, /, **more: Any
    ) -> Self:
        """Set app user attributes; Okta maps them into the Okta profile again.

        Attributes come as a mapping, keywords or both; repeated calls add to one command.
        """
        return self._update_profile(APP_USER_PROFILE_UPDATE, attributes, more)

    def update_user_profile(
        self, attributes: Mapping[str, Any] | None = None, /, **more: Any
    ) -> Self:
        """Set attributes of the Okta user profile Okta creates or links.

        Attributes come as a mapping, keywords or both; repeated calls add to one command.
        """
        return self._update_profile(USER_PROFILE_UPDATE, attributes, more)

    def _set_result(self, result: ImportResult) -> Self:
        if self.result is not None:
            self._refuse(
                [
                    Violation(
                        "action_repeated",
                        f"commands[{len(self._commands)}]",
                        f"the action is already {self.result}; a response chooses one",
                    )
                ]
            )
        return self._add_command(ACTION_UPDATE, {"result": result.value})

    def _update_profile(
        self, command_type: str, attributes: Mapping[str, Any] | None, more: dict[str, Any]
    ) -> Self:
        values = {**(attributes or {}), **more}
        index = next((i for i, c in enumerate(self._commands) if c["type"] == command_type), None)
        if index is None:
            return self._add_command(command_type, values)
        merged = {**self._commands[index]["value"], **values}
        command = {"type": command_type, "value": merged}
        self._refuse(self._check_command(self._request, command, f"commands[{index}]"))
        self._commands[index] = command
        return self

    # --- Okta's rules ----------------------------------------------------------------------

    @classmethod
    def _check_command(
        cls, request: HookRequest, command: dict[str, Any], where: str
    ) -> list[Violation]:
        command_type, value = command["type"], command["value"]
        if command_type in _PROFILE_COMMANDS:
            # Whether Okta takes non-string values is not documented; profiles hold them,
            # so any JSON value is let through and only the shape is enforced.
            return check_profile(value, where)
        if command_type == ACTION_UPDATE:
            return check_choice(
                value,
                "result",
                _RESULTS,
                where,
                shape_rule="result_shape",
                value_rule="result_value",
            )
        # com.okta.user.update
        if type(value) is not dict or set(value) != {"id"} or not _is_id(value["id"]):
            return [
                Violation(
                    "user_id",
                    f"{where}.value",
                    'the value is {"id": "<Okta user id>"} with a non-empty id',
                )
            ]
        return []

    @classmethod
    def _check_body(cls, request: HookRequest, body: dict[str, Any]) -> list[Violation]:
        commands = body.get("commands")
        if type(commands) is not list:
            return []
        actions: list[int] = []
        links: list[int] = []
        user_updates: list[int] = []
        for index, command in enumerate(commands):
            if type(command) is not dict:
                continue
            if command.get("type") == ACTION_UPDATE:
                actions.append(index)
                value = command.get("value")
                if type(value) is dict and value.get("result") == ImportResult.LINK_USER.value:
                    links.append(index)
            elif command.get("type") == USER_UPDATE:
                user_updates.append(index)
        violations = [
            Violation("action_repeated", f"commands[{i}]", "a response chooses one action")
            for i in actions[1:]
        ] + [
            Violation("user_update_repeated", f"commands[{i}]", "a response links one user")
            for i in user_updates[1:]
        ]
        if links and not user_updates:
            violations.append(
                Violation(
                    "link_user_pairing",
                    f"commands[{links[0]}]",
                    f"LINK_USER must be followed by {USER_UPDATE} with the id of the user to link",
                )
            )
        elif user_updates and not links and not _links_by_default(request):
            # Okta documents the user update only as the partner of LINK_USER, which the
            # request's own action may already be.
            violations.append(
                Violation(
                    "user_update_without_link",
                    f"commands[{user_updates[0]}]",
                    f"{USER_UPDATE} names the user to link: send it after a LINK_USER action",
                )
            )
        elif links and user_updates[0] < links[0]:
            # Okta documents the action first; whether it needs that order is unconfirmed.
            violations.append(
                Violation(
                    "link_user_order",
                    f"commands[{user_updates[0]}]",
                    f"send the LINK_USER action before {USER_UPDATE}, as Okta documents",
                )
            )
        return violations

    @classmethod
    def safe_outcome(cls, request: HookRequest) -> None:
        """An empty 204: Okta goes on with its default action, as it would on a timeout."""
        return None

    @classmethod
    def error_outcome(cls, request: HookRequest) -> UserImportHookResponse:
        """An ``error``, which Okta records as a failure in its System Log (what it then does
        with the user is undocumented). The ``"error"`` failure policy."""
        assert isinstance(request, UserImportHookRequest)
        return request.respond().error(ERROR_SUMMARY)


def _links_by_default(request: HookRequest) -> bool:
    assert isinstance(request, UserImportHookRequest)
    try:
        return request.default_result == ImportResult.LINK_USER
    except InvalidPayload:  # a malformed default links nobody
        return False


def _is_id(value: Any) -> bool:
    return type(value) is str and value.strip() != ""
