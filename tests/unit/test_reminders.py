"""Reminders and consultant notices: jobs in the persistent job store follow the bookings, with a
controllable clock; a reminder goes out once, not to customers who opted out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select
from telegram import Bot

from bot.jobs import channels as job_channels
from bot.jobs import proactive, reminders, runtime
from bot.jobs import surveys as survey_jobs
from crm_bridge import bookings, privacy
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.conversations import start_conversation
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Notification
from crm_bridge.quiet import QuietHours
from crm_bridge.surveys import service as survey_service
from crm_bridge.surveys.config import load as load_survey_config
from tests.job_fakes import Clock, Outbox
from tests.telegram_fake import TOKEN, running_telegram_fake

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOOKED_AT = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)  # Monday 10:30 in Shanghai
THURSDAY_10 = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
SURVEY_CONFIG = Path(__file__).parents[2] / "config" / "surveys.yml"


@pytest.fixture
def scheduler(engine: Engine) -> Iterator[BackgroundScheduler]:
    """The scheduler with its job store in the dealership database; paused, so jobs only wait."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=SHANGHAI
    )
    scheduler.start(paused=True)
    yield scheduler
    if scheduler.running:
        scheduler.remove_all_jobs()  # nothing left for the loop's last pass on shutdown
        scheduler.shutdown()


@pytest.fixture
def clock() -> Clock:
    return Clock(BOOKED_AT)


@pytest.fixture
def outbox(
    sessions: SessionFactory, scheduler: BackgroundScheduler, clock: Clock
) -> Iterator[Outbox]:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    out = Outbox()
    runtime.configure(
        runtime.Runtime(
            sessions, SHANGHAI, scheduler, customers=out, consultants=out, clock=clock,
            report=out.report,
        )
    )  # fmt: skip
    yield out
    runtime.configure(None)


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
        again.remove_all_jobs()  # nothing left for the loop's last pass on shutdown
        again.shutdown()


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


async def test_a_failed_delivery_is_retried_then_reported(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    outbox.fail = True
    clock.now = THURSDAY_10 - timedelta(hours=2)
    await reminders.send_reminder(booking_id, "reminder_2h")
    with transaction(sessions) as session:
        [row] = session.scalars(select(Notification)).all()
        assert (row.status, row.attempts, row.detail) == ("pending", 1, "Rasa is down")
        assert row.next_attempt_at == clock.now + proactive.RETRY_AFTER[0]
    assert await proactive.retry_due() == 0  # not yet
    clock.now += proactive.RETRY_AFTER[0]
    assert await proactive.retry_due() == 1
    clock.now += proactive.RETRY_AFTER[1]
    assert await proactive.retry_due() == 1
    with transaction(sessions) as session:
        [row] = session.scalars(select(Notification)).all()
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    # Three tries in all, each one checking the conversation first; then the managers hear.
    assert len(outbox.checked) == 2
    [report] = outbox.reports
    assert row.ref is not None
    assert row.ref in report
    clock.now += timedelta(hours=1)
    assert await proactive.retry_due() == 0


async def test_a_timed_out_reminder_that_rasa_ran_is_not_sent_again(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    booking_id = book(sessions, THURSDAY_10)
    outbox.fail = outbox.ran_anyway = True  # Rasa ran it, the answer never came back
    clock.now = THURSDAY_10 - timedelta(hours=2)
    await reminders.send_reminder(booking_id, "reminder_2h")
    assert outbox.actions == [("web-1", "action_test_drive_reminder")]
    outbox.fail = outbox.ran_anyway = False
    clock.now += proactive.RETRY_AFTER[0]
    assert await proactive.retry_due() == 1
    assert outbox.actions == [("web-1", "action_test_drive_reminder")]  # not twice
    with transaction(sessions) as session:
        [row] = session.scalars(select(Notification)).all()
        assert (row.status, row.attempts) == ("sent", 2)


async def test_with_two_bookings_each_reminder_names_its_own(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    first = book(sessions, THURSDAY_10)
    second = book(sessions, THURSDAY_10 + timedelta(days=1))
    clock.now = THURSDAY_10 + timedelta(days=1) - timedelta(hours=2)
    await reminders.send_reminder(second, "reminder_2h")
    [slots] = outbox.slots
    assert slots["proactive_ref"].startswith(f"booking:{second}:reminder_2h:")
    assert first != second


async def test_reminders_wait_for_the_end_of_the_quiet_hours(
    sessions: SessionFactory, scheduler: BackgroundScheduler, outbox: Outbox, clock: Clock
) -> None:
    quiet = QuietHours(SHANGHAI, time(21), time(9))
    runtime.configure(replace(runtime.current(), quiet=quiet))
    booking_id = book(sessions, THURSDAY_10)
    await reminders.sync()
    # The day before at 10:00 is allowed; two hours before, 08:00, waits for 09:00.
    assert jobs(scheduler) == {
        f"booking:{booking_id}:reminder_24h": THURSDAY_10 - timedelta(hours=24),
        f"booking:{booking_id}:reminder_2h": THURSDAY_10 - timedelta(hours=1),
    }
    clock.now = THURSDAY_10 - timedelta(hours=2)  # a job that fires in the quiet hours anyway
    await reminders.send_reminder(booking_id, "reminder_2h")
    assert outbox.actions == []
    clock.now = THURSDAY_10 - timedelta(hours=1)
    await reminders.send_reminder(booking_id, "reminder_2h")
    assert outbox.actions == [("web-1", "action_test_drive_reminder")]


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
    config = load_survey_config(SURVEY_CONFIG)
    runtime.configure(replace(runtime.current(), surveys=config))
    booking_id = book(sessions, THURSDAY_10)
    clock.now = THURSDAY_10 + timedelta(hours=1, minutes=10)
    with transaction(sessions) as session:
        bookings.mark_outcome(
            session, booking_id, "completed", now=clock.now, source="cli",
            survey_after=survey_service.test_drive_delay(config),
        )  # fmt: skip
    await reminders.sync()
    [survey_job] = [j for j in scheduler.get_jobs() if j.id.startswith("survey:")]
    assert survey_job.id == f"survey:b{booking_id}:td"
    # Three hours after the end, counted from the marking when that came later.
    assert survey_job.next_run_time == clock.now + timedelta(hours=3)
    clock.now += timedelta(hours=3)
    survey_id, step = survey_job.args
    await survey_jobs.send_survey(survey_id, step)
    await survey_jobs.send_survey(survey_id, step)  # a second scheduler, a restart
    assert outbox.actions == [("web-1", "action_start_survey")]
    assert outbox.slots[0]["survey_id"] == str(survey_id)
    # Sent: the job that waits now is the reminder, 48 hours on.
    await reminders.sync()
    [reminder] = [j for j in scheduler.get_jobs() if j.id.startswith("survey:")]
    assert reminder.id == f"survey:b{booking_id}:td:reminder"
    assert reminder.next_run_time == clock.now + timedelta(hours=48)


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
