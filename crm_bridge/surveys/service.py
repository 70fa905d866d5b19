"""Surveys with a session: scheduling them from deliveries and test drives, what is due, the
customer's conversation to send them to, and the answers question by question.

Every function takes a session and never commits. A survey row is created once per delivery and
stage (unique key), whoever records the delivery; it is sent by the scheduler (bot/jobs/surveys.py)
through the proactive-message claim, so it goes out once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_bridge.conversations import latest_conversation
from crm_bridge.models import (
    Booking,
    Consultant,
    Conversation,
    Customer,
    Delivery,
    Lead,
    Staff,
    Survey,
)
from crm_bridge.privacy import may_contact
from crm_bridge.surveys.config import SurveyConfig

# A survey not sent within this long after it fell due (the gateway was down for days, or the
# customer had no conversation yet) is closed as expired: a "how was the handover" a month late
# does more harm than good. Links (`surveys links`) still reach customers who never chatted.
EXPIRES_AFTER: Final = timedelta(days=7)


@dataclass(frozen=True)
class Due:
    """A survey the scheduler should send (or remind of): its job id and when."""

    survey_id: int
    job_id: str
    run_at: datetime
    step: str  # "ask" | "reminder"


def job_id(survey: Survey, step: str = "ask") -> str:
    """``survey:{delivery_id}:{stage}`` (a delivery's stage), ``survey:b{booking_id}:{stage}``
    (a test drive), with ``:reminder`` for the reminder; also the proactive message's ref."""
    owner = survey.delivery_id if survey.delivery_id is not None else f"b{survey.booking_id}"
    if survey.delivery_id is None and survey.booking_id is None:
        owner = f"s{survey.id}"
    base = f"survey:{owner}:{survey.stage or 'td'}"
    return base if step == "ask" else f"{base}:{step}"


def conversation_for(
    session: Session, *, customer_id: int | None, lead_id: int | None
) -> Conversation | None:
    """The customer's latest conversation (by customer, else by lead), to send surveys to."""
    conditions = []
    if customer_id is not None:
        conditions.append(Conversation.customer_id == customer_id)
    if lead_id is not None:
        conditions.append(Conversation.lead_id == lead_id)
    if not conditions:
        return None
    return session.scalars(
        select(Conversation)
        .where(or_(*conditions))
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
        .limit(1)
    ).first()


def schedule_delivery(session: Session, delivery: Delivery, config: SurveyConfig) -> list[Survey]:
    """The revisit surveys of a delivery, one per configured stage (written once: unique key)."""
    conversation = conversation_for(
        session, customer_id=delivery.customer_id, lead_id=delivery.lead_id
    )
    created = []
    for stage in config.kinds["post_delivery"].stages:
        survey = Survey(
            kind="post_delivery",
            stage=stage.id,
            delivery_id=delivery.id,
            customer_id=delivery.customer_id,
            lead_id=delivery.lead_id,
            sender_id=conversation.sender_id if conversation else None,
            channel=conversation.channel if conversation else None,
            language=conversation.language if conversation else None,
            scheduled_for=delivery.delivered_at + stage.after,
            answers={},
            created_at=delivery.created_at,
        )
        try:
            with session.begin_nested():
                session.add(survey)
        except IntegrityError:
            continue  # this stage was scheduled already
        created.append(survey)
    return created


def test_drive_delay(config: SurveyConfig) -> timedelta:
    return config.kinds["post_test_drive"].stages[0].after


def due(session: Session, config: SurveyConfig, now: datetime) -> list[Due]:
    """The ask and reminder jobs the surveys call for (sent ones are remembered by their claim)."""
    open_surveys = session.scalars(
        select(Survey).where(Survey.completed_at.is_(None), Survey.closed_at.is_(None))
    ).all()
    jobs = []
    for survey in open_surveys:
        if survey.sent_at is None and target(session, survey) is None:
            continue  # no conversation yet: the dealership sends the link (`surveys links`)
        if not may_contact(session, customer_id=survey.customer_id, sender_id=survey.sender_id):
            survey.closed_at, survey.closed_reason = now, "opted_out"
            continue
        if survey.sent_at is None:
            jobs.append(Due(survey.id, job_id(survey), max(survey.scheduled_for, now), "ask"))
        elif survey.reminded_at is None:
            at = max(survey.sent_at + config.reminder_after, now)
            jobs.append(Due(survey.id, job_id(survey, "reminder"), at, "reminder"))
    return jobs


def expire(session: Session, now: datetime) -> int:
    """Close surveys that could not be sent within ``EXPIRES_AFTER`` of falling due."""
    result = session.execute(
        update(Survey)
        .where(
            Survey.sent_at.is_(None),
            Survey.closed_at.is_(None),
            Survey.completed_at.is_(None),
            Survey.token_used_at.is_(None),
            # a personal link handed out keeps it open until the link expires
            or_(Survey.token_expires_at.is_(None), Survey.token_expires_at <= now),
            Survey.scheduled_for < now - EXPIRES_AFTER,
        )
        .values(closed_at=now, closed_reason="expired")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def target(session: Session, survey: Survey) -> str | None:
    """The conversation to send the survey to: its own, else the customer's latest (bound then)."""
    if survey.sender_id is None:
        conversation = conversation_for(
            session, customer_id=survey.customer_id, lead_id=survey.lead_id
        )
        if conversation is not None:
            survey.sender_id = conversation.sender_id
            survey.channel = conversation.channel
            survey.language = conversation.language
    return survey.sender_id


def mark_sent(session: Session, survey_id: int, step: str, now: datetime) -> None:
    values = {"sent_at": now} if step == "ask" else {"reminded_at": now}
    column = Survey.sent_at if step == "ask" else Survey.reminded_at
    session.execute(update(Survey).where(Survey.id == survey_id, column.is_(None)).values(values))


def open_survey(session: Session, sender_id: str) -> Survey | None:
    """The survey this conversation is answering: sent (or opened by a link), not finished."""
    return session.scalars(
        select(Survey)
        .where(
            Survey.sender_id == sender_id,
            or_(Survey.sent_at.is_not(None), Survey.token_used_at.is_not(None)),
            Survey.completed_at.is_(None),
            Survey.closed_at.is_(None),
        )
        .order_by(Survey.sent_at.desc().nulls_last(), Survey.id.desc())
        .limit(1)
    ).first()


def current_question(survey: Survey, config: SurveyConfig) -> str | None:
    """The first question of the survey's stage not answered (or skipped) yet."""
    answered = survey.answers or {}
    return next(
        (q for q, _ in config.questions_of(survey.kind, survey.stage) if q not in answered), None
    )


def answer(
    session: Session,
    survey: Survey,
    question: str,
    value: Any,
    now: datetime,
    config: SurveyConfig,
) -> str | None:
    """Save one answer (None: skipped) and return the next question, or None when finished.

    Saved at once, so a customer who leaves half-way keeps what they said; the last answer
    completes the survey and flags it a complaint when a score is low.
    """
    answers = dict(survey.answers or {})
    answers[question] = value
    survey.answers = answers
    survey.retries = 0
    following = current_question(survey, config)
    if following is None:
        survey.completed_at = now
    survey.complaint = survey.complaint or config.is_low(question, value)
    session.flush()
    return following


def retry(session: Session, survey: Survey) -> int:
    """Count an answer that fit nothing; how many the current question has had."""
    survey.retries = (survey.retries or 0) + 1
    session.flush()
    return survey.retries


def close_for_conversation(session: Session, sender_id: str, reason: str, now: datetime) -> int:
    """Opt-out: the conversation's surveys are not sent or finished any more."""
    result = session.execute(
        update(Survey)
        .where(
            Survey.sender_id == sender_id,
            Survey.completed_at.is_(None),
            Survey.closed_at.is_(None),
        )
        .values(closed_at=now, closed_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Context:
    """What the survey's wording names: the consultant, the model, the dealership."""

    model: str
    consultant: str


def context(session: Session, survey: Survey, language: str | None) -> Context:
    """The model and consultant the survey is about, for its wording."""
    code = None
    consultant = None
    if survey.delivery_id is not None:
        delivery = session.get(Delivery, survey.delivery_id)
        if delivery is not None:
            code = delivery.model_code
            if delivery.consultant_id is not None:
                row = session.get(Consultant, delivery.consultant_id)
                consultant = row.name if row else None
            if consultant is None and delivery.staff_id is not None:
                staff = session.get(Staff, delivery.staff_id)
                consultant = staff.name if staff else None
    elif survey.booking_id is not None:
        booking = session.get(Booking, survey.booking_id)
        if booking is not None:
            code = booking.model_code
            consultant = booking.consultant.name if booking.consultant else None
    if consultant is None and survey.lead_id is not None:
        lead = session.get(Lead, survey.lead_id)
        if lead is not None and lead.consultant_id is not None:
            row = session.get(Consultant, lead.consultant_id)
            consultant = row.name if row else None
    return Context(
        model=code or ("your car" if language == "en" else "爱车"), consultant=consultant or ""
    )


def customer_of(session: Session, survey: Survey) -> Customer | None:
    return session.get(Customer, survey.customer_id) if survey.customer_id is not None else None


def for_sender(session: Session, sender_id: str) -> Conversation | None:
    return latest_conversation(session, sender_id)
