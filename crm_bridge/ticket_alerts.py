"""The managers' alerts of complaint tickets: a new ticket is alerted once, and a ticket nobody
took is escalated again every configured period. Each is claimed with a conditional update, so a
rerun job or a second scheduler never alerts twice; a failed alert is released for the next run.

Functions take a session and never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from crm_bridge.models import Ticket, TicketEvent
from crm_bridge.tickets import ASSISTANT


def to_alert(session: Session) -> list[Ticket]:
    """Tickets the managers have not been alerted of (resolved before that: no need)."""
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.alerted_at.is_(None), Ticket.state != "resolved")
            .order_by(Ticket.id)
        )
    )


def claim_alert(session: Session, ticket_id: int, now: datetime) -> bool:
    """Take the alert of a ticket, once: False when it was taken already."""
    claimed = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.alerted_at.is_(None))
        .values(alerted_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(claimed, "rowcount", 0) == 1


def alerted(session: Session, ticket_id: int, now: datetime, note: str | None) -> None:
    """The alert reached someone: recorded as a step of the ticket."""
    session.add(
        TicketEvent(ticket_id=ticket_id, kind="alerted", actor=ASSISTANT, note=note, at=now)
    )


def release_alert(session: Session, ticket_id: int, claimed_at: datetime) -> None:
    """The alert reached nobody (Telegram failed): the next run tries again."""
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.alerted_at == claimed_at)
        .values(alerted_at=None)
        .execution_options(synchronize_session=False)
    )


def _due(now: datetime, hours: float) -> Any:
    """Still open, alerted, and nothing said about it for ``hours``."""
    cutoff = now - timedelta(hours=hours)
    return and_(
        Ticket.state == "open",
        Ticket.alerted_at.is_not(None),
        or_(
            and_(Ticket.escalated_at.is_(None), Ticket.alerted_at <= cutoff),
            Ticket.escalated_at <= cutoff,
        ),
    )


def to_escalate(session: Session, now: datetime, hours: float) -> list[Ticket]:
    """Tickets nobody has taken (still open) whose last alert or escalation is ``hours`` old."""
    return list(session.scalars(select(Ticket).where(_due(now, hours)).order_by(Ticket.id)))


def claim_escalation(session: Session, ticket_id: int, now: datetime, hours: float) -> bool:
    """Escalate the ticket again, at most once per period: False when it is not due (any more)."""
    claimed = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, _due(now, hours))
        .values(escalated_at=now, escalations=Ticket.escalations + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return False
    session.add(TicketEvent(ticket_id=ticket_id, kind="escalated", actor=ASSISTANT, at=now))
    return True
