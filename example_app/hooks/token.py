"""Token inline hook: claims from the company's directory, lifetimes per OAuth client.

* Access tokens get ``department``, ``roles`` and ``entitlements``; ID tokens get
  ``department``. Only tokens Okta is minting in this call are patched: a patch for a
  token that is not being minted makes Okta drop every change.
* Each client's token lifetimes come from ``client_token_policies`` (row ``*`` for the
  rest).
* The Okta user id of a legacy account is remembered at its first sign-in, so user
  imports can later link to it.

Okta issues the tokens unchanged when this hook fails, so nothing here is a security
gate: the claims are information for the applications, not the only check they make.
"""

from __future__ import annotations

from typing import Any

from flask_okta_hooks import Token, TokenHookRequest, TokenHookResponse

from ..audit import audited, note
from ..directory import Grants, find_account, grants, link_okta_user, token_lifetimes
from ..services import services
from .blueprint import hooks


@hooks.token
@audited
def enrich_tokens(call: TokenHookRequest) -> TokenHookResponse | None:
    db = services().db
    with db.connect() as connection:
        account = find_account(connection, call.login)
        found = grants(connection, account) if account is not None else None
        access_lifetime, id_lifetime = token_lifetimes(connection, call.client_id)
    if account is not None:
        link_okta_user(db, account, call.user.id if call.user else None)
    lifetimes = {Token.ACCESS: access_lifetime, Token.ID: id_lifetime}

    response = call.respond()
    if found is not None:
        _set_claims(response, call, Token.ACCESS, _access_claims(found))
        _set_claims(response, call, Token.ID, _id_claims(found))
    for token, lifetime in lifetimes.items():
        minted = call.token(token)
        if minted is not None and lifetime is not None and lifetime != minted.lifetime:
            response.set_lifetime(token, lifetime)

    if not response.commands:
        note("unchanged" if found is not None else "unknown_user")
        return None
    note("enriched" if found is not None else "lifetime_only")
    return response


def _access_claims(grants: Grants) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "roles": list(grants.roles),
        "entitlements": list(grants.entitlements),
    }
    if grants.department:
        claims["department"] = grants.department
    return claims


def _id_claims(grants: Grants) -> dict[str, Any]:
    return {"department": grants.department} if grants.department else {}


def _set_claims(
    response: TokenHookResponse, call: TokenHookRequest, token: Token, claims: dict[str, Any]
) -> None:
    minted = call.token(token)
    if minted is None:
        return
    for name, value in claims.items():
        if name not in minted.claims:
            response.add_claim(token, name, value)
        elif minted.claims[name] != value:
            # The authorization server already emits the claim: ours is authoritative.
            response.replace_claim(token, name, value)
