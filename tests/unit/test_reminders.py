"""Reminders and consultant notices: jobs in the persistent job store follow the bookings, with a
controllable clock; a reminder goes out once, not to customers who opted out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select
from telegram import Bot

from bot.jobs import channels as job_channels
from bot.jobs import reminders
from crm_bridge import bookings, privacy
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.conversations import start_conversation
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Notification
from tests.telegram_fake import TOKEN, running_telegram_fake

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOOKED_AT = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)  # Monday 10:30 in Shanghai
THURSDAY_10 = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)


@dataclass
class Clock:
    now: datetime = BOOKED_AT

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Outbox:
    """Stands in for the delivery channels; what would have been sent, in order."""

    actions: list[tuple[str, str]] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False

    async def run_action(self, sender_id: str, action: str) -> None:
        if self.fail:
            raise ConnectionError("Rasa is down")
        self.actions.append((sender_id, action))

    async def notify(self, consultant: str, text: str) -> None:
        self.notices.append((consultant, text))


@pytest.fixture
def scheduler(engine: Engine) -> Iterator[BackgroundScheduler]:
    """The scheduler with its job store in the dealership database; paused, so jobs only wait."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=SHANGHAI
    )
    scheduler.start(paused=True)
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(
    sessions: SessionFactory, scheduler: BackgroundScheduler, clock: Clock
) -> Iterator[Outbox]:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    out = Outbox()
    reminders.configure(
        reminders.Runtime(
            sessions, SHANGHAI, scheduler, customers=out, consultants=out, clock=clock
        )
    )
    yield out
    reminders._runtime = None


def book(sessions: SessionFactory, start: datetime, sender: str = "web-1") -> int:
    with transaction(sessions) as session:
        start_conversation(session, sender, BOOKED_AT, "web")
        booking = bookings.book(
            session, model_code="Q5L", start=start, zone=SHANGHAI, now=BOOKED_AT, source="test",
            sender_id=sender, channel="web", language="zh", customer_name="张伟",
            phone="+8613800138000",
        )  # fmt: skip
        session.flush()
        return booking.id


def jobs(scheduler: BackgroundScheduler) -> dict[str, datetime]:
    return {j.id: j.next_run_time for j in scheduler.get_jobs() if j.id.startswith("booking:")}


def test_plan_skips_reminders_whose_time_has_passed() -> None:
    soon = BOOKED_AT + timedelta(minutes=90)
    planned = reminders.plan_reminders([(1, THURSDAY_10), (2, soon)], BOOKED_AT)
    assert [(p.job_id, p.run_at) for p in planned] == [
        ("booking:1:reminder_24h", THURSDAY_10 - timedelta(hours=24)),
        ("booking:1:reminder_2h", THURSDAY_10 - timedelta(hours=2)),
    ]


async def test_jobs_follow_the_booking(
    sessions: SessionFactory, scheduler: BackgroundScheduler, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    await reminders.sync()
    assert jobs(scheduler) == {
        f"booking:{booking_id}:reminder_24h": THURSDAY_10 - timedelta(hours=24),
        f"booking:{booking_id}:reminder_2h": THURSDAY_10 - timedelta(hours=2),
    }
    # Moved: the same job ids, new times.
    friday = THURSDAY_10 + timedelta(days=1, hours=3)
    with transaction(sessions) as session:
        bookings.reschedule(session, booking_id, friday, zone=SHANGHAI, now=BOOKED_AT, source="t")
    await reminders.sync()
    assert jobs(scheduler) == {
        f"booking:{booking_id}:reminder_24h": friday - timedelta(hours=24),
        f"booking:{booking_id}:reminder_2h": friday - timedelta(hours=2),
    }
    # Cancelled: gone.
    with transaction(sessions) as session:
        bookings.cancel(session, booking_id, now=BOOKED_AT, source="t")
    await reminders.sync()
    assert jobs(scheduler) == {}
    # The consultant heard of each change once.
    assert [text.split("：")[0] for _, text in outbox.notices] == [
        "新的试驾预约",
        "试驾改期",
        "试驾取消",
    ]
    await reminders.sync()
    assert len(outbox.notices) == 3


async def test_jobs_survive_a_restart(
    sessions: SessionFactory, engine: Engine, scheduler: BackgroundScheduler, outbox: Outbox
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    await reminders.sync()
    scheduler.shutdown(wait=False)
    again = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)})
    again.start(paused=True)
    try:
        assert set(jobs(again)) == {
            f"booking:{booking_id}:reminder_24h",
            f"booking:{booking_id}:reminder_2h",
        }
    finally:
        again.shutdown(wait=False)


