"""The next-day nudge (``nudges:tick``): a conversation whose last customer message is more than
``NUDGE_AFTER_HOURS`` (default 18) old, and less than ``WITHIN`` (3 days), and that is still
waiting in the needs analysis or a test-drive booking, gets one friendly reminder of where it was,
on its own channel, through the proactive-message claim (never twice; not to those who opted out;
not in the quiet hours; not while a consultant handles the conversation). ``conversations.
nudged_at`` records it, so a conversation is nudged again only after the customer wrote again.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Final

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.jobs import proactive
from bot.jobs.runtime import current
from bot.jobs.scheduler import every
from crm_bridge.models import Conversation, Handoff

logger = logging.getLogger(__name__)

TICK_JOB_ID: Final = "nudges:tick"
TICK: Final = timedelta(minutes=10)
WITHIN: Final = timedelta(days=3)
FORMS: Final = frozenset({"qualification_form", "test_drive_form"})

_after = timedelta(hours=18)


def schedule(scheduler: BaseScheduler, after: timedelta) -> None:
    global _after
    _after = after
    every(scheduler, tick, TICK_JOB_ID, TICK, grace=TICK)


def candidates(session: Session, now: datetime, after: timedelta) -> list[tuple[int, str]]:
    """Conversations gone quiet between ``after`` and ``WITHIN`` ago, not nudged since the
    customer's last message, not opted out, not with a consultant, not by phone."""
    handled = select(Handoff.sender_id).where(Handoff.state != "done")
    rows = session.execute(
        select(Conversation.id, Conversation.sender_id).where(
            Conversation.last_message_at.is_not(None),
            Conversation.last_message_at <= now - after,
            Conversation.last_message_at > now - WITHIN,
            Conversation.opted_out_at.is_(None),
            or_(
                Conversation.nudged_at.is_(None),
                Conversation.nudged_at < Conversation.last_message_at,
            ),
            Conversation.sender_id.not_in(handled),
            # A caller who hung up is not rung back by a machine for a nudge.
            Conversation.sender_id.not_like("phone:%"),
        )
    ).all()
    return [(int(r[0]), str(r[1])) for r in rows]


def _prepare(session: Session, conversation_id: int, now: datetime) -> proactive.Message | None:
    """Mark the conversation nudged (once per quiet spell) and name the message."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.last_message_at is None:
        return None
    marked = session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            or_(
                Conversation.nudged_at.is_(None),
                Conversation.nudged_at < Conversation.last_message_at,
            ),
        )
        .values(nudged_at=now)
    )
    if getattr(marked, "rowcount", 0) != 1:
        return None
    stamp = f"{conversation.last_message_at:%Y%m%dT%H%M%S}"
    return proactive.Message(
        ref=f"nudge:{conversation.sender_id}:{stamp}"[:160],
        kind="nudge",
        sender_id=conversation.sender_id,
        action="action_nudge",
        customer_id=conversation.customer_id,
    )


async def tick() -> int:
    """Job: nudge the conversations left waiting in a form; returns how many were nudged."""
    runtime = current()
    now = runtime.clock()
    if runtime.allowed_at(now) > now:
        return 0
    found = await runtime.db(lambda s: candidates(s, now, _after))
    nudged = 0
    for conversation_id, sender_id in found:
        try:
            waiting = await runtime.customers.waiting_in(sender_id)
        except Exception as error:
            logger.warning("nudge check failed: %s", error)
            return nudged
        if waiting is None or waiting[0] not in FORMS:
            continue
        if await proactive.send(
            functools.partial(_prepare, conversation_id=conversation_id, now=now)
        ):
            nudged += 1
    return nudged
