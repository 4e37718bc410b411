"""Okta's vocabulary: every ``com.okta.*`` string the extension reads or writes."""

from __future__ import annotations

from typing import Final

# Event types: the ``eventType`` of each hook call (equal to the inline hook's ``type``).
TOKEN_EVENT: Final = "com.okta.oauth2.tokens.transform"
SAML_EVENT: Final = "com.okta.saml.tokens.transform"
REGISTRATION_EVENT: Final = "com.okta.user.pre-registration"
PASSWORD_IMPORT_EVENT: Final = "com.okta.user.credential.password.import"
USER_IMPORT_EVENT: Final = "com.okta.import.transform"
TELEPHONY_EVENT: Final = "com.okta.telephony.provider"
EVENT_HOOK_EVENT: Final = "com.okta.event_hook"

# Command types.
IDENTITY_PATCH: Final = "com.okta.identity.patch"
ACCESS_PATCH: Final = "com.okta.access.patch"
ASSERTION_PATCH: Final = "com.okta.assertion.patch"
ACTION_UPDATE: Final = "com.okta.action.update"
USER_PROFILE_UPDATE: Final = "com.okta.user.profile.update"
PROGRESSIVE_PROFILE_UPDATE: Final = "com.okta.user.progressive.profile.update"
APP_USER_PROFILE_UPDATE: Final = "com.okta.appUser.profile.update"
USER_UPDATE: Final = "com.okta.user.update"
TELEPHONY_ACTION: Final = "com.okta.telephony.action"

#: Okta wants responses "less than 256 KB"; the bound is kept on the safe side.
MAX_RESPONSE_BYTES: Final = 256 * 1000
