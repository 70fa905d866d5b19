"""Calls the dealership places to phone customers (surveys, test-drive reminders) through the
provider's Calls API, against the local stub of it; call outcomes handed over by the phone
channel (``POST /internal/phone/calls``); a call nobody answered is placed once more, within the
quiet hours rules, then reported."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Route

from bot.channels.phone import status
from bot.channels.phone.line import PhoneLine
from bot.jobs import calls, proactive, reminders, runtime
from bot.jobs import surveys as survey_jobs
from bot.jobs.channels import RasaConversations
from crm_bridge import phone_calls, privacy
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Notification, PhoneCall
from crm_bridge.quiet import QuietHours
from crm_bridge.settings import Settings
from tests.conftest import make_settings
from tests.job_fakes import Clock, Outbox
from tests.sms_stub import FROM_NUMBER, SmsStub, running_sms_stub
from tests.unit.test_reminders import THURSDAY_10, book
from tests.unit.test_survey_jobs import CONFIG, DELIVERED, SHANGHAI, deliver

PUBLIC = "https://dealer.example.com"
CALLER = "+8613800138000"
SENDER = f"phone:{CALLER}"


@pytest.fixture
def stub() -> Iterator[SmsStub]:
    with running_sms_stub() as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path, stub: SmsStub) -> Settings:
    return make_settings(
        tmp_path,
        twilio_api_base_url=stub.base_url,
        twilio_account_sid=stub.env()["TWILIO_ACCOUNT_SID"],
        twilio_auth_token=stub.auth_token,
        twilio_from_number=FROM_NUMBER,
        phone_public_url=PUBLIC,
    )


def rasa_tracker(request: httpx.Request) -> httpx.Response:
    """Rasa's tracker endpoint, as the retry reads it: no call was answered, so no action ran
    (the integration tests run the real server)."""
    if request.method == "GET" and request.url.path == f"/conversations/{SENDER}/tracker":
        return httpx.Response(200, json={"sender_id": SENDER, "events": []})
    return httpx.Response(404, json={"message": "not expected in this test"})


@pytest.fixture
def clock() -> Clock:
    return Clock(DELIVERED + timedelta(hours=24))  # Tuesday 11:00: the first revisit is due


@pytest.fixture
async def outbox(
    sessions: SessionFactory, settings: Settings, clock: Clock
) -> AsyncIterator[Outbox]:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    out = Outbox()
    line = PhoneLine.from_settings(settings, functools.partial(runtime.in_thread, sessions), clock)
    assert line is not None
    async with httpx.AsyncClient(transport=httpx.MockTransport(rasa_tracker)) as client:
        customers = RasaConversations("http://rasa", "t", client, None, line)
        runtime.configure(
            runtime.Runtime(
                sessions, SHANGHAI, BackgroundScheduler(), customers=customers, consultants=out,
                clock=clock, quiet=QuietHours(SHANGHAI), surveys=CONFIG, report=out.report,
                phone=line,
            )
        )  # fmt: skip
        yield out
    runtime.configure(None)


@dataclass
class Gateway:
    """The gateway's call-outcome route, and the token the phone channel in Rasa shows it."""

    client: httpx.AsyncClient
    token: str

    async def post(self, body: Any, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"} if token != "" else {}
        if isinstance(body, bytes):
            return await self.client.post(status.PATH, content=body, headers=headers)
        return await self.client.post(status.PATH, json=body, headers=headers)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    app = Starlette(routes=[Route(status.PATH, status.call_status, methods=["POST"])])
    app.state.settings = settings
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Gateway(client, settings.effective_relay_token())


async def report(gateway: Gateway, call_sid: str, outcome: str, **fields: Any) -> httpx.Response:
    body = {"call_sid": call_sid, "sender_id": SENDER, "status": outcome,
            "direction": "outbound-api", **fields}  # fmt: skip
    return await gateway.post(body)


def notification(sessions: SessionFactory) -> Notification:
    with sessions() as session:
        row = session.scalars(select(Notification)).one()
        session.expunge(row)
        return row


async def test_a_survey_for_a_phone_customer_is_a_call_that_runs_it_when_answered(
    sessions: SessionFactory, outbox: Outbox, stub: SmsStub, clock: Clock
) -> None:
    first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
    await survey_jobs.send_survey(first)
    await survey_jobs.send_survey(first)  # the job run again: still one call
    assert len(stub.calls) == 1
    call = stub.calls[0]
    assert (call["To"], call["From"], call["Method"]) == (CALLER, FROM_NUMBER, "POST")
    assert call["StatusCallback"] == f"{PUBLIC}/webhooks/phone/status"
    assert call["Timeout"] == "30"
    url = urlsplit(call["Url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PUBLIC}/webhooks/phone/webhook"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    row = notification(sessions)
    assert query["proactive"] == "action_start_survey"
    assert json.loads(query["slots"]) == {"proactive_ref": row.ref, "survey_id": str(first)}
    assert (row.status, row.sender_id) == ("sent", SENDER)
    with sessions() as session:
        placed = session.scalars(select(PhoneCall)).one()
        assert (placed.call_sid, placed.direction, placed.status) == (
            call["Sid"], "outbound", "queued",
        )  # fmt: skip
        assert placed.notification_id == row.id
    assert outbox.actions == []  # nothing ran in the conversation: it runs when answered


async def test_an_unanswered_call_is_placed_once_more_then_reported(
    sessions: SessionFactory,
    outbox: Outbox,
    stub: SmsStub,
    clock: Clock,
    gateway: Gateway,
) -> None:
    first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
    await survey_jobs.send_survey(first)
    answer = await report(gateway, stub.calls[0]["Sid"], "no-answer", duration="0")
    assert answer.status_code == 200, answer.text
    row = notification(sessions)
    assert (row.status, row.next_attempt_at) == ("pending", clock.now + timedelta(hours=1))
    assert await proactive.retry_due() == 0  # not before the hour is up
    clock.now += timedelta(hours=1)
    assert await proactive.retry_due() == 1
    assert len(stub.calls) == 2
    assert notification(sessions).status == "sent"
    await report(gateway, stub.calls[1]["Sid"], "busy")
    await report(gateway, stub.calls[1]["Sid"], "busy")  # reported twice: one outcome
    row = notification(sessions)
    assert (row.status, row.next_attempt_at) == ("failed", None)
    assert len(outbox.reports) == 1
    assert "电话未接通" in outbox.reports[0]
    clock.now += timedelta(hours=3)
    assert await proactive.retry_due() == 0
    assert len(stub.calls) == 2
    with sessions() as session:
        assert [c.status for c in phone_calls.of_sender(session, SENDER)] == ["no-answer", "busy"]


async def test_a_call_not_answered_late_in_the_day_is_tried_again_after_the_quiet_hours(
    sessions: SessionFactory,
    outbox: Outbox,
    stub: SmsStub,
    clock: Clock,
    gateway: Gateway,
) -> None:
    first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
    clock.now = datetime(2026, 11, 24, 20, 30, tzinfo=SHANGHAI)
    await survey_jobs.send_survey(first)
    await report(gateway, stub.calls[0]["Sid"], "no-answer")
    row = notification(sessions)
    assert row.next_attempt_at == datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)


async def test_a_reminder_call_not_answered_is_not_tried_after_the_test_drive(
    sessions: SessionFactory, outbox: Outbox, clock: Clock, gateway: Gateway
) -> None:
    with transaction(sessions) as session:
        row = Notification(
            ref="booking:1:reminder_2h:x", kind="reminder_2h", recipient="customer",
            sender_id=SENDER, status="sent", attempts=1, sent_at=clock.now,
            for_start=clock.now + timedelta(minutes=50),
        )  # fmt: skip
        session.add(row)
        session.flush()
        phone_calls.placed(session, "CA" + "1" * 32, SENDER, row.ref, clock.now)
    assert (await report(gateway, "CA" + "1" * 32, "no-answer")).status_code == 200
    assert notification(sessions).status == "failed"
    assert len(outbox.reports) == 1


async def test_a_completed_call_keeps_its_message_sent_and_inbound_calls_are_recorded(
    sessions: SessionFactory,
    outbox: Outbox,
    stub: SmsStub,
    clock: Clock,
    gateway: Gateway,
) -> None:
    first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
    await survey_jobs.send_survey(first)
    await report(gateway, stub.calls[0]["Sid"], "completed", duration="95")
    await report(gateway, stub.calls[0]["Sid"], "no-answer")  # out of order: ignored
    assert notification(sessions).status == "sent"
    inbound = "CA" + "2" * 32
    await report(gateway, inbound, "completed", direction="inbound", duration="42")
    with sessions() as session:
        calls = {c.call_sid: c for c in phone_calls.of_sender(session, SENDER)}
        placed = calls[stub.calls[0]["Sid"]]
        assert (placed.status, placed.duration_seconds) == ("completed", 95)
        assert (calls[inbound].direction, calls[inbound].duration_seconds) == ("inbound", 42)
    assert outbox.reports == []


async def test_call_reports_need_the_token_and_a_real_call(gateway: Gateway) -> None:
    sid = "CA" + "3" * 32
    body = {"call_sid": sid, "sender_id": SENDER, "status": "completed"}
    for token in ("", "guessed"):
        assert (await gateway.post(body, token)).status_code == 403
    for bad in (
        {**body, "status": "exploded"},
        {**body, "call_sid": "'; DROP TABLE phone_calls; --"},
        {**body, "sender_id": "web-123"},
        {"status": "completed"},
    ):
        assert (await gateway.post(bad)).status_code == 400
    assert (await gateway.post(b"\xff\x00")).status_code == 400


async def test_a_call_the_provider_refuses_is_tried_again_and_nothing_is_recorded_as_placed(
    sessions: SessionFactory, outbox: Outbox, stub: SmsStub
) -> None:
    first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
    stub.fail_with = 500
    await survey_jobs.send_survey(first)
    row = notification(sessions)
    assert row.status == "pending"
    assert row.next_attempt_at is not None
    assert "not placed" in (row.detail or "")
    with sessions() as session:
        assert phone_calls.of_sender(session, SENDER) == []


async def test_without_a_phone_line_a_phone_customer_is_not_called_and_it_is_said_why(
    sessions: SessionFactory, outbox: Outbox, stub: SmsStub
) -> None:
    async with httpx.AsyncClient() as client:
        customers = RasaConversations("http://127.0.0.1:9", "t", client)  # no phone line
        runtime.configure(replace(runtime.current(), customers=customers))
        first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
        await survey_jobs.send_survey(first)
    assert stub.calls == []
    assert "PHONE_PUBLIC_URL" in (notification(sessions).detail or "")


async def test_erasure_removes_the_calls(
    sessions: SessionFactory, outbox: Outbox, stub: SmsStub, clock: Clock
) -> None:
    first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
    await survey_jobs.send_survey(first)
    with transaction(sessions) as session:
        privacy.erase(session, SENDER, clock.now)
    with sessions() as session:
        assert phone_calls.of_sender(session, SENDER) == []


async def test_a_test_drive_reminder_for_a_phone_customer_is_a_call(
    sessions: SessionFactory, outbox: Outbox, stub: SmsStub, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10, sender=SENDER)
    clock.now = THURSDAY_10 - timedelta(hours=24)
    await reminders.send_reminder(booking_id, "reminder_24h")
    [call] = stub.calls
    query = {k: v[0] for k, v in parse_qs(urlsplit(call["Url"]).query).items()}
    assert query["proactive"] == "action_test_drive_reminder"
    row = notification(sessions)
    assert json.loads(query["slots"]) == {"proactive_ref": row.ref}
    assert (row.kind, row.booking_id, row.status) == ("reminder_24h", booking_id, "sent")


async def test_a_call_whose_end_was_never_reported_is_asked_of_the_provider(
    sessions: SessionFactory, outbox: Outbox, stub: SmsStub, clock: Clock
) -> None:
    first, _, _ = deliver(sessions, DELIVERED, sender=SENDER, phone="13800138000")
    await survey_jobs.send_survey(first)
    sid = stub.calls[0]["Sid"]
    assert await calls.sweep() == 0  # just placed: its report may still come
    clock.now += timedelta(minutes=20)
    assert await calls.sweep() == 0  # the provider says it is still ringing ("queued")
    stub.call_status[sid] = ("no-answer", "0")
    assert await calls.sweep() == 1
    row = notification(sessions)
    assert (row.status, row.next_attempt_at) == ("pending", clock.now + timedelta(hours=1))
    assert await calls.sweep() == 0  # settled: not asked again
    with sessions() as session:
        assert [c.status for c in phone_calls.of_sender(session, SENDER)] == ["no-answer"]
