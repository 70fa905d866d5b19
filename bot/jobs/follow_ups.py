"""Prospect follow-up jobs, run by the gateway's scheduler every minute (``follow_ups:tick``).

- Open leads without a follow-up date get one (``follow_ups.backfill``): new leads, leads whose
  level the conversation changed, leads from before follow-ups existed.
- A follow-up that is due reaches its owner privately: the lead card and how to record the
  outcome (``/status``), which dates the next one. A lead nobody owns goes to the staff member of
  its consultant (from a booking), else to the managers.
- A follow-up overdue by ``FOLLOW_UP_OVERDUE_HOURS`` (and reminded as long ago) reaches each
  manager once, with the card and who owns it.

Timing: staff are written to during the showroom's opening hours (the dealership data's hours
and holidays). Follow-ups are due from the start of their day, so the reminder goes out when the
showroom opens that day; a follow-up falling due on a closed day is reminded at the next opening.
With no opening hours loaded at all, messages go out at once.

Delivery: each reminder and escalation is claimed in the database before it is sent (a
conditional update), so a second scheduler never sends it again. If nobody received it because of
a passing failure (network, Telegram 5xx, a time-out) the claim is given back and the next tick
tries again. If Telegram refuses for good (the bot was blocked, an unknown chat) the claim stays
and a warning is logged: a refused reminder still reaches the managers when it is overdue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Final
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.orm import Session
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.channels.telegram.runtime import Telegram
from bot.channels.telegram.sales_commands import follow_up_card
from bot.jobs.scheduler import every
from crm_bridge import follow_ups, staff
from crm_bridge.models import Lead
from crm_bridge.opening import OpeningHours
from crm_bridge.settings import Settings

logger = logging.getLogger(__name__)

TICK_JOB_ID: Final = "follow_ups:tick"
TICK: Final = timedelta(minutes=1)

# One staff chat and the HTML text it gets.
Outgoing = list[tuple[int, str]]
# Finds what is due now; claims one (None: not ours) and writes its messages; gives it back.
Find = Callable[[Session, datetime], list[Lead]]
Write = Callable[..., Outgoing | None]
Release = Callable[[Session, int, datetime], None]


@dataclass(frozen=True)
class Runtime:
    """What the jobs need: the Telegram channel, the cadence, when a follow-up is overdue."""

    telegram: Telegram
    cadence: follow_ups.Cadence
    overdue_hours: int

    @classmethod
    def of(cls, telegram: Telegram, settings: Settings) -> Runtime:
        return cls(telegram, follow_ups.Cadence.of(settings), settings.follow_up_overdue_hours)


_runtime: Runtime | None = None


def configure(telegram: Telegram | None, settings: Settings | None = None) -> None:
    """Hand the jobs the Telegram channel and the settings (``FOLLOW_UP_DAYS``,
    ``FOLLOW_UP_OVERDUE_HOURS``, ``DEALER_TIMEZONE``; default: the channel's). None: Telegram
    is off and the jobs do nothing."""
    global _runtime
    _runtime = None if telegram is None else Runtime.of(telegram, settings or telegram.settings)


def schedule(scheduler: BaseScheduler) -> None:
    every(scheduler, tick, TICK_JOB_ID, TICK, grace=TICK * 10)


async def tick() -> None:
    """Date, remind and escalate what is due now."""
    runtime = _runtime
    if runtime is None:
        return
    for step in (backfill, remind, escalate):
        try:
            await step(runtime)
        except Exception:  # one failing step must not stop the others; the next tick retries
            logger.exception("follow-up job step %s failed", step.__name__)


async def backfill(runtime: Runtime) -> int:
    """Open leads without a follow-up date get one."""
    return await runtime.telegram.db(lambda s: follow_ups.backfill(s, runtime.cadence))


async def remind(runtime: Runtime) -> int:
    """Remind the owners of due follow-ups (during opening hours); returns how many went out."""
    return await _send_due(
        runtime, follow_ups.due_reminders, _reminder, follow_ups.release_reminder
    )


async def escalate(runtime: Runtime) -> int:
    """Tell the managers of follow-ups overdue by the configured hours; returns how many."""
    hours = runtime.overdue_hours
    return await _send_due(
        runtime,
        lambda s, now: follow_ups.overdue(s, now, hours),
        _escalation,
        follow_ups.release_escalation,
    )


async def _send_due(runtime: Runtime, find: Find, write: Write, release: Release) -> int:
    """Claim, write and send each follow-up ``find`` returns, during opening hours."""
    telegram = runtime.telegram
    now = telegram.clock()
    if not await _staff_hours(runtime, now):
        return 0
    due = await telegram.db(lambda s: [(lead.id, lead.next_follow_up_at) for lead in find(s, now)])
    sent = 0
    for lead_id, due_at in due:
        assert due_at is not None
        claim = partial(write, lead_id=lead_id, due_at=due_at, now=now, zone=runtime.cadence.zone)
        outgoing = await telegram.db(claim)
        if outgoing is not None:
            sent += await _deliver(telegram, lead_id, now, outgoing, release)
    return sent


async def _staff_hours(runtime: Runtime, now: datetime) -> bool:
    """Whether the showroom is open (or no hours are known at all, or closed for a month)."""
    hours = await runtime.telegram.db(lambda s: OpeningHours.of(s, runtime.cadence.zone))
    opening = hours.next_opening(now)
    return opening is None or opening <= now


def _reminder(
    session: Session, lead_id: int, due_at: datetime, now: datetime, zone: ZoneInfo
) -> Outgoing | None:
    """Claim the reminder and write it for whoever follows the lead up (None: not ours)."""
    if not follow_ups.claim_reminder(session, lead_id, due_at, now):
        return None
    lead = session.get(Lead, lead_id)
    assert lead is not None
    owner = follow_ups.owner_of(session, lead)
    recipients = [owner] if owner is not None else staff.of_role(session, "manager")
    return [
        (r.telegram_user_id, follow_up_card(session, lead, r.language, zone)) for r in recipients
    ]


def _escalation(
    session: Session, lead_id: int, due_at: datetime, now: datetime, zone: ZoneInfo
) -> Outgoing | None:
    """Claim the escalation and write it for every manager, with who owns the lead."""
    if not follow_ups.claim_escalation(session, lead_id, due_at, now):
        return None
    lead = session.get(Lead, lead_id)
    assert lead is not None
    owner = follow_ups.owner_of(session, lead)
    return [
        (m.telegram_user_id, follow_up_card(session, lead, m.language, zone, owner, True))
        for m in staff.of_role(session, "manager")
    ]


async def _deliver(
    telegram: Telegram, lead_id: int, claimed_at: datetime, outgoing: Outgoing, release: Release
) -> int:
    """Send a claimed message to its chats: 1 when someone got it. Nobody did because of a
    passing failure: the claim is given back for the next tick. Refused for good, or nobody to
    send to: logged, and the claim stays."""
    delivered, passing = 0, False
    for chat_id, text in outgoing:
        try:
            await telegram.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
            delivered += 1
        except (Forbidden, BadRequest) as error:  # BadRequest before its base, NetworkError
            logger.warning("follow-up of lead %d refused by Telegram (%s)", lead_id,
                           type(error).__name__)  # fmt: skip
        except TelegramError as error:
            passing = True
            logger.warning("follow-up of lead %d not delivered, will retry (%s)", lead_id,
                           type(error).__name__)  # fmt: skip
    if not outgoing:
        logger.warning("follow-up of lead %d: no staff member to tell", lead_id)
    if not delivered and passing:
        await telegram.db(lambda s: release(s, lead_id, claimed_at))
    return 1 if delivered else 0