async def test_a_reminder_goes_out_once(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    clock.now = THURSDAY_10 - timedelta(hours=24)
    await reminders.send_reminder(booking_id, "reminder_24h")
    await reminders.send_reminder(booking_id, "reminder_24h")  # a second scheduler, a retry
    assert outbox.actions == [("web-1", "action_test_drive_reminder")]
    clock.now = THURSDAY_10 - timedelta(hours=2)
    await reminders.send_reminder(booking_id, "reminder_2h")
    assert len(outbox.actions) == 2
    with transaction(sessions) as session:
        sent = session.scalars(select(Notification).order_by(Notification.id)).all()
        assert [(n.kind, n.status, n.for_start) for n in sent] == [
            ("reminder_24h", "sent", THURSDAY_10),
            ("reminder_2h", "sent", THURSDAY_10),
        ]


async def test_a_job_for_a_time_the_booking_moved_away_from_sends_nothing(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    with transaction(sessions) as session:
        bookings.reschedule(
            session, booking_id, THURSDAY_10 + timedelta(days=1), zone=SHANGHAI, now=BOOKED_AT,
            source="t",
        )  # fmt: skip
    clock.now = THURSDAY_10 - timedelta(hours=24)  # the old time's reminder fires
    await reminders.send_reminder(booking_id, "reminder_24h")
    assert outbox.actions == []


async def test_no_reminder_after_opting_out(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    with transaction(sessions) as session:
        privacy.opt_out(session, "web-1", BOOKED_AT)
    clock.now = THURSDAY_10 - timedelta(hours=2)
    await reminders.send_reminder(booking_id, "reminder_2h")
    assert outbox.actions == []
    with transaction(sessions) as session:
        [skipped] = session.scalars(select(Notification)).all()
        assert skipped.status == "skipped"


async def test_a_failed_delivery_is_recorded(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    outbox.fail = True
    clock.now = THURSDAY_10 - timedelta(hours=2)
    await reminders.send_reminder(booking_id, "reminder_2h")
    with transaction(sessions) as session:
        [failed] = session.scalars(select(Notification)).all()
        assert (failed.status, failed.detail) == ("failed", "Rasa is down")


async def test_reminders_keep_local_time_across_a_daylight_saving_change(
    sessions: SessionFactory, scheduler: BackgroundScheduler, outbox: Outbox
) -> None:
    # A reminder 24 hours before is 24 real hours: across New York's change on 1 November
    # 2026 the local clock reads an hour different, and the job is set in UTC exactly.
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 11, 1, 14, 0, tzinfo=new_york)
    planned = reminders.plan_reminders([(7, start)], datetime(2026, 10, 30, tzinfo=UTC))
    day_before = planned[0].run_at.astimezone(new_york)
    assert (day_before.day, day_before.hour) == (31, 15)
    assert start - planned[0].run_at == timedelta(hours=24)


async def test_a_completed_test_drive_gets_its_survey_once(
    sessions: SessionFactory, scheduler: BackgroundScheduler, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    clock.now = THURSDAY_10 + timedelta(hours=1, minutes=10)
    with transaction(sessions) as session:
        bookings.mark_outcome(session, booking_id, "completed", now=clock.now, source="cli")
    await reminders.sync()
    [survey_job] = [j for j in scheduler.get_jobs() if j.id.startswith("survey:")]
    assert survey_job.id.endswith(":post_test_drive")
    # Two hours after the end, counted from the marking when that came later.
    assert survey_job.next_run_time == clock.now + timedelta(hours=2)
    clock.now += timedelta(hours=2)
    survey_id = survey_job.args[0]
    await reminders.send_survey(survey_id)
    await reminders.send_survey(survey_id)
    assert outbox.actions == [("web-1", "action_ask_test_drive_feedback")]
    await reminders.sync()
    assert not [j for j in scheduler.get_jobs() if j.id.startswith("survey:")]


async def test_notices_go_to_the_sales_chat_over_the_bot_api() -> None:
    with running_telegram_fake() as fake:
        bot = Bot(TOKEN, base_url=f"{fake.base_url}/bot")
        async with bot:
            chat = job_channels.TelegramSalesChat(bot, -100123)
            await chat.notify("王磊", "新的试驾预约：Q5L，<b>张伟</b> & co")
        [call] = fake.calls_of("sendMessage")
    assert str(call.params["chat_id"]) == "-100123"
    assert call.params["parse_mode"] == "HTML"
    # The customer's words are escaped; only the assistant's own markup stays.
    expected = "<b>@王磊</b>\n新的试驾预约：Q5L，&lt;b&gt;张伟&lt;/b&gt; &amp; co"
    assert call.params["text"] == expected
