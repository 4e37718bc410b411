"""SAML assertion inline hook: attribute statements from the company's directory.

Assertions for accounts the directory knows get ``department``, ``employeeNumber``,
``roles`` and ``entitlements``; an attribute the app already emits keeps its
``NameFormat`` and gets the directory's values. Okta sends the assertion unchanged when
this hook fails.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_okta_hooks import AttributeNameFormat, SamlHookRequest, SamlHookResponse

from ..audit import audited, note
from ..directory import Grants, find_account, grants, link_okta_user
from ..services import services
from .blueprint import hooks


@hooks.saml
@audited
def enrich_assertion(call: SamlHookRequest) -> SamlHookResponse | None:
    db = services().db
    with db.connect() as connection:
        account = find_account(connection, call.login)
        found = grants(connection, account) if account is not None else None
    if account is None or found is None:
        note("unknown_user")
        return None
    link_okta_user(db, account, call.user.id if call.user else None)

    response = call.respond()
    for name, values in _attributes(found).items():
        existing = call.attribute(name)
        if existing is not None and list(existing.plain_values) == list(values):
            continue
        name_format = (
            existing.name_format if existing else None
        ) or AttributeNameFormat.UNSPECIFIED
        # add on an existing attribute replaces it whole, as in Okta's own sample; the
        # number of values may differ, which a value-by-value replace could not express.
        response.add_attribute(name, values, name_format=name_format)
    if not response.commands:
        note("unchanged")
        return None
    note("enriched")
    return response


def _attributes(grants: Grants) -> dict[str, Sequence[str]]:
    attributes: dict[str, Sequence[str]] = {}
    if grants.department:
        attributes["department"] = [grants.department]
    if grants.employee_number:
        attributes["employeeNumber"] = [grants.employee_number]
    # A statement needs at least one value: roles and entitlements are left out when empty.
    if grants.roles:
        attributes["roles"] = list(grants.roles)
    if grants.entitlements:
        attributes["entitlements"] = list(grants.entitlements)
    return attributes
