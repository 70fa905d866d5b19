"""Surveys (回访): sending one once, and the customer's answer.

The post-test-drive survey is created when a booking is marked completed
(``crm_bridge.bookings.mark_outcome``); the scheduler sends it when it is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_bridge.models import Booking, Survey

# A rating at or below this (of 10) is treated as a complaint for a manager to follow up.
COMPLAINT_AT_OR_BELOW = 6


def due_surveys(session: Session) -> list[tuple[int, str, datetime]]:
    """Surveys not sent yet that have a conversation to go to: (id, kind, scheduled_for)."""
    rows = session.execute(
        select(Survey.id, Survey.kind, Survey.scheduled_for).where(
            Survey.sent_at.is_(None), Survey.completed_at.is_(None), Survey.sender_id.is_not(None)
        )
    ).all()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def claim(session: Session, survey_id: int, now: datetime) -> Survey | None:
    """Mark the survey sent, once: None if it was sent already (or does not exist)."""
    claimed = session.execute(
        update(Survey)
        .where(Survey.id == survey_id, Survey.sent_at.is_(None), Survey.completed_at.is_(None))
        .values(sent_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return None
    return session.get(Survey, survey_id)


def open_survey(session: Session, sender_id: str) -> Survey | None:
    """The survey this conversation was last sent and has not answered."""
    return session.scalars(
        select(Survey)
        .where(
            Survey.sender_id == sender_id,
            Survey.sent_at.is_not(None),
            Survey.completed_at.is_(None),
        )
        .order_by(Survey.sent_at.desc(), Survey.id.desc())
        .limit(1)
    ).first()


def surveyed_model(session: Session, survey: Survey) -> str | None:
    booking = session.get(Booking, survey.booking_id) if survey.booking_id is not None else None
    return booking.model_code if booking is not None else None


def record_answer(
    session: Session,
    sender_id: str,
    *,
    rating: int | None,
    comment: str | None,
    complained: bool,
    now: datetime,
) -> Survey | None:
    """Store the answer to the open survey; a low rating or a complaint is flagged."""
    survey = open_survey(session, sender_id)
    if survey is None:
        return None
    answers: dict[str, Any] = dict(survey.answers or {})
    if rating is not None:
        answers["rating"] = rating
    if comment:
        answers["comment"] = comment[:2000]
    survey.answers = answers
    survey.completed_at = now
    survey.complaint = complained or (rating is not None and rating <= COMPLAINT_AT_OR_BELOW)
    session.flush()
    return survey
