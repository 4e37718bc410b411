"""User import inline hook: link app users to the Okta users the directory knows.

* The directory knows the app user's email and which Okta user that account became:
  link to that Okta user.
* Otherwise create a new Okta user, unless Okta's own matching rules already found one
  (then Okta's configured action stands).
* The app user profile is normalised (lower-case email, tidy names), and a new Okta user
  gets the directory's department and employee number.

Okta creates the user anyway when this hook fails, so a failure costs only the link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_okta_hooks import UserImportHookRequest, UserImportHookResponse

from ..audit import audited, note
from ..directory import find_account_by_email
from ..profiles import clean_address, clean_text
from ..services import services
from .blueprint import hooks


@hooks.user_import
@audited
def import_user(call: UserImportHookRequest) -> UserImportHookResponse:
    app_profile = call.app_user_profile.attributes
    email = app_profile.get("email") or call.user_profile.email
    with services().db.connect() as connection:
        legacy = find_account_by_email(connection, email if isinstance(email, str) else None)
    okta_user_id = legacy.okta_user_id if legacy is not None else None
    known = _directory_profile(legacy.department, legacy.employee_number) if legacy else {}

    response = call.respond()
    changes = _normalised_app_profile(app_profile)
    if changes:
        response.update_app_user_profile(changes)
    if okta_user_id is not None:
        note("linked")
        return response.link_user(okta_user_id)
    if call.matched_user_id is not None:
        note("okta_match")
        return response
    profile_changes = {
        name: value for name, value in known.items() if call.user_profile.get(name) != value
    }
    if profile_changes:
        response.update_user_profile(profile_changes)
    note("created")
    return response.create_user()


def _normalised_app_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for name in ("email", "secondEmail"):
        if isinstance(profile.get(name), str):
            wanted[name] = clean_address(profile[name])
    for name in ("firstName", "lastName", "displayName"):
        if isinstance(profile.get(name), str):
            wanted[name] = clean_text(profile[name])
    return {name: value for name, value in wanted.items() if profile.get(name) != value}


def _directory_profile(department: str | None, employee_number: str | None) -> dict[str, str]:
    known = {"department": department, "employeeNumber": employee_number}
    return {name: value for name, value in known.items() if value}
