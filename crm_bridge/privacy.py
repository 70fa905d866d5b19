"""The customer's rights: stop proactive messages (opt-out) and erase personal data (PIPL).

Requests are resolved through the conversation's links to customers (``crm_bridge.identity``),
whatever Rasa session they arrive in. Erasure removes what identifies a person (name, phone,
email, free text they typed) and keeps the anonymous rows, so counts of conversations and leads
stay right. It leaves a tombstone (a keyed hash, no personal data) so that a write made before it
and replayed later cannot bring the data back. The conversations whose transcripts must go too
are returned.

A conversation erases all of a customer only when it speaks for them (a verified number, or it
made the record alone); otherwise it erases what it brought itself and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from crm_bridge import identity, phone_calls
from crm_bridge.conversations import telegram_chat
from crm_bridge.identity import customer_of_sender
from crm_bridge.models import (
    Booking,
    Conversation,
    Customer,
    CustomerLink,
    Handoff,
    InboundUpdate,
    Lead,
    LeadEvent,
    RelayMessage,
    Survey,
    Ticket,
    TicketEvent,
    VerificationCode,
    VerifiedPhone,
)

__all__ = ["Erasure", "customer_of_sender", "erase", "erase_person", "may_contact", "opt_out"]

# Lead fields holding text the customer typed; their values are removed from the lead history too.
FREE_TEXT_FIELDS = ("trade_in_vehicle",)
# What relayed messages of an erased conversation keep.
REDACTED = "[erased]"


@dataclass
class Erasure:
    """What an erasure did: the conversations whose transcripts go, the numbers it erased, and
    whether a customer record stayed because the conversation does not speak for it."""

    senders: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    whole_customer: bool = False
    kept_unverified: list[str] = field(default_factory=list)  # numbers of customers kept

    def as_dict(self) -> dict[str, Any]:
        return {
            "senders": self.senders,
            "phones": self.phones,
            "whole_customer": self.whole_customer,
            "kept_unverified": self.kept_unverified,
        }


def opt_out(session: Session, sender_id: str, at: datetime) -> None:
    """No more proactive messages to this conversation, nor to the customers it speaks for on
    any channel (a conversation that only gave someone's number stops its own messages)."""
    session.execute(
        update(Conversation)
        .where(Conversation.sender_id == sender_id, Conversation.opted_out_at.is_(None))
        .values(opted_out_at=at)
    )
    for link in identity.links_of(session, sender_id):
        customer = session.get(Customer, link.customer_id)
        if customer is None or customer.opted_out_at is not None:
            continue
        if identity.speaks_for(session, sender_id, customer):
            customer.opted_out_at = at
            customer.updated_at = at
    # Surveys sent or due to this conversation end here (no reminder, no next question).
    session.execute(
        update(Survey)
        .where(
            Survey.sender_id == sender_id,
            Survey.completed_at.is_(None),
            Survey.closed_at.is_(None),
        )
        .values(closed_at=at, closed_reason="opted_out")
    )
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


def erase(
    session: Session, sender_id: str, at: datetime, key: bytes | None = None
) -> dict[str, Any]:
    """Erase what the conversation ``sender_id`` holds, and all of every customer it speaks for.

    Returns ``Erasure.as_dict()``: JSON, since the outbox may replay this later.
    """
    result = Erasure(senders=[sender_id])
    senders = {sender_id}
    for link in identity.links_of(session, sender_id):
        customer = session.get(Customer, link.customer_id)
        if customer is None:
            continue
        if identity.speaks_for(session, sender_id, customer):
            if customer.phone is not None:
                result.phones.append(customer.phone)
            senders |= set(erase_person(session, {sender_id}, customer, at, key=key))
            result.whole_customer = True
        else:
            if customer.phone is not None:
                result.kept_unverified.append(customer.phone)
            identity.unlink(session, sender_id, customer.id)
    # What the conversation brought itself: its bookings' names and numbers, its survey
    # comments, the numbers it verified and the codes it was sent.
    senders |= set(erase_person(session, {sender_id}, None, at, key=key))
    result.senders = sorted(senders)
    return result.as_dict()


def erase_person(
    session: Session,
    senders: set[str],
    customer: Customer | None,
    at: datetime,
    phone: str | None = None,
    key: bytes | None = None,
) -> list[str]:
    """Erase ``customer`` (if known) and what the conversations ``senders`` hold; bookings made
    with ``phone`` too. Returns every sender id that belonged to them."""
    senders = set(senders)
    if customer is not None:
        senders |= identity.senders_of(session, customer.id)
        senders |= set(
            session.scalars(
                select(Conversation.sender_id).where(Conversation.customer_id == customer.id)
            )
        )
    phones = {p for p in (phone, customer.phone if customer else None) if p}
    _erase_bookings(session, senders, customer, at, phone)
    _erase_survey_comments(session, senders, customer)
    _erase_verification(session, senders, phones)
    _erase_handoffs(session, senders)
    _erase_tickets(session, senders, customer)
    phone_calls.erase(session, senders)
    if key is not None:
        for value in phones:
            identity.bury(session, key, "phone", value, at)
        for sender in senders:
            identity.bury(session, key, "sender", sender, at)
    if customer is not None:
        customer.name = customer.phone = customer.email = None
        customer.consent, customer.consent_at = False, None
        customer.opted_out_at = customer.opted_out_at or at
        customer.erased_at = at
        customer.updated_at = at
        session.execute(delete(CustomerLink).where(CustomerLink.customer_id == customer.id))
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


def _erase_handoffs(session: Session, senders: set[str]) -> None:
    """The cards' last turns and the relayed messages go; Telegram chats' kept updates too."""
    handoffs = select(Handoff.id).where(Handoff.sender_id.in_(senders))
    session.execute(update(Handoff).where(Handoff.id.in_(handoffs)).values(excerpt=None))
    session.execute(
        update(RelayMessage)
        .where(RelayMessage.handoff_id.in_(handoffs))
        .values(body=REDACTED, media=None)
    )
    chats = [chat for s in senders if (chat := telegram_chat(s)) is not None]
    if chats:
        session.execute(delete(InboundUpdate).where(InboundUpdate.chat_id.in_(chats)))


def _erase_tickets(session: Session, senders: set[str], customer: Customer | None) -> None:
    """Complaint tickets keep their rows, state, cause and scores (complaint counts and CSI stay
    right) but lose what the customer said and what was written about them."""
    whose: list[ColumnElement[bool]] = [Ticket.sender_id.in_(senders)]
    if customer is not None:
        whose.append(Ticket.customer_id == customer.id)
        whose.append(Ticket.lead_id.in_(select(Lead.id).where(Lead.customer_id == customer.id)))
        whose.append(
            Ticket.survey_id.in_(select(Survey.id).where(Survey.customer_id == customer.id))
        )
    for ticket in session.scalars(select(Ticket).where(or_(*whose))):
        ticket.summary, ticket.excerpt = None, None
        kept = {k: v for k, v in (ticket.answers or {}).items() if not isinstance(v, str)}
        ticket.answers = kept if ticket.answers is not None else None
        if ticket.resolution is not None:
            ticket.resolution = REDACTED
        session.execute(
            update(TicketEvent).where(TicketEvent.ticket_id == ticket.id).values(note=None)
        )


def _erase_verification(session: Session, senders: set[str], phones: set[str]) -> None:
    """Verified numbers go; the codes sent keep their rows (rate limits) but lose the number."""
    whose: list[ColumnElement[bool]] = [VerifiedPhone.sender_id.in_(senders)]
    if phones:
        whose.append(VerifiedPhone.phone.in_(phones))
    for row in session.scalars(select(VerifiedPhone).where(or_(*whose))):
        session.delete(row)
    codes: list[ColumnElement[bool]] = [VerificationCode.sender_id.in_(senders)]
    if phones:
        codes.append(VerificationCode.phone.in_(phones))
    session.execute(update(VerificationCode).where(or_(*codes)).values(phone=None))


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
