"""Password import inline hook: the legacy directory vouches for the password, once.

Okta sends the username and password typed at sign-in; ``VERIFIED`` makes Okta keep
the password and sign the user in, and the legacy account is marked migrated. Anything
else, including overload and every error, is ``UNVERIFIED``: the user can try again, and
a wrong acceptance could never be taken back. See :mod:`example_app.password_check`.
"""

from __future__ import annotations

from flask_okta_hooks import PasswordImportHookRequest, PasswordImportHookResponse

from ..audit import audited, note, started_at
from ..services import services
from .blueprint import hooks


@hooks.password_import
@audited
def import_password(call: PasswordImportHookRequest) -> PasswordImportHookResponse:
    found = services()
    deadline = started_at() + found.settings.hook_deadline
    verdict = found.passwords.check(call.username, call.password.reveal_bytes(), deadline)
    response = call.respond()
    if verdict.verified:
        note(call, "VERIFIED")
        return response.verified()
    note(call, f"UNVERIFIED:{verdict.reason}")
    return response.unverified()
