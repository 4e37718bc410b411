"""Password import inline hook: the legacy directory vouches for the password, once.

Okta sends the username and password typed at sign-in; ``VERIFIED`` makes Okta keep
the password and sign the user in, and the legacy account is marked migrated. Anything
else, including overload and every error, is ``UNVERIFIED``: the user can try again, and
a wrong acceptance could never be taken back. See :mod:`example_app.password_check`.
"""

from __future__ import annotations

import time

from flask_okta_hooks import PasswordImportHookRequest, PasswordImportHookResponse

from ..audit import audited, note
from ..services import services
from .blueprint import hooks

#: Seconds kept, of the call's deadline, to build and send the answer.
ANSWER_MARGIN = 0.05


@hooks.password_import
@audited
def import_password(call: PasswordImportHookRequest) -> PasswordImportHookResponse:
    # The call's own deadline, counted by the library from the call's arrival, less a
    # moment to answer: a check that cannot finish before it is shed at once instead of
    # timing out, and a wait for a slot gives up while the answer can still be sent.
    deadline = time.monotonic() + call.time_left() - ANSWER_MARGIN
    verdict = services().passwords.check(call.username, call.password.reveal_bytes(), deadline)
    response = call.respond()
    if verdict.verified:
        note("VERIFIED")
        return response.verified()
    note(f"UNVERIFIED:{verdict.reason}")
    return response.unverified()
