"""The example service's telephony hook through HTTP: the outbox provider and its failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from example_app.models import OutboxMessage
from example_app.services import services
from example_app.settings import SettingsError
from example_app.telephony import Delivery, DeliveryStatus, OutboundMessage, ProviderError

from .example_support import (
    adapted,
    app_on,
    audit_rows,
    call_hook,
    close_apps,  # noqa: F401 (autouse: closes the apps made)
    make_app,
    on_each_database,
)

CODE = "83019"


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    yield from app_on(request, tmp_path)


def code_request(**message: Any) -> dict[str, Any]:
    payload = adapted("telephony.request.json")
    profile = payload["data"]["messageProfile"]
    profile.update(otpCode=CODE, msgTemplate=f"(HOOK)Your code is {CODE}")
    profile.update(message)
    return payload


def outbox(app: Flask) -> list[OutboxMessage]:
    with app.app_context(), services().db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def results(response: Any) -> list[dict[str, str]]:
    (command,) = response.json["commands"]
    assert command["type"] == "com.okta.telephony.action"
    value: list[dict[str, str]] = command["value"]
    return value


@on_each_database
def test_a_code_is_queued_in_the_outbox_and_reported_successful(
    app: Flask, client: FlaskClient
) -> None:
    response = call_hook(client, "telephony", code_request())

    assert response.status_code == 200
    (result,) = results(response)
    (message,) = outbox(app)
    assert result["status"] == "SUCCESSFUL"
    assert result["provider"] == "OUTBOX"
    assert result["transactionId"] == message.transaction_id
    assert result["transactionMetadata"].startswith("Duration=")
    assert (message.channel, message.phone_number, message.locale) == ("SMS", "9876543210", "EN-US")
    assert message.body == f"(HOOK)Your code is {CODE}"
    assert message.expires_at is not None


def test_a_voice_call_gets_the_code_spoken_digit_by_digit(app: Flask, client: FlaskClient) -> None:
    response = call_hook(client, "telephony", code_request(deliveryChannel="voice call"))

    assert results(response)[0]["status"] == "SUCCESSFUL"
    (message,) = outbox(app)
    assert message.channel == "VOICE"
    assert message.body == "Your Example Corp verification code is 8 3 0 1 9."


def test_phone_numbers_are_normalised(app: Flask, client: FlaskClient) -> None:
    call_hook(client, "telephony", code_request(phoneNumber="+1 (555) 555-1212"))

    assert outbox(app)[0].phone_number == "+15555551212"


@pytest.mark.parametrize("number", ["", "call me", "12345", "+1234567890123456", "555-CALL-NOW"])
def test_a_number_that_is_no_phone_number_fails_without_a_provider_call(
    app: Flask, client: FlaskClient, number: str
) -> None:
    response = call_hook(client, "telephony", code_request(phoneNumber=number))

    assert results(response) == [{"status": "FAILED", "provider": "OUTBOX"}]
    assert outbox(app) == []


class BrokenProvider:
    name = "BROKEN"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def send(self, message: OutboundMessage) -> Delivery:
        self.calls += 1
        raise self.error


@pytest.mark.parametrize("error", [ProviderError("rejected"), TimeoutError(), RuntimeError()])
def test_a_provider_failure_is_reported_failed_at_once(tmp_path: Path, error: Exception) -> None:
    provider = BrokenProvider(error)
    app = make_app(tmp_path, TELEPHONY_PROVIDER=provider)

    started = time.perf_counter()
    response = call_hook(app.test_client(), "telephony", code_request())

    assert time.perf_counter() - started < 0.5
    assert response.status_code == 200
    assert results(response) == [{"status": "FAILED", "provider": "BROKEN"}]
    assert provider.calls == 1
    assert audit_rows(app)[-1].outcome == "FAILED:provider_error"


class AcceptingProvider:
    name = "ACME"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> Delivery:
        self.sent.append(message)
        return Delivery(DeliveryStatus.PENDING, self.name, "acme-42", None)


def test_another_provider_reports_in_its_own_words(tmp_path: Path) -> None:
    provider = AcceptingProvider()
    app = make_app(tmp_path, TELEPHONY_PROVIDER=provider)

    response = call_hook(app.test_client(), "telephony", code_request())

    assert results(response) == [
        {"status": "PENDING", "provider": "ACME", "transactionId": "acme-42"}
    ]
    assert provider.sent[0].text == f"(HOOK)Your code is {CODE}"
    assert CODE not in repr(provider.sent[0])
    assert outbox(app) == []


def test_a_call_with_too_little_time_left_fails_without_a_provider_call(tmp_path: Path) -> None:
    provider = AcceptingProvider()
    app = make_app(tmp_path, TELEPHONY_PROVIDER=provider, HOOK_DEADLINE=0.2)

    response = call_hook(app.test_client(), "telephony", code_request())

    assert results(response) == [{"status": "FAILED", "provider": "ACME"}]
    assert provider.sent == []
    assert audit_rows(app)[-1].outcome == "FAILED:late"


def test_an_object_that_is_no_provider_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TELEPHONY_PROVIDER"):
        make_app(tmp_path, TELEPHONY_PROVIDER=object())


@on_each_database
def test_the_code_never_reaches_the_audit_or_the_logs(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    call_hook(client, "telephony", code_request())
    call_hook(client, "telephony", code_request(phoneNumber="x"))

    rows = audit_rows(app)
    assert [(r.hook, r.event_id, r.outcome) for r in rows] == [
        ("telephony", "uS5871kJThSsU8qlA1LTcg", "SUCCESSFUL"),
        ("telephony", "uS5871kJThSsU8qlA1LTcg", "FAILED:phone_number"),
    ]
    assert not any(CODE in f"{r.hook}{r.event_id}{r.outcome}" for r in rows)
    assert CODE not in caplog.text
    with app.app_context(), services().db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
