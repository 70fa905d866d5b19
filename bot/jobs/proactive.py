"""Proactive messages to customers (test-drive reminders, surveys, nudges): exactly once as the
customer sees it.

1. Claim: a ``notifications`` row with the message's ``ref`` (unique) is written before anything
   is sent; a second scheduler, a restart or a repeated job finds it and stops.
2. Send: the message's action runs in the customer's conversation through Rasa; the action sets
   ``proactive_done`` to the ref as it runs. For a Telegram conversation Rasa's answer is stored
   on the row before it goes to Telegram.
3. A send that failed is tried again later (``RETRY_AFTER``), never blindly: a stored answer is
   resent as it is; otherwise the conversation is read first, and if the action's mark is there
   (the call timed out but Rasa ran it) only its messages are resent, where the gateway sends them
   itself (Telegram), or nothing at all (Rasa delivered them to the web chat).
4. After the last try the row is ``failed`` and the managers are told: never lost silently.
5. A phone customer gets a call: the row is ``sent`` once the call is placed; a call nobody
   answered (busy, no answer) puts it back to ``pending`` for one more call ``CALL_AGAIN_AFTER``
   later, outside the quiet hours and before the test drive it reminds of; after that it is
   ``failed`` and reported (``unanswered``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.jobs.runtime import Runtime, current
from bot.jobs.scheduler import every
from crm_bridge import phone_calls
from crm_bridge.models import Notification
from crm_bridge.privacy import may_contact

logger = logging.getLogger(__name__)

RETRY_JOB_ID: Final = "proactive:retry"
RETRY_EVERY: Final = timedelta(seconds=30)
# Waits before the second and third tries; then the message is failed and reported.
RETRY_AFTER: Final = (timedelta(minutes=2), timedelta(minutes=15))
# A call nobody answered is placed once more, this much later.
CALL_AGAIN_AFTER: Final = timedelta(hours=1)
CALLS_PER_MESSAGE: Final = 2


@dataclass(frozen=True)
class Message:
    """A proactive message: which (``ref``), to whom, said by which action with which slots."""

    ref: str
    kind: str
    sender_id: str
    action: str
    slots: dict[str, Any] = field(default_factory=dict)
    customer_id: int | None = None
    booking_id: int | None = None
    survey_id: int | None = None
    for_start: datetime | None = None


def schedule_retries(scheduler: BaseScheduler) -> None:
    every(scheduler, retry_due, RETRY_JOB_ID, RETRY_EVERY, grace=RETRY_EVERY)


def claim(session: Session, message: Message, now: datetime) -> int | None:
    """Write the claim; its id, or None if the message was claimed before or must not go out
    (the customer opted out: recorded as skipped)."""
    allowed = may_contact(session, customer_id=message.customer_id, sender_id=message.sender_id)
    row = Notification(
        ref=message.ref,
        kind=message.kind,
        booking_id=message.booking_id,
        survey_id=message.survey_id,
        for_start=message.for_start,
        sender_id=message.sender_id,
        recipient="customer",
        sent_at=now,
        status="pending" if allowed else "skipped",
        attempts=1 if allowed else 0,
        detail=None if allowed else "customer opted out",
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # claimed already: by another scheduler, or before a restart
    return row.id if allowed else None


async def send(prepare: Callable[[Session], Message | None]) -> bool:
    """Build the message and claim it in one transaction (so whatever ``prepare`` records,
    such as a survey marked sent, holds only with the claim), then send it; True if this call
    claimed it, whatever became of the delivery."""
    runtime = current()
    now = runtime.clock()

    def build_and_claim(session: Session) -> tuple[int, Message] | None:
        message = prepare(session)
        if message is None:
            return None
        row_id = claim(session, message, now)
        return (row_id, message) if row_id is not None else None

    claimed = await runtime.db(build_and_claim)
    if claimed is None:
        return False
    row_id, message = claimed
    await _attempt(runtime, row_id, message.action, {**message.slots, "proactive_ref": message.ref})
    return True


async def _attempt(runtime: Runtime, row_id: int, action: str, slots: dict[str, Any]) -> None:
    row: Notification = await runtime.db(lambda s: _detached(s, row_id))
    sender = str(row.sender_id)
    try:
        messages = row.messages
        if messages is None and row.attempts > 1 and row.ref is not None:
            # [] when Rasa ran it and delivered it to the conversation's channel itself
            messages = await runtime.customers.delivered(sender, row.ref)
        if messages is None:
            messages = await runtime.customers.run_action(sender, action, slots)
        if messages:
            await runtime.db(lambda s: _store(s, row_id, messages))
            await runtime.customers.send(sender, messages)
    except Exception as error:
        await _failed(runtime, row, error)
        return
    done = runtime.clock()
    await runtime.db(
        lambda s: s.execute(
            update(Notification)
            .where(  # a call's end may have been reported already (``unanswered``)
                Notification.id == row_id,
                Notification.status == "pending",
                Notification.next_attempt_at.is_(None),
            )
            .values(status="sent", sent_at=done, next_attempt_at=None, detail=None)
        )
    )
    logger.info("proactive message %s delivered", row.ref)


def _detached(session: Session, row_id: int) -> Notification:
    row = session.get(Notification, row_id)
    if row is None:
        raise LookupError(f"notification {row_id}")
    session.expunge(row)
    return row


def _store(session: Session, row_id: int, messages: list[dict[str, Any]]) -> None:
    session.execute(update(Notification).where(Notification.id == row_id).values(messages=messages))


async def _failed(runtime: Runtime, row: Notification, error: Exception) -> None:
    now = runtime.clock()
    last = row.attempts > len(RETRY_AFTER)
    logger.warning("proactive message %s, try %d failed: %s", row.ref, row.attempts, error)
    values: dict[str, Any] = {"detail": str(error)[:500] or type(error).__name__}
    if last:
        values.update(status="failed", next_attempt_at=None, reported_at=now)
    else:
        values.update(next_attempt_at=now + RETRY_AFTER[row.attempts - 1])
    await runtime.db(
        lambda s: s.execute(update(Notification).where(Notification.id == row.id).values(values))
    )
    if last:
        await runtime.report(
            f"⚠️ 消息未能送达客户（{row.kind}，{row.ref}），已重试 {row.attempts} 次："
            f"{values['detail']}"
        )


async def retry_due() -> int:
    """Job: try again the messages whose next attempt is due; returns how many were tried."""
    runtime = current()
    now = runtime.clock()

    def take(session: Session) -> list[tuple[int, str, dict[str, Any]]]:
        rows = session.scalars(
            select(Notification).where(
                Notification.status == "pending",
                Notification.next_attempt_at.is_not(None),
                Notification.next_attempt_at <= now,
            )
        ).all()
        taken = []
        for row in rows:
            moved = session.execute(  # one retrier per row and attempt
                update(Notification)
                .where(Notification.id == row.id, Notification.attempts == row.attempts)
                .values(attempts=row.attempts + 1, next_attempt_at=None)
            )
            if getattr(moved, "rowcount", 0) == 1:
                taken.append((row.id, action_of(row), slots_of(row)))
        return taken

    due = await runtime.db(take)
    for row_id, action, slots in due:
        await _attempt(runtime, row_id, action, slots)
    return len(due)


async def unanswered(notification_id: int, status: str) -> None:
    """A call carrying the message ended unanswered (``status``: busy, no-answer, ...): call
    once more later, or, after the last call, fail it and tell the managers."""
    runtime = current()
    now = runtime.clock()
    again = runtime.allowed_at(now + CALL_AGAIN_AFTER)

    def back(session: Session) -> Notification | None:
        row = session.get(Notification, notification_id)
        if row is None or row.status not in ("sent", "pending"):
            return None
        calls = phone_calls.calls_for(session, notification_id)
        too_late = row.for_start is not None and again >= row.for_start
        values: dict[str, Any] = {"detail": f"call {calls}: {status}"}
        if calls < CALLS_PER_MESSAGE and not too_late:
            values.update(status="pending", next_attempt_at=again)
        else:
            values.update(status="failed", next_attempt_at=None, reported_at=now)
        session.execute(update(Notification).where(Notification.id == row.id).values(values))
        session.flush()
        session.refresh(row)
        session.expunge(row)
        return row

    row = await runtime.db(back)
    if row is None:
        return
    if row.status == "pending":
        logger.info("proactive message %s: call %s, calling again at %s", row.ref, status, again)
        return
    logger.warning("proactive message %s: the customer did not answer (%s)", row.ref, status)
    await runtime.report(
        f"⚠️ 电话未接通，消息未能送达客户（{row.kind}，{row.ref}）：{row.detail}。请安排人工联系。"
    )


# The action and slots of a ref, to run it again: "survey:12:d1" → the survey's, and so on.
def action_of(row: Notification) -> str:
    ref = row.ref or ""
    if ref.startswith("survey:"):
        return "action_start_survey"
    if ref.startswith("nudge:"):
        return "action_nudge"
    return "action_test_drive_reminder"


def slots_of(row: Notification) -> dict[str, Any]:
    slots: dict[str, Any] = {"proactive_ref": row.ref}
    if row.survey_id is not None:
        slots["survey_id"] = str(row.survey_id)
    return slots
