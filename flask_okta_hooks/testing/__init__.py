"""Test Okta hooks without Okta: realistic calls, an authenticated client, domain assertions.

Everything here works without a public URL, an Okta org or its Preview tab:

* payload factories for every hook type (:func:`token_request`, :func:`registration_request`,
  :func:`event_hook_request` with :func:`log_event` ... and :func:`make_payload` by slug),
  built on realistic samples shipped with the package, every field overridable;
* :func:`make_request`, the typed request object for a handler called directly;
* :class:`OktaClient`, which POSTs calls to an app's endpoints authenticated as
  configured (shared secret, or OAuth 2.0 with a local :class:`SigningKey`), sends the
  event hook verification GET (:meth:`OktaClient.verify`) and event deliveries whose
  background handlers it waits for (:meth:`OktaClient.deliver`, :meth:`OktaClient.drain`);
* assertions that read like the domain (:func:`assert_claim_added`,
  :func:`assert_registration_denied`, :func:`assert_events_accepted`,
  :func:`assert_okta_accepts` ...), for typed responses and HTTP answers alike.

Each :class:`HookResult` records what the app did with the handler's answer: when a
failing handler got the endpoint's failure outcome (a 204, a generic denial ...),
``result.failure`` says why, broken rules and their messages included, and every
assertion fails on it. An app with ``TESTING = True`` raises the handler's error in the
test instead. Warnings the extension logged during the call are in ``result.warnings``
and are shown as :class:`HookWarning`.

With pytest, the ``okta_client`` fixture (from the plugin this package registers) gives
an :class:`OktaClient` for the ``app`` fixture, as pytest-flask defines it.

Example::

    from flask_okta_hooks import Token
    from flask_okta_hooks.testing import assert_claim_added, assert_okta_accepts

    def test_gold_tier(okta_client):
        result = okta_client.post("token", login="ada@example.com")
        assert_claim_added(result, token=Token.ACCESS, name="tier", value="gold")
        assert_okta_accepts(result)
"""

from ..samples import (
    DROP,
    FACTORIES,
    PayloadFactory,
    apply_overrides,
    event_hook_request,
    get_path,
    load_sample,
    log_event,
    make_payload,
    make_request,
    password_import_request,
    registration_request,
    request_from_payload,
    saml_request,
    sample_names,
    set_path,
    telephony_request,
    token_request,
    user_import_request,
    variants,
)
from ..simulator import HookResult, HookWarning, OktaClient, SigningKey
from ..verdict import OKTA_ON_FAILURE, okta_verdict, verification_verdict
from .assertions import (
    Observed,
    assert_app_user_profile_updated,
    assert_assertion_replaced,
    assert_attribute_added,
    assert_claim_added,
    assert_claim_removed,
    assert_claim_replaced,
    assert_command,
    assert_empty_response,
    assert_error,
    assert_events_accepted,
    assert_lifetime_set,
    assert_no_commands,
    assert_okta_accepts,
    assert_password_unverified,
    assert_password_verified,
    assert_profile_updated,
    assert_registration_allowed,
    assert_registration_denied,
    assert_telephony_fallback,
    assert_telephony_status,
    assert_user_created,
    assert_user_linked,
    assert_verification_answered,
    hook_type_of,
    observe,
)

__all__ = [
    "DROP",
    "FACTORIES",
    "OKTA_ON_FAILURE",
    "HookResult",
    "HookWarning",
    "Observed",
    "OktaClient",
    "PayloadFactory",
    "SigningKey",
    "apply_overrides",
    "assert_app_user_profile_updated",
    "assert_assertion_replaced",
    "assert_attribute_added",
    "assert_claim_added",
    "assert_claim_removed",
    "assert_claim_replaced",
    "assert_command",
    "assert_empty_response",
    "assert_error",
    "assert_events_accepted",
    "assert_lifetime_set",
    "assert_no_commands",
    "assert_okta_accepts",
    "assert_password_unverified",
    "assert_password_verified",
    "assert_profile_updated",
    "assert_registration_allowed",
    "assert_registration_denied",
    "assert_telephony_fallback",
    "assert_telephony_status",
    "assert_user_created",
    "assert_user_linked",
    "assert_verification_answered",
    "event_hook_request",
    "get_path",
    "hook_type_of",
    "load_sample",
    "log_event",
    "make_payload",
    "make_request",
    "observe",
    "okta_verdict",
    "password_import_request",
    "registration_request",
    "request_from_payload",
    "saml_request",
    "sample_names",
    "set_path",
    "telephony_request",
    "token_request",
    "user_import_request",
    "variants",
    "verification_verdict",
]
