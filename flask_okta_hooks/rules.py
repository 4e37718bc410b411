"""The one table of the rules a hook response is checked against, each with its source.

*Documented* rules are those Okta's documentation or samples state: Okta rejects the
answer, drops its changes or does something the handler did not mean (section numbers
refer to the wire contract the package is built from). A broken documented rule
replaces the answer with the hook type's failure outcome in production and raises in
strict mode.

*Precautions* are the package's own caution where Okta is silent. A broken precaution
never changes the answer in production: the call logs one warning naming the rule and
the handler's answer is sent. In strict mode it raises, and the developer who knows
Okta accepts the answer waives it, for one response with
:meth:`~flask_okta_hooks.HookResponse.waive`, for one endpoint with the decorator's
``waive=`` (``@hooks.token(waive=["claim_name"])``) or for the app with
``OKTA_HOOKS_WAIVED_RULES``.

A leaf module: everything that names a rule imports it, it imports nothing of the package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Source(StrEnum):
    """Where a rule comes from."""

    DOCUMENTED = "documented"
    PRECAUTION = "precaution"


@dataclass(frozen=True)
class Rule:
    """One rule: its stable id, where it comes from, what it says and its reference."""

    id: str
    source: Source
    description: str
    reference: str = ""
    """The contract section that documents it (documented rules)."""

    @property
    def documented(self) -> bool:
        return self.source is Source.DOCUMENTED


_D = Source.DOCUMENTED
_P = Source.PRECAUTION

_TABLE: Final = (
    # --- every hook type ------------------------------------------------------------------
    Rule("body_shape", _D, "A response body is a JSON object.", "2.5"),
    Rule("unknown_member", _D, "Okta reads only commands, error and debugContext.", "2.5, 12.4"),
    Rule("commands_shape", _D, "commands is an array.", "2.5"),
    Rule("command_shape", _D, 'A command is {"type": ..., "value": ...}.', "2.5"),
    Rule("command_type", _D, "Only the command types of the hook type.", "3.2-8.2, 12.5"),
    Rule("error_shape", _D, "error holds errorSummary and errorCauses of strings.", "2.5"),
    # Okta states this for debugContext; that the error object reaches the System Log too
    # is documented in 2.7, so the same care is inferred for it.
    Rule("secret_in_error", _D, "No secret or credential in error texts.", "2.5, 2.7, 12"),
    Rule("debug_context", _D, "debugContext is a JSON object.", "2.5"),
    Rule("secret_in_debug_context", _D, "No secret or credential in debugContext.", "2.5, 12"),
    Rule("non_finite_number", _D, "NaN and infinities are not JSON.", "2.5"),
    Rule("not_json", _D, "The response is JSON.", "2.5"),
    Rule("response_too_large", _D, "The response is under 256 KB.", "2.5"),
    Rule("profile_shape", _D, "A profile update is an object of attributes.", "5.3, 7.2"),
    Rule("invalid_name", _D, "Profile attributes are named (they exist in the schema).", "5.3"),
    Rule("empty_profile", _P, "A profile update sets at least one attribute."),
    # --- token ----------------------------------------------------------------------------
    Rule("token_not_minted", _D, "Patch only the tokens the request mints.", "3.2"),
    Rule("patch_shape", _D, "A patch is a non-empty array of operations.", "3.2, 4.2"),
    Rule("operation_shape", _D, 'An operation is {"op", "path", "value"}.', "3.2, 4.2"),
    # For SAML Okta documents add and replace only; its reaction to another op is
    # unconfirmed (13), so the rule follows the documented list.
    Rule("operation", _D, "Only the documented ops (token: add/replace/remove).", "3.2, 4.2"),
    Rule("path", _D, "Paths are documented JSON Pointers below the patchable roots.", "3.2, 4.2"),
    Rule("remove_value", _D, "remove carries no value, or null.", "3.2"),
    Rule("missing_value", _D, "add and replace carry a value.", "3.2, 4.2"),
    Rule("reserved_claim", _D, "Reserved claims are never added, replaced or removed.", "3.2"),
    Rule("claim_not_present", _D, "replace and remove only what the token holds.", "3.2"),
    Rule("parent_not_present", _D, "add below an object or array the token holds.", "3.2"),
    Rule("array_position", _D, "add into an array at 0..length or '-'.", "3.2"),
    Rule("lifetime_op", _D, "A lifetime is set with replace.", "3.2"),
    Rule("lifetime_range", _D, "A lifetime is 300 to 86,400 seconds.", "3.2"),
    Rule("claim_name", _P, "Claim names are 1 to 1024 characters without NUL, CR or LF."),
    # --- SAML -----------------------------------------------------------------------------
    Rule("add_path", _D, "add creates /claims/<name> or the session lifetime.", "4.2"),
    Rule("session_lifetime", _D, "The session lifetime is added as whole seconds.", "4.2"),
    Rule("element_not_present", _D, "replace changes an element the assertion holds.", "4.2"),
    Rule("value_kind", _D, "A replacing value matches the element replaced.", "4.2"),
    Rule("attribute_values", _D, "An attribute statement has attributeValues.", "4.2"),
    Rule("attribute_shape", _D, "Attribute statements have the documented shape.", "4.1, 4.2"),
    Rule("attribute_name", _P, "Attribute names are 1 to 1024 characters without NUL, CR or LF."),
    # --- registration ---------------------------------------------------------------------
    Rule("action_value", _D, 'The action is {"registration": "ALLOW" | "DENY"}.', "5.3"),
    Rule(
        "command_flow",
        _D,
        "com.okta.user.profile.update is invalid in a progressive profile.",
        "5.3",
    ),
    Rule("flow_unconfirmed", _P, "The progressive profile update in a registration (unconfirmed)."),
    Rule("unknown_flow", _P, "A flow-dependent command for a requestType Okta does not document."),
    Rule("sets_password", _D, "A hook never sets the password.", "5.3"),
    Rule("commands_with_error", _D, "Okta runs no command beside an error object.", "5.3"),
    Rule("conflicting_actions", _P, "One response does not both allow and deny."),
    # --- password import ------------------------------------------------------------------
    Rule("credential_shape", _D, 'The verdict is {"credential": ...}.', "6.2"),
    Rule("credential_value", _D, "The verdict is VERIFIED or UNVERIFIED.", "6.2"),
    Rule("verdict_missing", _P, "A password import answer carries its verdict."),
    # Okta documents one verdict and that only VERIFIED accepts, but not what it does with
    # two: in a hook that fails closed, an answer whose acceptance is ambiguous is never sent.
    Rule("verdict_repeated", _D, "A password import answer carries one verdict.", "6.2, 12.9"),
    # The contract: the error object's effect is unconfirmed for this type, send UNVERIFIED
    # instead; so an error never travels with anything but UNVERIFIED.
    Rule("error_without_unverified", _D, "An error goes only with UNVERIFIED.", "6.2"),
    # Okta fails the sign-in when the hook fails (2.7): a failure outcome must not accept.
    Rule("verified_fallback", _D, "A failure outcome never answers VERIFIED.", "2.7, 6.2"),
    # --- user import ----------------------------------------------------------------------
    Rule("result_shape", _D, 'The action is {"result": ...}; a result has a status.', "7.2, 8.2"),
    Rule("result_value", _D, "The import result is CREATE_USER or LINK_USER.", "7.2"),
    Rule("user_id", _D, 'com.okta.user.update is {"id": "<Okta user id>"}.', "7.2"),
    Rule("link_user_pairing", _D, "LINK_USER goes with com.okta.user.update.", "7.2, 12.9"),
    Rule("user_update_without_link", _P, "com.okta.user.update names the user of a LINK_USER."),
    Rule("link_user_order", _P, "LINK_USER comes before com.okta.user.update, as documented."),
    Rule("action_repeated", _P, "A response carries one action command."),
    Rule("user_update_repeated", _P, "A response links one user."),
    # --- telephony ------------------------------------------------------------------------
    Rule("results_shape", _D, "The telephony value is a non-empty array of results.", "8.2"),
    Rule("status_value", _D, "The status is SUCCESSFUL, PENDING or FAILED.", "8.2"),
    Rule("result_member", _D, "provider, transactionId, transactionMetadata are strings.", "8.2"),
    Rule("error_with_result", _D, "An error beside a result makes Okta send a second code.", "8.2"),
    Rule("no_outcome", _D, "A telephony answer carries a result or an error.", "2.5, 8.2"),
    # --- statuses, as the test tools read an answer ---------------------------------------
    Rule("empty_with_body", _D, "A 204 carries no body.", "2.5"),
    Rule("empty_not_allowed", _D, "A 204 only where the hook type documents it.", "1, 2.5"),
    Rule("status", _D, "Okta takes a 200 (or a documented 204).", "2.5"),
    Rule("request", _D, "The call sent is one Okta could send.", "2.3"),
    Rule("verification_answer", _D, 'An event hook verification is {"verification": ...}.', "10"),
)

#: Every rule by id; checks look a rule up here, never scan the table.
RULES: Mapping[str, Rule] = {rule.id: rule for rule in _TABLE}
PRECAUTIONS: frozenset[str] = frozenset(rule.id for rule in _TABLE if not rule.documented)


def is_precaution(rule_id: str) -> bool:
    """Whether ``rule_id`` is a precaution; an id missing from the table counts as
    documented, so that a forgotten entry keeps the stricter behaviour."""
    return rule_id in PRECAUTIONS


def waivable(rule_ids: Iterable[str]) -> frozenset[str]:
    """``rule_ids`` as a set, each checked to be a precaution of the table.

    Raises :class:`ValueError` naming an id that is unknown or documented: only the
    package's own caution can be waived, never what Okta documents.
    """
    ids = frozenset(rule_ids)
    for rule_id in sorted(ids):
        rule = RULES.get(rule_id)
        if rule is None:
            raise ValueError(f"{rule_id!r} is not a rule; precautions are {sorted(PRECAUTIONS)}")
        if rule.documented:
            raise ValueError(
                f"{rule_id!r} is documented by Okta (contract {rule.reference}) and cannot be "
                f"waived; precautions are {sorted(PRECAUTIONS)}"
            )
    return ids
