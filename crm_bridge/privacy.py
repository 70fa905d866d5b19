"""The customer's rights: stop proactive messages (opt-out) and erase personal data (PIPL).

Erasure removes what identifies a person (name, phone, email, free text they typed) and keeps the
anonymous rows, so counts of conversations and leads stay right. Which conversations belonged to
the person is returned, so the caller can also erase the transcripts it keeps elsewhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from crm_bridge.conversations import latest_conversation
from crm_bridge.models import Booking, Conversation, Customer, Lead, LeadEvent, Survey

# Lead fields holding text the customer typed; their values are removed from the lead history too.
FREE_TEXT_FIELDS = ("trade_in_vehicle",)


def customer_of_sender(session: Session, sender_id: str) -> Customer | None:
    """The customer the sender's latest conversation belongs to, if known."""
    conversation = latest_conversation(session, sender_id)
    if conversation is None or conversation.customer_id is None:
        return None
    return session.get(Customer, conversation.customer_id)


def opt_out(session: Session, sender_id: str, at: datetime) -> None:
    """No more proactive messages to this sender, nor to the customer behind it on any channel."""
    session.execute(
        update(Conversation)
        .where(Conversation.sender_id == sender_id, Conversation.opted_out_at.is_(None))
        .values(opted_out_at=at)
    )
    customer = customer_of_sender(session, sender_id)
    if customer is not None and customer.opted_out_at is None:
        customer.opted_out_at = at
        customer.updated_at = at
    session.flush()


def may_contact(
    session: Session, *, customer_id: int | None = None, sender_id: str | None = None
) -> bool:
    """Whether a proactive message (reminder, survey, follow-up) may go out."""
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.opted_out_at is not None or customer.erased_at:
            return False
    if sender_id is not None:
        opted_out = session.scalar(
            select(Conversation.id)
            .where(Conversation.sender_id == sender_id, Conversation.opted_out_at.is_not(None))
            .limit(1)
        )
        if opted_out is not None:
            return False
        customer = customer_of_sender(session, sender_id)
        if customer is not None and (customer.opted_out_at or customer.erased_at):
            return False
    return True


def erase(session: Session, sender_id: str, at: datetime) -> list[str]:
    """Erase the personal data of the customer behind ``sender_id``.

    Returns every sender id (conversation on any channel) that belonged to them, this one included.
    """
    return erase_person(session, {sender_id}, customer_of_sender(session, sender_id), at)


def erase_person(
    session: Session,
    senders: set[str],
    customer: Customer | None,
    at: datetime,
    phone: str | None = None,
) -> list[str]:
    """Erase ``customer`` (if known) and what the conversations ``senders`` hold; bookings made
    with ``phone`` too. Returns every sender id that belonged to them."""
    senders = set(senders)
    if customer is not None:
        senders |= set(
            session.scalars(
                select(Conversation.sender_id).where(Conversation.customer_id == customer.id)
            )
        )
    _erase_bookings(session, senders, customer, at, phone)
    _erase_survey_comments(session, senders, customer)
    if customer is not None:
        customer.name = customer.phone = customer.email = None
        customer.consent, customer.consent_at = False, None
        customer.opted_out_at = customer.opted_out_at or at
        customer.erased_at = at
        customer.updated_at = at
        for lead in session.scalars(select(Lead).where(Lead.customer_id == customer.id)):
            for name in FREE_TEXT_FIELDS:
                setattr(lead, name, None)
            lead.consent = False
            lead.updated_at = at
            session.add(
                LeadEvent(lead_id=lead.id, at=at, source="customer", kind="erased", field=None)
            )
            session.execute(
                update(LeadEvent)
                .where(LeadEvent.lead_id == lead.id, LeadEvent.field.in_(FREE_TEXT_FIELDS))
                .values(old_value=None, new_value=None)
            )
    session.execute(
        update(Conversation)
        .where(Conversation.sender_id.in_(senders), Conversation.opted_out_at.is_(None))
        .values(opted_out_at=at)
    )
    session.flush()
    return sorted(senders)


def _erase_survey_comments(session: Session, senders: set[str], customer: Customer | None) -> None:
    """Survey answers keep their scores (satisfaction figures stay right) but lose free text."""
    whose: list[ColumnElement[bool]] = [Survey.sender_id.in_(senders)]
    if customer is not None:
        whose.append(Survey.customer_id == customer.id)
    for survey in session.scalars(select(Survey).where(or_(*whose))):
        kept = {k: v for k, v in (survey.answers or {}).items() if not isinstance(v, str)}
        if kept != survey.answers:
            survey.answers = kept


def _erase_bookings(
    session: Session,
    senders: set[str],
    customer: Customer | None,
    at: datetime,
    phone: str | None = None,
) -> None:
    """Bookings keep their rows (counts, the consultants' calendar) but lose name and phone."""
    whose: list[ColumnElement[bool]] = [Booking.sender_id.in_(senders)]
    if customer is not None:
        whose.append(Booking.customer_id == customer.id)
        if customer.phone is not None:
            whose.append(Booking.phone == customer.phone)
    if phone is not None:
        whose.append(Booking.phone == phone)
    session.execute(
        update(Booking).where(or_(*whose)).values(customer_name=None, phone=None, updated_at=at)
    )
