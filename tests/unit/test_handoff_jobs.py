"""The hand-off jobs with a controllable clock, against the fake Bot API: lead cards go out once,
an unclaimed card reaches the managers after its opening-hours deadline, a silent owner is
reminded and then escalated, an undelivered relay is tried again."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from bot.channels.rasa import RasaClient
from bot.channels.telegram.application import build_application
from bot.channels.telegram.runtime import Telegram
from bot.jobs import handoff as jobs
from crm_bridge import handoff, staff
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Handoff, HandoffCard, RelayMessage
from tests.conftest import make_settings
from tests.telegram_fake import TelegramFake, running_telegram_fake

ZONE = ZoneInfo("Asia/Shanghai")
WEDNESDAY_10 = datetime(2026, 12, 2, 10, 0, tzinfo=ZONE)
WANG, LI, BOSS = 5001, 5002, 5003


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def fake() -> Iterator[TelegramFake]:
    with running_telegram_fake() as running:
        yield running


@pytest.fixture
async def telegram(
    tmp_path: Path, sessions: SessionFactory, fake: TelegramFake
) -> AsyncIterator[Telegram]:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        for telegram_id, name, role in ((WANG, "王磊", "consultant"), (LI, "李娜", "consultant"),
                                        (BOSS, "赵经理", "manager")):  # fmt: skip
            staff.add(session, staff.StaffEntry(telegram_id, name, role))
    settings = make_settings(
        tmp_path,
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.base_url,
        telegram_webhook_url="https://dealer.example/telegram/webhook",
    )
    application = build_application(settings)
    await application.initialize()
    async with httpx.AsyncClient() as client:
        rasa = RasaClient("http://127.0.0.1:9", "t", "t", client)
        yield Telegram(settings, sessions, rasa, application, clock=Clock(WEDNESDAY_10))
    await application.shutdown()


def clock(telegram: Telegram) -> Clock:
    assert isinstance(telegram.clock, Clock)
    return telegram.clock


def open_handoff(telegram: Telegram, sender: str) -> int:
    with transaction(telegram.sessions) as session:
        result = handoff.request(
            session, sender_id=sender, reason="person", at=telegram.clock(),
            zone="Asia/Shanghai", claim_minutes=10, channel="telegram",
            excerpt=[{"who": "customer", "text": "<b>想找顾问</b>"}],
        )  # fmt: skip
        return int(result["handoff_id"])


def claimed_by(telegram: Telegram, sender: str, telegram_id: int) -> int:
    """A hand-off of ``sender`` claimed now by the staff member ``telegram_id``."""
    handoff_id = open_handoff(telegram, sender)
    with transaction(telegram.sessions) as session:
        owner = staff.by_telegram(session, telegram_id)
        assert owner is not None
        assert handoff.claim(session, handoff_id, owner, telegram.clock(), 10).won
    return handoff_id


async def test_cards_go_out_once_and_escalate_when_nobody_claims(
    telegram: Telegram, fake: TelegramFake
) -> None:
    handoff_id = open_handoff(telegram, "telegram:42")
    assert await jobs.announce(telegram) == 2  # no sales chat: every consultant privately
    assert await jobs.announce(telegram) == 0
    [card] = fake.messages_to(WANG)
    assert "&lt;b&gt;" not in card["text"]  # escaped on the way, shown as the customer wrote it
    assert "<b>想找顾问</b>" in card["text"]
    assert card["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"claim:{handoff_id}"
    clock(telegram).advance(minutes=9)
    assert await jobs.escalate_unclaimed(telegram) == 0
    assert fake.messages_to(BOSS) == []
    clock(telegram).advance(minutes=1)
    assert await jobs.escalate_unclaimed(telegram) == 1
    [escalated] = fake.messages_to(BOSS)
    assert "超时未认领" in escalated["text"]
    assert await jobs.escalate_unclaimed(telegram) == 0
    with telegram.sessions() as session:
        purposes = session.scalars(
            select(HandoffCard.purpose).where(HandoffCard.handoff_id == handoff_id)
        ).all()
        assert sorted(purposes) == ["card", "card", "escalation"]


async def test_a_card_opened_after_hours_is_due_after_opening(
    telegram: Telegram, fake: TelegramFake
) -> None:
    clock(telegram).now = datetime(2026, 12, 2, 22, 0, tzinfo=ZONE)
    open_handoff(telegram, "telegram:43")
    clock(telegram).now = datetime(2026, 12, 3, 9, 9, tzinfo=ZONE)
    assert await jobs.escalate_unclaimed(telegram) == 0
    clock(telegram).now = datetime(2026, 12, 3, 9, 10, tzinfo=ZONE)
    assert await jobs.escalate_unclaimed(telegram) == 1


async def test_a_silent_owner_is_reminded_then_escalated(
    telegram: Telegram, fake: TelegramFake
) -> None:
    claimed_by(telegram, "telegram:44", LI)
    clock(telegram).advance(minutes=9)
    assert await jobs.chase_owners(telegram) == 0
    clock(telegram).advance(minutes=2)
    assert await jobs.chase_owners(telegram) == 1
    assert any("还在等您回复" in t for t in fake.texts_to(LI))
    clock(telegram).advance(minutes=5)
    assert await jobs.chase_owners(telegram) == 0
    clock(telegram).advance(minutes=6)
    assert await jobs.chase_owners(telegram) == 1
    assert any("李娜" in t and "超时未回复" in t for t in fake.texts_to(BOSS))
    assert await jobs.chase_owners(telegram) == 0


async def test_an_owner_who_answered_is_left_alone(telegram: Telegram, fake: TelegramFake) -> None:
    handoff_id = claimed_by(telegram, "telegram:45", WANG)
    with transaction(telegram.sessions) as session:
        row = session.get(Handoff, handoff_id)
        assert row is not None
        assert row.owner is not None
        handoff.replied(session, row, row.owner, telegram.clock())
    clock(telegram).advance(hours=2)
    assert await jobs.chase_owners(telegram) == 0


async def test_a_relay_that_failed_is_delivered_later(
    telegram: Telegram, fake: TelegramFake
) -> None:
    handoff_id = claimed_by(telegram, "telegram:46", WANG)
    with transaction(telegram.sessions) as session:
        row = session.get(Handoff, handoff_id)
        assert row is not None
        handoff.relay(session, row, "to_consultant", body="还有白色的吗？", now=telegram.clock())
    clock(telegram).advance(seconds=5)
    assert await jobs.retry_relays(telegram) == 0  # the first try is the live one
    clock(telegram).advance(seconds=30)
    fake.fail_next("sendMessage", 502)
    assert await jobs.retry_relays(telegram) == 1
    with telegram.sessions() as session:
        assert session.scalar(select(RelayMessage.delivered_at)) is None
    assert await jobs.retry_relays(telegram) == 1
    assert "还有白色的吗？" in " ".join(fake.texts_to(WANG))
    with telegram.sessions() as session:
        message = session.scalars(select(RelayMessage)).one()
        assert message.delivered_at is not None
        assert message.attempts == 2
    assert await jobs.retry_relays(telegram) == 0


async def test_photos_no_message_refers_to_are_deleted(telegram: Telegram) -> None:
    handoff_id = open_handoff(telegram, "telegram:47")
    folder = telegram.settings.var_dir / "media"
    folder.mkdir(parents=True, exist_ok=True)
    referenced, erased, fresh = (folder / f"{n * 32}.jpg" for n in "abc")
    for path in (referenced, erased, fresh):
        path.write_bytes(b"jpeg")
    for path in (referenced, erased):
        os.utime(path, (time.time() - 600, time.time() - 600))
    with transaction(telegram.sessions) as session:
        row = session.get(Handoff, handoff_id)
        assert row is not None
        handoff.relay(session, row, "to_customer", body="这台", kind="photo",
                      media=referenced.name, now=telegram.clock())  # fmt: skip
    await jobs.prune(telegram)
    assert referenced.exists()
    assert not erased.exists()
    assert fresh.exists()  # just saved: its message may be on its way
