"""Complaint tickets on Telegram, against the fake Bot API with a controllable clock: the alert
reaches every manager and the sales chat once with the answers, the words and the excerpt
(escaped), a failed alert is tried again, a ticket nobody takes is escalated once per period, and
``/ticket`` lists, shows, takes and resolves tickets for those allowed to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from telegram import Update

from bot.channels.telegram.application import register
from bot.channels.telegram.runtime import Telegram
from bot.jobs import tickets as jobs
from crm_bridge import staff, tickets
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.models import Customer, Lead, Staff, Ticket, TicketEvent
from tests.job_fakes import Clock, staff_telegram
from tests.telegram_fake import TelegramFake, running_telegram_fake, text_update, user

ZONE = ZoneInfo("Asia/Shanghai")
WEDNESDAY_10 = datetime(2026, 12, 2, 10, 0, tzinfo=ZONE)
WANG, LI, BOSS, MAX = 5001, 5002, 5003, 5004  # consultants, a Chinese and an English manager
SALES_CHAT = -100200300
EXCERPT = [
    {"who": "assistant", "text": "您对交车满意吗？"},
    {"who": "customer", "text": "<b>很差</b>"},
]


@pytest.fixture
def fake() -> Iterator[TelegramFake]:
    with running_telegram_fake() as running:
        yield running


@pytest.fixture
async def telegram(
    tmp_path: Path, sessions: SessionFactory, fake: TelegramFake
) -> AsyncIterator[Telegram]:
    with transaction(sessions) as session:
        team = ((WANG, "王磊", "consultant"), (LI, "李娜", "consultant"),
                (BOSS, "赵经理", "manager"), (MAX, "Max", "manager"))  # fmt: skip
        for telegram_id, name, role in team:
            staff.add(session, staff.StaffEntry(telegram_id, name, role))
        english = staff.by_telegram(session, MAX)
        assert english is not None
        english.language = "en"
    async with staff_telegram(
        tmp_path, sessions, fake, Clock(WEDNESDAY_10), telegram_sales_chat_id=SALES_CHAT,
        ticket_escalate_hours=4,
    ) as telegram:  # fmt: skip
        yield telegram


def clock(telegram: Telegram) -> Clock:
    assert isinstance(telegram.clock, Clock)
    return telegram.clock


def survey_ticket(telegram: Telegram, owner: int | None = None) -> int:
    """A low survey score of 张伟's, whose lead the staff member ``owner`` owns."""
    with transaction(telegram.sessions) as session:
        customer = Customer(phone="+8613800138000", name="张<伟>", consent=True)
        session.add(customer)
        session.flush()
        owner_row = staff.by_telegram(session, owner) if owner else None
        lead = Lead(customer_id=customer.id, status="won",
                    owner_id=owner_row.id if owner_row else None)  # fmt: skip
        session.add(lead)
        session.flush()
        return tickets.open_ticket(
            session, source="survey", now=telegram.clock(), channel="telegram", language="zh",
            customer_id=customer.id, lead_id=lead.id, summary="交车时车里很脏 & 没人解释",
            answers={"consultant": 2, "delivery": 1, "recommend": 3}, excerpt=EXCERPT,
        ).id  # fmt: skip


def events(telegram: Telegram, ticket_id: int) -> list[tuple[str, str | None]]:
    with telegram.sessions() as session:
        rows = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        return [(e.kind, e.actor) for e in rows]


async def test_the_managers_and_the_sales_chat_are_alerted_once(
    telegram: Telegram, fake: TelegramFake
) -> None:
    ticket_id = survey_ticket(telegram)
    assert await jobs.alert(telegram) == 1
    assert await jobs.alert(telegram) == 0
    assert fake.messages_to(WANG) == []  # consultants are not alerted
    [chinese] = fake.messages_to(BOSS)
    [english] = fake.messages_to(MAX)
    [group] = fake.messages_to(SALES_CHAT)
    assert chinese["text"] == group["text"]
    text = chinese["text"]
    assert f"投诉 #{ticket_id} · 回访低分" in text
    assert "consultant 2 · delivery 1 · recommend 3" in text
    assert "交车时车里很脏 & 没人解释" in text  # escaped on the way, shown as written
    assert "客户: <b>很差</b>" in text
    assert "助手: 您对交车满意吗？" in text
    assert "张<伟> +8613800138000" in text
    assert f"/ticket {ticket_id} progress" in text
    assert f"/ticket {ticket_id} resolve" in text
    assert f"Complaint #{ticket_id} · low survey score" in english["text"]
    sent = fake.calls_of("sendMessage")[0].params["text"]
    assert "&lt;b&gt;很差&lt;/b&gt;" in sent
    assert "&amp;" in sent
    assert events(telegram, ticket_id) == [("opened", "assistant"), ("alerted", "assistant")]


