"""Outcomes of the calls the dealership places (surveys and reminders for phone customers).

The provider reports a call's end to the phone channel in Rasa, which hands it to the gateway
(``bot.channels.phone.status``); ``outcome`` records it and sends an unanswered call's message
back to be tried again. A report that never arrived (the gateway was down, a callback lost) would
leave the message as sent although nobody heard it: every ``SWEEP_EVERY`` the ``calls:sweep``
job asks the provider how the calls still open after ``OPEN_FOR`` went, and records that instead.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.jobs import proactive
from bot.jobs.runtime import current
from bot.jobs.scheduler import every
from crm_bridge import phone_calls
from crm_bridge.models import ENDED_CALL_STATUSES, PhoneCall

logger = logging.getLogger(__name__)

SWEEP_JOB_ID: Final = "calls:sweep"
SWEEP_EVERY: Final = timedelta(minutes=5)
# A placed call rings for at most a minute; one still open this long has lost its report.
OPEN_FOR: Final = timedelta(minutes=15)


def schedule(scheduler: BaseScheduler) -> None:
    every(scheduler, sweep, SWEEP_JOB_ID, SWEEP_EVERY, grace=SWEEP_EVERY)


async def outcome(
    call_sid: str, sender_id: str, direction: str, status: str, duration: int | None
) -> str:
    """Record how a call went; a placed call nobody answered sends its message back. Returns
    the status the call has now (a call keeps the first end reported)."""
    runtime = current()
    at = runtime.clock()
    result = await runtime.db(
        lambda s: phone_calls.report(
            s, call_sid=call_sid, sender_id=sender_id, direction=direction, status=status,
            duration=duration, at=at,
        )
    )  # fmt: skip
    if result.unanswered and result.notification_id is not None:
        await proactive.unanswered(result.notification_id, status)
    return str(result.status)


def open_calls(session: Session, before: datetime) -> list[tuple[str, str]]:
    """Placed calls not ended although placed before ``before``: (call SID, sender id)."""
    rows = session.execute(
        select(PhoneCall.call_sid, PhoneCall.sender_id).where(
            PhoneCall.direction == "outbound",
            PhoneCall.status.not_in(ENDED_CALL_STATUSES),
            PhoneCall.started_at < before,
        )
    ).all()
    return [(str(sid), str(sender)) for sid, sender in rows]


async def sweep() -> int:
    """Job: ask the provider about placed calls whose end was never reported; returns how many
    were settled."""
    runtime = current()
    line = runtime.phone
    if line is None:
        return 0
    stale = await runtime.db(lambda s: open_calls(s, runtime.clock() - OPEN_FOR))
    settled = 0
    for call_sid, sender_id in stale:
        try:
            status, duration = await line.status_of(call_sid)
        except Exception as error:  # the provider is unreachable: the next sweep asks again
            logger.warning("call %s: status not fetched (%s)", call_sid, type(error).__name__)
            return settled
        if status in ENDED_CALL_STATUSES:
            await outcome(call_sid, sender_id, "outbound-api", status, duration)
            settled += 1
    return settled
