"""Prospect follow-ups: due dates by level in the dealer's days, /status moving them, reminders
once and in opening hours, overdue follow-ups reaching the managers once, against the fake Bot
API with a controllable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import Update

from bot.channels.telegram.application import register
from bot.channels.telegram.runtime import Telegram
from bot.jobs import follow_ups as jobs
from crm_bridge import follow_ups, leads, privacy, sales, staff
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Consultant, Lead, Staff
from tests.conftest import make_settings
from tests.job_fakes import Clock, staff_telegram
from tests.telegram_fake import TelegramFake, running_telegram_fake, text_update, user

ZONE = ZoneInfo("Asia/Shanghai")
CADENCE = follow_ups.Cadence({"H": 1, "A": 3, "B": 7, "C": 14}, ZONE)
# A Wednesday; the demo showroom opens 09:00-18:00 on weekdays (18:30 Fri/Sat, 09:30 Sundays).
WEDNESDAY_10 = datetime(2026, 12, 2, 10, 0, tzinfo=ZONE)
WANG, LI, BOSS = 5001, 5002, 5003


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE)


# Due dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "due"),
    [("H", local(2026, 12, 3)), ("A", local(2026, 12, 5)), ("B", local(2026, 12, 9)),
     ("C", local(2026, 12, 16)), (None, local(2026, 12, 16))],
)  # fmt: skip
def test_the_next_follow_up_is_due_from_the_start_of_its_day(
    level: str | None, due: datetime
) -> None:
    # A contact late in the afternoon still leaves the owner the whole due day.
    found = follow_ups.next_due(level, local(2026, 12, 2, 17, 50), CADENCE)
    assert found == due
    assert found.tzinfo is UTC


def test_days_are_the_dealers_days_not_utc_ones() -> None:
    # 23:30 in Shanghai is 15:30 UTC the same day: the next day starts 30 minutes later.
    late = local(2026, 12, 2, 23, 30)
    assert follow_ups.next_due("H", late, CADENCE) == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    # 00:30 on the 3rd in Shanghai is still the 2nd in UTC, but it is the 3rd's contact.
    early = local(2026, 12, 3, 0, 30)
    assert early.astimezone(UTC).day == 2
    assert follow_ups.next_due("H", early, CADENCE) == local(2026, 12, 4)
    # In a zone with daylight saving, a day is a calendar day, not 24 hours.
    new_york = ZoneInfo("America/New_York")
    cadence = follow_ups.Cadence(CADENCE.days, new_york)
    before = datetime(2026, 10, 31, 22, 0, tzinfo=new_york)  # clocks go back on 1 November
    assert follow_ups.next_due("H", before, cadence) == datetime(2026, 11, 1, tzinfo=new_york)
    assert follow_ups.next_due("A", before, cadence) == datetime(2026, 11, 3, tzinfo=new_york)
    assert follow_ups.next_due("A", before, cadence) - before == timedelta(days=2, hours=3)


def test_the_cadence_is_configurable(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, follow_up_days={"H": 2, "A": 4, "B": 10, "C": 30}, dealer_timezone="Asia/Tokyo"
    )
    cadence = follow_ups.Cadence.of(settings)
    contact = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert follow_ups.next_due("H", contact, cadence) == datetime(
        2026, 12, 4, tzinfo=ZoneInfo("Asia/Tokyo")
    )
    assert follow_ups.next_due(None, contact, cadence) == datetime(
        2027, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")
    )


# In the database ----------------------------------------------------------------------------


@pytest.fixture
def dealership(sessions: SessionFactory) -> SessionFactory:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        for telegram_id, name, role in ((WANG, "王磊", "consultant"), (LI, "李娜", "consultant"),
                                        (BOSS, "赵经理", "manager")):  # fmt: skip
            staff.add(session, staff.StaffEntry(telegram_id, name, role))
    return sessions


def a_lead(
    sessions: SessionFactory, phone: str, at: datetime, days: int = 7, name: str = "张伟"
) -> int:
    """A consented lead (7 days: level H) written by a conversation at ``at``."""
    update = leads.LeadUpdate(
        consent=True, channel="telegram", language="zh", name=name, phone=phone,
        model_interest=["Q5L"], purchase_timeline_days=days,
    )  # fmt: skip
    with transaction(sessions) as session:
        lead = leads.record_lead(session, f"telegram:{phone[-4:]}", update, "test", at)
        assert lead is not None
        return lead.id


def lead_of(sessions: SessionFactory, lead_id: int) -> Lead:
    with sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


def staff_member(session: Session, telegram_id: int) -> Staff:
    found = staff.by_telegram(session, telegram_id)
    assert found is not None
    return found


def contacted(
    sessions: SessionFactory, lead_id: int, by: int, at: datetime, outcome: str = "contacted",
    level: str | None = None,
) -> Lead:  # fmt: skip
    with transaction(sessions) as session:
        return sales.set_status(
            session, staff_member(session, by), lead_id, outcome, level, at, CADENCE
        )


def test_new_leads_and_level_changes_are_dated_by_the_job(dealership: SessionFactory) -> None:
    lead_id = a_lead(dealership, "+8613800138001", WEDNESDAY_10)
    assert lead_of(dealership, lead_id).next_follow_up_at is None
    with transaction(dealership) as session:
        assert follow_ups.backfill(session, CADENCE) == 1
        assert follow_ups.backfill(session, CADENCE) == 0
    lead = lead_of(dealership, lead_id)
    assert (lead.level, lead.next_follow_up_at) == ("H", local(2026, 12, 3))
    assert lead.updated_at == WEDNESDAY_10  # dating a lead is no change to it
    # The customer now plans to buy in a month: a B lead, due a week after that change.
    friday = local(2026, 12, 4, 15, 0)
    a_lead(dealership, "+8613800138001", friday, days=30)
    assert lead_of(dealership, lead_id).next_follow_up_at is None
    with transaction(dealership) as session:
        follow_ups.backfill(session, CADENCE)
    assert lead_of(dealership, lead_id).next_follow_up_at == local(2026, 12, 11)
    # Anything else the conversation adds leaves the date alone.
    a_lead(dealership, "+8613800138001", friday + timedelta(hours=1), days=25)
    assert lead_of(dealership, lead_id).next_follow_up_at == local(2026, 12, 11)


def test_status_moves_the_date_by_the_new_level_and_closing_clears_it(
    dealership: SessionFactory,
) -> None:
    lead_id = a_lead(dealership, "+8613800138002", WEDNESDAY_10)
    with transaction(dealership) as session:
        follow_ups.backfill(session, CADENCE)
        assert follow_ups.claim_reminder(
            session, lead_id, local(2026, 12, 3), local(2026, 12, 3, 9)
        )
    thursday = local(2026, 12, 3, 16, 0)
    lead = contacted(dealership, lead_id, WANG, thursday, "visited", "A")
    assert (lead.status, lead.level, lead.next_follow_up_at) == (
        "contacted",
        "A",
        local(2026, 12, 6),
    )
    assert lead.follow_up_reminded_at is None  # the new date is reminded again
    lead = contacted(dealership, lead_id, WANG, local(2026, 12, 5, 11, 0))
    assert (lead.level, lead.next_follow_up_at) == ("A", local(2026, 12, 8))
    lead = contacted(dealership, lead_id, WANG, local(2026, 12, 6, 11, 0), "won")
    assert (lead.status, lead.next_follow_up_at) == ("won", None)
    with transaction(dealership) as session:
        assert follow_ups.backfill(session, CADENCE) == 0  # closed leads are not followed up
    other = a_lead(dealership, "+8613800138003", WEDNESDAY_10)
    lead = contacted(dealership, other, LI, thursday, "lost")
    assert (lead.status, lead.next_follow_up_at) == ("lost", None)
    # Without a cadence (a caller that does not know it), the job dates it from the contact.
    third = a_lead(dealership, "+8613800138004", WEDNESDAY_10)
    with transaction(dealership) as session:
        sales.set_status(session, staff_member(session, LI), third, "contacted", "B", thursday)
        follow_ups.backfill(session, CADENCE)
    assert lead_of(dealership, third).next_follow_up_at == local(2026, 12, 10)


def test_a_moved_date_cannot_be_claimed_with_the_old_one(dealership: SessionFactory) -> None:
    lead_id = a_lead(dealership, "+8613800138005", WEDNESDAY_10)
    with transaction(dealership) as session:
        follow_ups.backfill(session, CADENCE)
    contacted(dealership, lead_id, WANG, local(2026, 12, 2, 17, 0), level="B")
    with transaction(dealership) as session:
        assert not follow_ups.claim_reminder(session, lead_id, local(2026, 12, 3), WEDNESDAY_10)
        assert follow_ups.claim_reminder(session, lead_id, local(2026, 12, 9), WEDNESDAY_10)
        assert not follow_ups.claim_reminder(session, lead_id, local(2026, 12, 9), WEDNESDAY_10)


# The jobs, against the fake Bot API ---------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[TelegramFake]:
    with running_telegram_fake() as running:
        yield running


@pytest.fixture
async def telegram(
    tmp_path: Path, dealership: SessionFactory, fake: TelegramFake
) -> AsyncIterator[Telegram]:
    async with staff_telegram(tmp_path, dealership, fake, Clock(WEDNESDAY_10)) as telegram:
        yield telegram


def at(telegram: Telegram, moment: datetime) -> None:
    assert isinstance(telegram.clock, Clock)
    telegram.clock.now = moment


def runtime(telegram: Telegram) -> jobs.Runtime:
    return jobs.Runtime.of(telegram, telegram.settings)


def owned_lead(telegram: Telegram, phone: str, owner: int, name: str = "张伟") -> int:
    """An H lead contacted by ``owner`` on Wednesday 2 December at 10:00: due on the 3rd."""
    lead_id = a_lead(telegram.sessions, phone, WEDNESDAY_10, name=name)
    contacted(telegram.sessions, lead_id, owner, WEDNESDAY_10)
    return lead_id


async def test_the_owner_is_reminded_once_when_the_showroom_opens(
    telegram: Telegram, fake: TelegramFake
) -> None:
    lead_id = owned_lead(telegram, "+8613800138011", WANG, name="<b>张伟</b>")
    at(telegram, local(2026, 12, 3, 0, 0))  # due, but the showroom is closed
    assert await jobs.remind(runtime(telegram)) == 0
    at(telegram, local(2026, 12, 3, 8, 59))
    assert await jobs.remind(runtime(telegram)) == 0
    at(telegram, local(2026, 12, 3, 9, 0))
    assert await jobs.remind(runtime(telegram)) == 1
    assert await jobs.remind(runtime(telegram)) == 0
    [text] = fake.texts_to(WANG)
    assert f"线索 #{lead_id}" in text
    assert "跟进提醒" in text
    assert "<b>张伟</b>" in text  # the customer's text as they wrote it, escaped on the way
    [call] = fake.calls_of("sendMessage")
    assert "&lt;b&gt;张伟&lt;/b&gt;" in call.params["text"]
    assert f"/status {lead_id} contacted level H" in text
    assert "应跟进：12月3日" in text
    assert fake.texts_to(LI) == []
    assert fake.texts_to(BOSS) == []


async def test_two_schedulers_send_one_reminder(telegram: Telegram, fake: TelegramFake) -> None:
    owned_lead(telegram, "+8613800138012", WANG)
    at(telegram, local(2026, 12, 3, 10, 0))
    sent = await asyncio.gather(jobs.remind(runtime(telegram)), jobs.remind(runtime(telegram)))
    assert sorted(sent) == [0, 1]
    assert len(fake.texts_to(WANG)) == 1


async def test_an_overdue_follow_up_reaches_each_manager_once(
    telegram: Telegram, fake: TelegramFake
) -> None:
    with transaction(telegram.sessions) as session:
        staff.add(session, staff.StaffEntry(5004, "钱总", "manager"))
    lead_id = owned_lead(telegram, "+8613800138013", WANG)
    at(telegram, local(2026, 12, 3, 9, 0))
    assert await jobs.remind(runtime(telegram)) == 1
    assert await jobs.escalate(runtime(telegram)) == 0
    at(telegram, local(2026, 12, 4, 0, 30))  # overdue by a day, but at night
    assert await jobs.escalate(runtime(telegram)) == 0
    at(telegram, local(2026, 12, 4, 9, 0))
    assert await jobs.escalate(runtime(telegram)) == 1
    assert await jobs.escalate(runtime(telegram)) == 0
    for manager in (BOSS, 5004):
        [text] = fake.texts_to(manager)
        assert f"线索 #{lead_id}" in text
        assert "跟进逾期" in text
        assert "负责人：王磊" in text
    assert len(fake.texts_to(WANG)) == 1  # only the reminder
    # Recording the contact dates the next one, which is reminded and escalated afresh.
    lead = contacted(telegram.sessions, lead_id, WANG, local(2026, 12, 4, 10, 0))
    assert lead.next_follow_up_at == local(2026, 12, 5)
    assert (lead.follow_up_reminded_at, lead.follow_up_escalated_at) == (None, None)


async def test_a_follow_up_due_in_a_closure_reaches_the_managers_a_day_after_its_owner(
    telegram: Telegram, fake: TelegramFake
) -> None:
    # Sunday 15 February 2026; the showroom is closed 16-18 February (Spring Festival).
    lead_id = a_lead(telegram.sessions, "+8613800138014", local(2026, 2, 15, 10, 0))
    contacted(telegram.sessions, lead_id, LI, local(2026, 2, 15, 10, 0))
    at(telegram, local(2026, 2, 17, 10, 0))
    assert await jobs.remind(runtime(telegram)) == 0
    at(telegram, local(2026, 2, 19, 9, 0))
    assert await jobs.remind(runtime(telegram)) == 1
    assert await jobs.escalate(runtime(telegram)) == 0  # the owner just heard of it
    at(telegram, local(2026, 2, 20, 9, 0))
    assert await jobs.escalate(runtime(telegram)) == 1
    assert any("李娜" in t for t in fake.texts_to(BOSS))


async def test_who_is_reminded_of_a_lead_nobody_owns(
    telegram: Telegram, fake: TelegramFake
) -> None:
    for_consultant = a_lead(telegram.sessions, "+8613800138015", WEDNESDAY_10)
    for_managers = a_lead(telegram.sessions, "+8613800138016", WEDNESDAY_10)
    with transaction(telegram.sessions) as session:
        lead = session.get(Lead, for_consultant)
        assert lead is not None
        # A booking assigned the lead the demo data's consultant 李娜 (registered on Telegram).
        lead.consultant_id = session.scalar(select(Consultant.id).where(Consultant.name == "李娜"))
    await jobs.backfill(runtime(telegram))
    at(telegram, local(2026, 12, 3, 9, 30))
    assert await jobs.remind(runtime(telegram)) == 2
    assert [f"线索 #{for_consultant}" in t for t in fake.texts_to(LI)] == [True]
    assert [f"线索 #{for_managers}" in t for t in fake.texts_to(BOSS)] == [True]
    at(telegram, local(2026, 12, 4, 9, 30))
    assert await jobs.escalate(runtime(telegram)) == 2
    assert any("无人负责" in t and f"/reassign {for_managers}" in t for t in fake.texts_to(BOSS))


async def test_customers_who_opted_out_are_not_followed_up(
    telegram: Telegram, fake: TelegramFake
) -> None:
    owned_lead(telegram, "+8613800138017", WANG)
    with transaction(telegram.sessions) as session:
        privacy.opt_out(session, "telegram:8017", WEDNESDAY_10)
    at(telegram, local(2026, 12, 3, 9, 0))
    assert await jobs.remind(runtime(telegram)) == 0
    assert fake.texts_to(WANG) == []


async def test_a_passing_telegram_failure_is_retried_a_refusal_is_not(
    telegram: Telegram, fake: TelegramFake
) -> None:
    lead_id = owned_lead(telegram, "+8613800138018", WANG)
    at(telegram, local(2026, 12, 3, 9, 0))
    fake.fail_next("sendMessage", 502)
    assert await jobs.remind(runtime(telegram)) == 0
    assert lead_of(telegram.sessions, lead_id).follow_up_reminded_at is None  # given back
    assert await jobs.remind(runtime(telegram)) == 1
    assert len(fake.texts_to(WANG)) == 1
    blocked = owned_lead(telegram, "+8613800138019", LI)
    fake.fail_next("sendMessage", 403)  # 李娜 blocked the bot
    assert await jobs.remind(runtime(telegram)) == 0
    assert await jobs.remind(runtime(telegram)) == 0  # not retried every minute
    assert lead_of(telegram.sessions, blocked).follow_up_reminded_at is not None
    at(telegram, local(2026, 12, 4, 9, 0))
    assert await jobs.escalate(runtime(telegram)) == 2  # the managers hear of both
    assert any(f"线索 #{blocked}" in t for t in fake.texts_to(BOSS))


async def test_the_tick_dates_reminds_and_escalates(telegram: Telegram, fake: TelegramFake) -> None:
    a_lead(telegram.sessions, "+8613800138020", WEDNESDAY_10)  # new: dated by the tick
    jobs.configure(telegram)
    try:
        at(telegram, local(2026, 12, 3, 9, 0))
        await jobs.tick()
        assert len(fake.texts_to(BOSS)) == 1  # nobody owns it: the managers are reminded
        at(telegram, local(2026, 12, 4, 9, 0))
        await jobs.tick()
        await jobs.tick()
        assert len(fake.texts_to(BOSS)) == 2
    finally:
        jobs.configure(None)
    await jobs.tick()  # Telegram off: nothing to do


# /status and /followups ---------------------------------------------------------------------


async def command(telegram: Telegram, fake: TelegramFake, who: dict[str, object], text: str) -> str:
    before = len(fake.texts_to(int(str(who["id"]))))
    update = Update.de_json(text_update(who, text), telegram.bot)
    await telegram.application.process_update(update)
    return "\n".join(fake.texts_to(int(str(who["id"])))[before:])


@pytest.fixture
def commands(telegram: Telegram) -> Telegram:
    register(telegram)
    return telegram


async def test_status_tells_when_to_follow_up_next(commands: Telegram, fake: TelegramFake) -> None:
    lead_id = a_lead(commands.sessions, "+8613800138021", WEDNESDAY_10)
    wang, tom = user(WANG, "王磊"), user(LI, "Li Na", "en")
    at(commands, local(2026, 12, 2, 17, 50))
    answer = await command(commands, fake, wang, f"/status {lead_id} contacted level A")
    assert answer == "已记录。下次跟进：12月5日"
    usage = await command(commands, fake, wang, f"/status {lead_id} maybe")
    assert usage.startswith("用法")
    other = a_lead(commands.sessions, "+8613800138022", WEDNESDAY_10)
    answer = await command(commands, fake, tom, f"/status {other} visited")
    assert answer == "Recorded. Next follow-up: 3 Dec"
    assert await command(commands, fake, tom, f"/status {other} lost") == "Recorded."
    assert lead_of(commands.sessions, other).next_follow_up_at is None


async def test_followups_lists_what_is_due_today(commands: Telegram, fake: TelegramFake) -> None:
    late = owned_lead(commands, "+8613800138023", WANG)
    today = owned_lead(commands, "+8613800138024", WANG)
    contacted(commands.sessions, today, WANG, local(2026, 12, 3, 12, 0))  # due on the 4th
    later = owned_lead(commands, "+8613800138025", WANG)
    contacted(commands.sessions, later, WANG, local(2026, 12, 3, 12, 0), level="C")
    owned_lead(commands, "+8613800138026", LI)  # someone else's
    at(commands, local(2026, 12, 4, 10, 0))
    rows = (await command(commands, fake, user(WANG, "王磊"), "/followups")).splitlines()
    assert [row.split()[0] for row in rows] == [f"#{late}", f"#{today}"]
    assert "逾期" in rows[0]
    assert "12月4日" in rows[1]
    boss = (await command(commands, fake, user(BOSS, "赵经理"), "/followups")).splitlines()
    assert len(boss) == 3  # managers see every team member's