async def test_an_alert_that_reached_nobody_is_tried_again(
    telegram: Telegram, fake: TelegramFake
) -> None:
    ticket_id = survey_ticket(telegram)
    fake.fail_next("sendMessage", 502, times=3)
    assert await jobs.alert(telegram) == 0
    with telegram.sessions() as session:
        assert session.scalar(select(Ticket.alerted_at)) is None
    assert await jobs.alert(telegram) == 1
    assert len(fake.texts_to(BOSS)) == 1
    assert events(telegram, ticket_id)[-1] == ("alerted", "assistant")


async def test_a_ticket_nobody_takes_is_escalated_once_per_period(
    telegram: Telegram, fake: TelegramFake
) -> None:
    ticket_id = survey_ticket(telegram)
    await jobs.alert(telegram)
    clock(telegram).now += timedelta(hours=3, minutes=59)
    assert await jobs.escalate(telegram) == 0
    clock(telegram).now += timedelta(minutes=1)
    assert await jobs.escalate(telegram) == 1
    assert await jobs.escalate(telegram) == 0
    assert "已超过 4 小时无人处理（第 1 次升级）" in fake.texts_to(BOSS)[-1]
    assert "Nobody has taken it for 4 hours (escalation 1)" in fake.texts_to(MAX)[-1]
    assert len(fake.texts_to(SALES_CHAT)) == 1  # escalations go to the managers
    clock(telegram).now += timedelta(hours=4)
    assert await jobs.escalate(telegram) == 1
    assert "第 2 次升级" in fake.texts_to(BOSS)[-1]
    with transaction(telegram.sessions) as session:
        tickets.move(session, ticket_id, "in_progress", now=telegram.clock(), actor="赵经理")
    clock(telegram).now += timedelta(hours=8)
    assert await jobs.escalate(telegram) == 0
    with telegram.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.escalations == 2
        assert ticket.escalated_at == WEDNESDAY_10 + timedelta(hours=8)
    kinds = [kind for kind, _ in events(telegram, ticket_id)]
    assert kinds == ["opened", "alerted", "escalated", "escalated", "in_progress"]


async def command(telegram: Telegram, fake: TelegramFake, who: int, text: str) -> str:
    """``text`` sent by ``who`` in their private chat; what the bot answered."""
    before = len(fake.texts_to(who))
    code = "en" if who == MAX else "zh"
    payload: dict[str, Any] = text_update(user(who, language_code=code), text)
    await telegram.application.process_update(Update.de_json(payload, telegram.bot))
    return "\n".join(fake.texts_to(who)[before:])


async def test_ticket_commands_for_managers_and_owners(
    telegram: Telegram, fake: TelegramFake
) -> None:
    register(telegram)
    mine = survey_ticket(telegram, owner=WANG)
    assert f"#{mine} 待处理 回访低分 张<伟>" in await command(telegram, fake, BOSS, "/ticket")
    assert f"#{mine} open low survey score" in await command(telegram, fake, MAX, "/tickets")
    assert "暂无" in await command(telegram, fake, LI, "/ticket")  # not her customer
    assert f"找不到投诉 #{mine}" in await command(telegram, fake, LI, f"/ticket {mine} progress")
    shown = await command(telegram, fake, WANG, f"/ticket {mine}")
    assert "交车时车里很脏" in shown
    assert "opened assistant" in shown
    assert "用法" in await command(telegram, fake, WANG, f"/ticket {mine} close")
    taken = await command(telegram, fake, WANG, f"/ticket {mine} progress 已约客户周六来店")
    assert f"投诉 #{mine}：处理中" in taken
    assert "原因和改进" in await command(telegram, fake, BOSS, f"/ticket #{mine} resolve service")
    done = await command(
        telegram, fake, BOSS, f"/ticket {mine} resolve service 洗车流程漏检\n交车前加一道检查"
    )
    assert f"投诉 #{mine}：已解决" in done
    again = await command(telegram, fake, MAX, f"/ticket {mine} resolve again")
    assert f"Complaint #{mine} is resolved" in again
    with telegram.sessions() as session:
        ticket = session.get(Ticket, mine)
        assert ticket is not None
        assert (ticket.state, ticket.cause) == ("resolved", "service")
        assert ticket.resolution == "洗车流程漏检\n交车前加一道检查"
        wang = session.scalar(select(Staff.id).where(Staff.telegram_user_id == WANG))
        steps = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == mine)).all()
        assert [(e.kind, e.actor, e.staff_id is not None) for e in steps] == [
            ("opened", "assistant", False), ("in_progress", "王磊", True),
            ("resolved", "赵经理", True)]  # fmt: skip
        assert steps[1].staff_id == wang
    assert "暂无" in await command(telegram, fake, BOSS, "/ticket")
    stranger = await command(telegram, fake, 9999, "/ticket")
    assert "销售团队" in stranger
