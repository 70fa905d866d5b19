"""Phone calls of the conversations (``phone:<number>``): placed, then how they went.

The voice provider reports every call's end (completed, busy, no-answer, failed, canceled) to the
phone channel in Rasa, which hands it here through the gateway. A call placed for a proactive
message (a survey, a test-drive reminder) names the message; a call nobody answered sends it back
to be tried again (``bot.jobs.proactive.unanswered``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crm_bridge.models import (
    CALL_STATUSES,
    ENDED_CALL_STATUSES,
    UNANSWERED_CALL_STATUSES,
    Notification,
    PhoneCall,
)


@dataclass(frozen=True)
class CallOutcome:
    """What a status report changed: the call's status now, and the message it carried."""

    status: str
    notification_id: int | None
    unanswered: bool  # an outbound call that ended without being answered, reported now


def placed(session: Session, call_sid: str, sender_id: str, ref: str | None, at: datetime) -> int:
    """Record a call the dealership placed (carrying the proactive message ``ref``, if any)."""
    notification_id = (
        session.scalar(select(Notification.id).where(Notification.ref == ref)) if ref else None
    )
    row = PhoneCall(
        call_sid=call_sid,
        sender_id=sender_id,
        direction="outbound",
        status="queued",
        notification_id=notification_id,
        started_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    return row.id


def report(
    session: Session,
    *,
    call_sid: str,
    sender_id: str,
    direction: str,
    status: str,
    duration: int | None,
    at: datetime,
) -> CallOutcome:
    """Record a status report of a call. An ended call keeps its end: a late or repeated report
    does not change it (the database settles two reports racing)."""
    if status not in CALL_STATUSES:
        raise ValueError(f"unknown call status {status!r}")
    values = {
        "call_sid": call_sid, "sender_id": sender_id, "status": status,
        "direction": "outbound" if direction.startswith("outbound") else "inbound",
        "duration_seconds": duration, "started_at": at, "updated_at": at,
    }  # fmt: skip
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(PhoneCall).values(values).on_conflict_do_nothing(index_elements=["call_sid"])
    )
    changed = session.execute(
        update(PhoneCall)
        .where(
            PhoneCall.call_sid == call_sid,
            PhoneCall.status.not_in(ENDED_CALL_STATUSES),
        )
        .values(status=status, duration_seconds=duration, updated_at=at)
    )
    row = session.scalars(select(PhoneCall).where(PhoneCall.call_sid == call_sid)).one()
    # Only the report that ended a call placed by the dealership sends its message back.
    unanswered = (
        getattr(changed, "rowcount", 0) == 1
        and row.direction == "outbound"
        and status in UNANSWERED_CALL_STATUSES
    )
    return CallOutcome(row.status, row.notification_id, unanswered)


def calls_for(session: Session, notification_id: int) -> int:
    """How many calls were placed for a proactive message."""
    return int(
        session.scalar(
            select(func.count(PhoneCall.id)).where(PhoneCall.notification_id == notification_id)
        )
        or 0
    )


def of_sender(session: Session, sender_id: str) -> list[PhoneCall]:
    """The conversation's calls, oldest first."""
    return list(
        session.scalars(
            select(PhoneCall).where(PhoneCall.sender_id == sender_id).order_by(PhoneCall.id)
        )
    )


def erase(session: Session, senders: set[str]) -> None:
    """The calls of erased conversations go (their sender ids are phone numbers)."""
    if senders:
        session.execute(delete(PhoneCall).where(PhoneCall.sender_id.in_(senders)))
