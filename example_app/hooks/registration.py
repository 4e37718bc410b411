"""Registration inline hook: who may sign up, and the profile the company needs.

* Self-service registration: only email domains listed in ``registration_domains`` may
  sign up; others are denied with a message next to the email field. Accepted sign-ups
  get a normalised profile (lower-case email and login, tidy names, the organization of
  their domain).
* Progressive profile: the attributes of ``REQUIRED_PROFILE_ATTRIBUTES`` must be filled;
  what the legacy directory knows is filled in for the user, and a submitted employee
  number must match the directory's. Problems are shown next to their form fields.

Okta denies when this hook fails, so a broken handler locks sign-ups; keep it simple.
"""

from __future__ import annotations

from flask_okta_hooks import RegistrationHookRequest, RegistrationHookResponse, field_error

from ..audit import audited, note
from ..directory import find_account, registration_organization
from ..profiles import registration_profile, review_progressive_profile
from ..services import services
from .blueprint import hooks

DOMAIN_MESSAGE = "Sign-ups are open to Example Corp email addresses only."
REVIEW_MESSAGE = "Please complete your profile."


@hooks.registration
@audited
def screen_registration(call: RegistrationHookRequest) -> RegistrationHookResponse:
    if call.is_progressive_profile:
        return _progressive_profile(call)
    return _self_service_registration(call)


def _self_service_registration(call: RegistrationHookRequest) -> RegistrationHookResponse:
    submitted = call.submitted
    email = submitted.email or submitted.login
    with services().db.connect() as connection:
        organization = registration_organization(connection, email)
    if organization is None:
        note("denied:email_domain")
        return call.respond().deny(DOMAIN_MESSAGE, field="email", reason="INVALID_EMAIL_DOMAIN")
    response = call.respond()
    changes = registration_profile(submitted.attributes, organization)
    if changes:
        response.update_profile(changes)
    note("allowed")
    return response.allow()


def _progressive_profile(call: RegistrationHookRequest) -> RegistrationHookResponse:
    current = call.user.profile.attributes if call.user is not None else {}
    login = call.user.profile.login if call.user is not None else None
    with services().db.connect() as connection:
        legacy = find_account(connection, login)
    review = review_progressive_profile(
        current,
        call.submitted.attributes,
        services().settings.required_profile_attributes,
        legacy,
    )
    if review.problems:
        note("denied:profile")
        causes = [field_error(p.attribute, p.message, reason=p.reason) for p in review.problems]
        return call.respond().deny(REVIEW_MESSAGE, *causes)
    response = call.respond()
    if review.changes:
        response.update_progressive_profile(review.changes)
    note("allowed")
    return response.allow()
