"""A flow, grant type or channel Okta has not documented yet stays readable as plain text.

Okta adds values over time. A call carrying one is served: the typed request gives the
value as the ``str`` Okta sent, never a 400, while documented values keep their enum
members.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flask_okta_hooks import (
    DeliveryChannel,
    RegistrationFlow,
    RegistrationHookRequest,
    TelephonyHookRequest,
    TelephonyRequestType,
    TokenHookRequest,
)
from flask_okta_hooks.testing import assert_okta_accepts, make_payload

from .conftest import sample, serve

NEW_FLOW = "some.new.flow"


def served(slug: str, payload: dict[str, Any], *read: str) -> dict[str, Any]:
    """Serve ``payload`` with a handler that reads the attributes ``read`` and answers
    (a 204 where the hook type allows it); what the handler read."""
    seen: dict[str, Any] = {}

    def handler(call: Any) -> Any:
        for name in read:
            value: Any = call
            for step in name.split("."):
                value = getattr(value, step)
            seen[name] = value
        return call.respond().successful("TEST") if slug == "telephony" else None

    result = serve(slug, handler, payload)
    assert result.status_code == (200 if slug == "telephony" else 204), result.data
    assert_okta_accepts(result)
    return seen


# --- registration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("registration.request.ssr.json", "userProfile"),
        ("registration.request.progressive-profile.json", "userProfileUpdate"),
    ],
)
def test_a_registration_of_an_unknown_flow_is_served(name: str, section: str) -> None:
    payload = copy.deepcopy(sample(name))
    payload["requestType"] = NEW_FLOW

    seen = served("registration", payload, "flow", "submitted", "is_progressive_profile")

    assert seen["flow"] == NEW_FLOW
    assert type(seen["flow"]) is str
    assert seen["is_progressive_profile"] is False
    # Whichever profile the new flow carries is what the form submitted.
    assert dict(seen["submitted"].attributes) == payload["data"][section]


@pytest.mark.parametrize(
    ("request_type", "flow"),
    [
        (None, RegistrationFlow.SELF_SERVICE_REGISTRATION),
        ("self.service.registration", RegistrationFlow.SELF_SERVICE_REGISTRATION),
        ("progressive.profile", RegistrationFlow.PROGRESSIVE_PROFILE),
    ],
)
def test_documented_flows_keep_their_enum_members(
    request_type: str | None, flow: RegistrationFlow
) -> None:
    payload = copy.deepcopy(sample("registration.request.ssr.json"))
    payload.pop("requestType")
    if request_type is not None:
        payload["requestType"] = request_type

    assert RegistrationHookRequest.from_payload(payload).flow is flow


# --- telephony ----------------------------------------------------------------------------------


def test_a_telephony_call_of_an_unknown_flow_and_channel_is_served() -> None:
    payload = make_payload("telephony")
    payload["requestType"] = "com.okta.user.telephony.some-new-flow"
    payload["data"]["messageProfile"]["deliveryChannel"] = "WHATSAPP"

    seen = served("telephony", payload, "request_type", "message_profile.delivery_channel")

    assert seen == {
        "request_type": "com.okta.user.telephony.some-new-flow",
        "message_profile.delivery_channel": "WHATSAPP",
    }
    assert not isinstance(seen["request_type"], TelephonyRequestType)
    assert not isinstance(seen["message_profile.delivery_channel"], DeliveryChannel)


@pytest.mark.parametrize(
    ("sent", "channel"),
    [
        ("SMS", DeliveryChannel.SMS),
        ("voice call", DeliveryChannel.VOICE),
        ("CALL", DeliveryChannel.VOICE),
        ("fax", "fax"),
    ],
)
def test_documented_channels_keep_their_enum_members(sent: str, channel: Any) -> None:
    payload = make_payload("telephony", delivery_channel=sent)

    read = TelephonyHookRequest.from_payload(payload).message_profile.delivery_channel

    assert read == channel
    assert isinstance(read, DeliveryChannel) is isinstance(channel, DeliveryChannel)


# --- token --------------------------------------------------------------------------------------


def test_a_token_call_of_an_unknown_grant_type_is_served() -> None:
    payload = make_payload("token", grant_type="urn:example:params:oauth:grant-type:new")

    seen = served("token", payload, "grant_type", "protocol")

    assert seen["grant_type"] == "urn:example:params:oauth:grant-type:new"
    assert TokenHookRequest.from_payload(payload).grant_type == seen["grant_type"]
