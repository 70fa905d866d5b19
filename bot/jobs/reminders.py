"""Test-drive reminders and notices to consultants, run by the persistent scheduler (gateway).

The dealership database is the truth. The action server and the CLI only write bookings and their
events; every ``SYNC_INTERVAL`` the scheduler's ``sync`` job brings the reminder jobs in line with
the bookings (added for a new booking, moved with it, removed when it is cancelled or over) and
tells the assigned consultant about every new, moved or cancelled booking. Reminder jobs have
deterministic ids (``booking:{id}:reminder_24h``), live in the SQLAlchemy job store and survive
restarts; a reminder is claimed in the ``notifications`` table (unique per booking, kind and booking
time) before it is sent, so it never goes out twice.

Job functions are module-level and take ids only, as persistent jobs must; what they need (the
database, the channels, the clock) is handed to ``configure`` at start-up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.jobs import proactive
from bot.jobs import surveys as survey_jobs
from bot.jobs.runtime import current
from bot.jobs.scheduler import every
from crm_bridge.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    BookingEvent,
)

logger = logging.getLogger(__name__)

SYNC_JOB_ID: Final = "bookings:sync"
SYNC_INTERVAL: Final = timedelta(seconds=20)
# Reminders before a test drive, by kind.
REMINDERS: Final = {"reminder_24h": timedelta(hours=24), "reminder_2h": timedelta(hours=2)}
# A reminder due while the gateway was down still goes out within this grace.
MISFIRE_GRACE: Final = timedelta(minutes=30)
# The action the customer's conversation runs to say the reminder (actions/test_drive/manage.py).
REMINDER_ACTION: Final = "action_test_drive_reminder"


def schedule_sync(scheduler: BaseScheduler) -> None:
    """The recurring job that keeps reminders and notices in line with the bookings."""
    every(scheduler, sync, SYNC_JOB_ID, SYNC_INTERVAL, grace=SYNC_INTERVAL)


def reminder_job_id(booking_id: int, kind: str) -> str:
    return f"booking:{booking_id}:{kind}"


@dataclass(frozen=True)
class PlannedJob:
    """A job the bookings and surveys call for: ``func(*args)`` at ``run_at``."""

    job_id: str
    run_at: datetime
    func: Callable[..., Any]
    args: tuple[Any, ...]
    movable: bool = True  # False: once scheduled it stays (a survey due now)


def plan_reminders(
    bookings: Sequence[tuple[int, datetime]],
    now: datetime,
    allowed_at: Callable[[datetime], datetime] = lambda at: at,
) -> list[PlannedJob]:
    """The reminder jobs the upcoming bookings call for; those whose time has passed are left
    out (a booking made 90 minutes ahead gets no 2-hour reminder), and one falling in the quiet
    hours waits for their end unless the drive is over by then."""
    planned = []
    for booking_id, start in bookings:
        for kind, before in REMINDERS.items():
            # real hours, also across a DST change
            run_at = allowed_at(start.astimezone(UTC) - before)
            if now < run_at < start:
                job_id = reminder_job_id(booking_id, kind)
                planned.append(PlannedJob(job_id, run_at, send_reminder, (booking_id, kind)))
    return planned


def plan_surveys(due: Sequence[survey_jobs.Planned]) -> list[PlannedJob]:
    """A job per survey step not done yet, at its (quiet-hours adjusted) time; once scheduled it
    stays (a survey due now is not moved by the next sync)."""
    return [
        PlannedJob(job_id, run_at, survey_jobs.send_survey, (survey_id, step), False)
        for job_id, run_at, survey_id, step in due
    ]


def _upcoming(session: Session, now: datetime) -> list[tuple[int, datetime]]:
    rows = session.execute(
        select(Booking.id, Booking.start).where(
            Booking.status.in_(ACTIVE_BOOKING_STATUSES), Booking.start > now
        )
    ).all()
    return [(int(row[0]), row[1]) for row in rows]


async def sync() -> None:
    """Reminder jobs follow the bookings; consultants hear of every change."""
    runtime = current()
    now = runtime.clock()
    upcoming, due = await runtime.db(
        lambda s: (_upcoming(s, now), survey_jobs.planned(runtime, s, now))
    )
    reminders = plan_reminders(upcoming, now, runtime.allowed_at)
    reconcile(runtime.scheduler, reminders + plan_surveys(due))
    await notify_consultants()


def reconcile(scheduler: BaseScheduler, planned: list[PlannedJob]) -> None:
    """Add, move and remove ``booking:*`` and ``survey:*`` jobs so the scheduler holds exactly
    ``planned``. A job already due but not yet run (the gateway was down) is left for its
    misfire grace."""
    wanted = {job.job_id: job for job in planned}
    existing = {j.id: j for j in scheduler.get_jobs() if j.id.startswith(("booking:", "survey:"))}
    for job_id, job in wanted.items():
        current_job = existing.get(job_id)
        if current_job is not None and (not job.movable or current_job.next_run_time == job.run_at):
            continue
        scheduler.add_job(
            job.func,
            "date",
            run_date=job.run_at,
            args=list(job.args),
            id=job_id,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
        )
    for job_id in existing.keys() - wanted.keys():
        scheduler.remove_job(job_id)


def reminder_message(
    session: Session, booking_id: int, kind: str, now: datetime
) -> proactive.Message | None:
    """The reminder to send, or None if it must not (or need not) go out: not for a booking
    that was cancelled, is over, or whose reminder time has moved away (the job for its new time
    will come), nor without a conversation to send it to. The claim (bot/jobs/proactive.py) keeps
    it to once per booking time, and skips a customer who opted out."""
    booking = session.get(Booking, booking_id)
    if booking is None or not booking.active or kind not in REMINDERS:
        return None
    due = booking.start - REMINDERS[kind]
    if not due - timedelta(minutes=5) <= now < booking.start or booking.sender_id is None:
        return None
    return proactive.Message(
        ref=f"booking:{booking_id}:{kind}:{booking.start.astimezone(UTC):%Y%m%dT%H%MZ}",
        kind=kind,
        sender_id=booking.sender_id,
        action=REMINDER_ACTION,
        customer_id=booking.customer_id,
        booking_id=booking_id,
        for_start=booking.start,
    )


async def send_reminder(booking_id: int, kind: str) -> None:
    """Job: remind the customer of their test drive through their own conversation, once."""
    runtime = current()
    now = runtime.clock()
    allowed = runtime.allowed_at(now)
    if allowed > now:  # quiet hours: the next sync plans it at their end
        return
    if await proactive.send(lambda s: reminder_message(s, booking_id, kind, now)):
        logger.info("reminder %s for booking %s sent", kind, booking_id)


@dataclass(frozen=True)
class Notice:
    event_id: int
    consultant: str
    text: str


NOTICE_KIND: Final = {
    "created": "新的试驾预约",
    "rescheduled": "试驾改期",
    "cancelled": "试驾取消",
    "completed": "试驾已完成",
    "no_show": "客户未到店",
}


def pending_notices(session: Session, zone: ZoneInfo) -> list[Notice]:
    """Booking changes the assigned consultant has not been told about yet, oldest first."""
    events = session.scalars(
        select(BookingEvent).where(BookingEvent.notified_at.is_(None)).order_by(BookingEvent.id)
    ).all()
    notices = []
    for event in events:
        booking = event.booking
        start = (event.new_start or booking.start).astimezone(zone)
        customer = " ".join(p for p in (booking.customer_name, booking.phone) if p) or "客户"
        moved = ""
        if event.kind == "rescheduled" and event.old_start is not None:
            moved = f"（原定 {event.old_start.astimezone(zone):%m-%d %H:%M}）"
        text = (
            f"{NOTICE_KIND.get(event.kind, event.kind)}：{booking.model_code} "
            f"{start:%Y-%m-%d %H:%M}{moved}，{customer}，预约号 {booking.id}"
        )
        notices.append(Notice(event.id, booking.consultant.name, text))
    return notices


async def notify_consultants() -> int:
    """Tell consultants about every booking change not yet notified; returns how many."""
    runtime = current()
    notices: list[Notice] = await runtime.db(lambda s: pending_notices(s, runtime.zone))
    sent = 0
    for notice in notices:
        try:
            await runtime.consultants.notify(notice.consultant, notice.text)
        except Exception as error:  # tried again at the next sync
            logger.warning("notice %s to %s failed: %s", notice.event_id, notice.consultant, error)
            continue
        done = (
            update(BookingEvent)
            .where(BookingEvent.id == notice.event_id, BookingEvent.notified_at.is_(None))
            .values(notified_at=runtime.clock())
        )
        await runtime.db(functools.partial(Session.execute, statement=done))
        sent += 1
    return sent
