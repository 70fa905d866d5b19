"""Survey and nudge jobs: sent once as the customer sees it, through a scheduler restart, after
the quiet hours, never after opting out; one reminder; one nudge per quiet spell."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select

from bot.jobs import nudges, reminders, runtime
from bot.jobs import surveys as survey_jobs
from crm_bridge import deliveries, privacy
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.conversations import start_conversation
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Conversation, Customer, Handoff, Notification, Survey
from crm_bridge.quiet import QuietHours
from crm_bridge.surveys.config import SurveyConfig
from crm_bridge.surveys.config import load as load_survey_config
from crm_bridge.types import utcnow
from tests.job_fakes import Clock, Outbox

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONFIG = load_survey_config(Path(__file__).parents[2] / "config" / "surveys.yml")
# Delivered on Monday 23 November 2026 at 11:00 in Shanghai: the first revisit is due on
# Tuesday at 11:00, in the day.
DELIVERED = datetime(2026, 11, 23, 11, 0, tzinfo=SHANGHAI)
PHONE = "13800138000"


@pytest.fixture
def clock() -> Clock:
    return Clock(DELIVERED)


@pytest.fixture
def outbox(sessions: SessionFactory, engine: Engine, clock: Clock) -> Iterator[Outbox]:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=SHANGHAI
    )
    scheduler.start(paused=True)
    out = Outbox()
    runtime.configure(
        runtime.Runtime(
            sessions, SHANGHAI, scheduler, customers=out, consultants=out, clock=clock,
            surveys=CONFIG, report=out.report,
        )
    )  # fmt: skip
    yield out
    runtime.configure(None)
    scheduler.remove_all_jobs()  # nothing left for the loop's last pass on shutdown
    scheduler.shutdown()


def deliver(
    sessions: SessionFactory,
    at: datetime,
    sender: str | None = "web-1",
    config: SurveyConfig = CONFIG,
    phone: str = PHONE,
) -> list[int]:
    """A delivery recorded for a customer whose conversation is ``sender`` (None: they never
    chatted); the ids of its surveys, by stage."""
    with transaction(sessions) as session:
        delivery = deliveries.add(
            session, deliveries.NewDelivery(phone=phone, model="Q5L", delivered_at=at.isoformat()),
            zone=SHANGHAI, now=at, surveys=config,
        )  # fmt: skip
        if sender is not None:
            conversation = start_conversation(session, sender, at, "web")
            conversation.customer_id = delivery.customer_id
            conversation.last_message_at = at - timedelta(days=2)
        session.flush()
        found = session.scalars(
            select(Survey).where(Survey.delivery_id == delivery.id).order_by(Survey.scheduled_for)
        ).all()
        return [s.id for s in found]


def survey_jobs_in(scheduler: object) -> dict[str, datetime]:
    jobs = scheduler.get_jobs()  # type: ignore[attr-defined]
    return {j.id: j.next_run_time for j in jobs if j.id.startswith("survey:")}


async def test_a_delivery_gets_its_revisits_planned_and_asked_once(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    first, week, month = deliver(sessions, DELIVERED)
    await reminders.sync()
    scheduler = runtime.current().scheduler
    with transaction(sessions) as session:
        delivery_id = session.get_one(Survey, first).delivery_id
    assert survey_jobs_in(scheduler) == {
        f"survey:{delivery_id}:d1": DELIVERED + timedelta(hours=24),
        f"survey:{delivery_id}:d7": DELIVERED + timedelta(days=7),
        f"survey:{delivery_id}:d30": DELIVERED + timedelta(days=30),
    }
    clock.now = DELIVERED + timedelta(hours=24)
    await survey_jobs.send_survey(first)
    await survey_jobs.send_survey(first)  # the job run again: a second scheduler, a retry
    assert outbox.actions == [("web-1", "action_start_survey")]
    assert outbox.slots[0] == {"survey_id": str(first), "proactive_ref": f"survey:{delivery_id}:d1"}
    # The next sync keeps the later stages and waits 48 hours to remind of the first.
    await reminders.sync()
    assert survey_jobs_in(scheduler)[f"survey:{delivery_id}:d1:reminder"] == (
        clock.now + timedelta(hours=48)
    )
    assert f"survey:{delivery_id}:d1" not in survey_jobs_in(scheduler)
    clock.now += timedelta(hours=48)
    await survey_jobs.send_survey(first, "reminder")
    await survey_jobs.send_survey(first, "reminder")
    assert outbox.actions == [("web-1", "action_start_survey")] * 2
    assert outbox.slots[1]["proactive_ref"] == f"survey:{delivery_id}:d1:reminder"
    await reminders.sync()  # one reminder only
    assert [j for j in survey_jobs_in(scheduler) if j.startswith(f"survey:{delivery_id}:d1")] == []
    assert (week, month) != (first, first)


async def test_no_survey_job_for_a_customer_who_never_chatted(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    deliver(sessions, DELIVERED, sender=None)
    clock.now = DELIVERED + timedelta(days=2)
    await reminders.sync()
    assert survey_jobs_in(runtime.current().scheduler) == {}  # `surveys links` reaches them


async def test_a_survey_missed_for_days_goes_out_at_once_and_one_too_old_expires(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    first, week, _ = deliver(sessions, DELIVERED)
    clock.now = DELIVERED + timedelta(days=8, hours=2)  # the gateway was down for a week
    await reminders.sync()
    jobs = survey_jobs_in(runtime.current().scheduler)
    with transaction(sessions) as session:
        expired = session.get_one(Survey, first)
        assert (expired.closed_reason, expired.sent_at) == ("expired", None)
        delivery_id = expired.delivery_id
    # The +24h one is over a week late: closed. The +7d one is a day late: sent now.
    assert jobs == {
        f"survey:{delivery_id}:d7": clock.now,
        f"survey:{delivery_id}:d30": DELIVERED + timedelta(days=30),
    }
    await survey_jobs.send_survey(week)
    await survey_jobs.send_survey(first)
    assert [slots["survey_id"] for slots in outbox.slots] == [str(week)]


async def test_surveys_wait_for_the_end_of_the_quiet_hours(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    late = CONFIG.kinds["post_delivery"].stages[0].model_copy(update={"after_hours": 11})
    config = CONFIG.model_copy(
        update={"kinds": {**CONFIG.kinds, "post_delivery": CONFIG.kinds["post_delivery"].model_copy(
            update={"stages": [late]})}}
    )  # fmt: skip
    runtime.configure(
        replace(runtime.current(), surveys=config, quiet=QuietHours(SHANGHAI, time(21), time(9)))
    )
    [survey_id] = deliver(sessions, DELIVERED, config=config)  # due at 22:00
    await reminders.sync()
    scheduler = runtime.current().scheduler
    morning = datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
    assert list(survey_jobs_in(scheduler).values()) == [morning]
    clock.now = DELIVERED + timedelta(hours=11)  # the job fires at 22:00 anyway
    await survey_jobs.send_survey(survey_id)
    assert outbox.actions == []
    assert list(survey_jobs_in(scheduler).values()) == [morning]
    clock.now = morning
    await survey_jobs.send_survey(survey_id)
    assert outbox.actions == [("web-1", "action_start_survey")]


async def test_no_survey_after_opting_out(
    sessions: SessionFactory, outbox: Outbox, clock: Clock
) -> None:
    first, _, _ = deliver(sessions, DELIVERED)
    with transaction(sessions) as session:
        privacy.opt_out(session, "web-1", DELIVERED + timedelta(hours=1))
    clock.now = DELIVERED + timedelta(hours=24)
    await reminders.sync()
    await survey_jobs.send_survey(first)
    assert outbox.actions == []
    assert survey_jobs_in(runtime.current().scheduler) == {}


async def test_a_survey_due_while_the_scheduler_was_down_is_sent_once_when_it_is_back(
    sessions: SessionFactory, engine: Engine
) -> None:
    """The real scheduler and job store: stopped before the survey falls due, started again
    after; the job runs once, within its misfire grace; a second restart sends nothing more."""
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    now = utcnow()
    # Due two seconds from now (the scheduler fires by the real clock).
    [survey_id, *_] = deliver(sessions, now - timedelta(hours=24) + timedelta(seconds=2))
    out = Outbox()

    def scheduler() -> AsyncIOScheduler:
        built = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC
        )
        runtime.configure(
            runtime.Runtime(sessions, SHANGHAI, built, customers=out, consultants=out,
                            surveys=CONFIG, report=out.report)
        )  # fmt: skip
        return built

    first = scheduler()
    first.start()
    try:
        await reminders.sync()
        due = min(survey_jobs_in(first).values())  # the +24h one; the others wait
        first.shutdown(wait=False)  # down across the due time
        await asyncio.sleep((due - utcnow()).total_seconds() + 1)
        assert out.actions == []
        again = scheduler()
        again.start()
        for _ in range(50):
            if out.actions:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        again.shutdown(wait=False)
        third = scheduler()  # and once more: nothing left to send
        third.start()
        await reminders.sync()
        await asyncio.sleep(1.5)
        third.shutdown(wait=False)
    finally:
        runtime.configure(None)
    assert out.actions == [("web-1", "action_start_survey")]
    assert out.slots[0]["survey_id"] == str(survey_id)
    with transaction(sessions) as session:
        [sent] = session.scalars(select(Notification)).all()
        assert (sent.kind, sent.status, sent.survey_id) == ("survey_ask", "sent", survey_id)


# Nudges ------------------------------------------------------------------------------------

QUIET_SINCE = datetime(2026, 11, 24, 15, 0, tzinfo=SHANGHAI)


def conversation(
    sessions: SessionFactory, sender: str, last: datetime = QUIET_SINCE, waiting: str = "form"
) -> None:
    with transaction(sessions) as session:
        found = start_conversation(session, sender, last - timedelta(minutes=10), "web")
        found.last_message_at = last


@pytest.fixture
def nudging(outbox: Outbox) -> Outbox:
    nudges.schedule(runtime.current().scheduler, timedelta(hours=18))
    outbox.waiting = {
        "asking": ("qualification_form", "budget"),
        "booking": ("test_drive_form", "td_time"),
        "idle": ("", None),
    }
    return outbox


async def test_a_prospect_who_stopped_in_a_form_is_nudged_once_the_next_day(
    sessions: SessionFactory, nudging: Outbox, clock: Clock
) -> None:
    for sender in ("asking", "booking", "idle"):
        conversation(sessions, sender)
    clock.now = QUIET_SINCE + timedelta(hours=17)
    assert await nudges.tick() == 0  # not yet
    clock.now = QUIET_SINCE + timedelta(hours=18)
    assert await nudges.tick() == 2
    assert sorted(nudging.actions) == [("asking", "action_nudge"), ("booking", "action_nudge")]
    clock.now += timedelta(hours=2)
    assert await nudges.tick() == 0  # one nudge per quiet spell
    # They answered, then went quiet again: one more, the day after.
    with transaction(sessions) as session:
        found = session.scalars(select(Conversation).where(Conversation.sender_id == "asking"))
        found.one().last_message_at = clock.now
    clock.now += timedelta(hours=18)
    assert await nudges.tick() == 1
    assert len(nudging.actions) == 3


async def test_no_nudge_in_the_quiet_hours_after_opting_out_or_with_a_consultant(
    sessions: SessionFactory, nudging: Outbox, clock: Clock
) -> None:
    conversation(sessions, "asking")
    conversation(sessions, "booking")
    with transaction(sessions) as session:
        privacy.opt_out(session, "asking", QUIET_SINCE)
        session.add(
            Handoff(sender_id="booking", channel="web", language="zh", reason="person",
                    opened_at=QUIET_SINCE, claim_due_at=QUIET_SINCE)
        )  # fmt: skip
    runtime.configure(replace(runtime.current(), quiet=QuietHours(SHANGHAI)))
    clock.now = datetime(2026, 11, 25, 23, 0, tzinfo=SHANGHAI)
    assert await nudges.tick() == 0
    clock.now = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    assert await nudges.tick() == 0
    assert nudging.actions == []


async def test_a_prospect_quiet_for_days_is_left_alone(
    sessions: SessionFactory, nudging: Outbox, clock: Clock
) -> None:
    conversation(sessions, "asking")
    clock.now = QUIET_SINCE + nudges.WITHIN + timedelta(hours=1)
    assert await nudges.tick() == 0


def test_customers_are_found_by_their_phone(sessions: SessionFactory, outbox: Outbox) -> None:
    deliver(sessions, DELIVERED)
    deliver(sessions, DELIVERED + timedelta(days=1), sender=None, phone="+86 138 0013 8000")
    with transaction(sessions) as session:
        assert len(session.scalars(select(Customer)).all()) == 1
        assert len(session.scalars(select(Survey)).all()) == 6
