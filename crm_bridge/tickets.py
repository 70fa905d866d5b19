"""Complaint tickets (投诉): opened by a low survey score or a complaint in a conversation, alerted
to the managers, moved open -> in progress -> resolved, every step with who and when.

A ticket is opened once per survey (the unique key settles two writers) and once per
conversation until it is resolved: a customer who complains again adds to the open ticket
("repeated") instead of opening a second one. Moves are conditional updates on the current state,
so two managers acting at once cannot both move it; a resolved ticket stays resolved, and
resolving needs a note (the cause and what was learned), which reports and training rely on.
The Telegram alert and the re-escalation of tickets left open are claimed the same way, in
``crm_bridge.ticket_alerts``, so a rerun job never alerts twice.

Functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_bridge import identity
from crm_bridge.models import (
    CLOSED_STATUSES,
    TICKET_CAUSES,
    Customer,
    Handoff,
    Lead,
    Ticket,
    TicketEvent,
)
from crm_bridge.models.tickets import TICKET_SOURCES

ASSISTANT: Final = "assistant"
# Where a ticket may go from each state (nothing leaves "resolved").
MOVES: Final = {"open": ("in_progress", "resolved"), "in_progress": ("resolved",), "resolved": ()}
# Listing order: what nobody has taken first.
_STATE_ORDER = case({"open": 0, "in_progress": 1}, value=Ticket.state, else_=2)


class TicketError(ValueError):
    """A ticket step that cannot be taken. ``reason``: "unknown" (no such ticket), "state" (it
    cannot move there from where it is), "note" (resolving without a note), "cause" (not one of
    TICKET_CAUSES), "target" (not a state to move to)."""

    def __init__(self, reason: str, ticket_id: int | None = None, state: str | None = None):
        self.reason, self.ticket_id, self.state = reason, ticket_id, state
        messages = {
            "unknown": f"no ticket #{ticket_id}",
            "state": f"ticket #{ticket_id} is {state} and cannot move there",
            "note": "resolving needs a note: the cause and what was learned",
            "cause": f"the cause must be one of {', '.join(TICKET_CAUSES)}",
            "target": "a ticket moves to in_progress or resolved",
        }
        super().__init__(messages.get(reason, reason))


@dataclass(frozen=True)
class EventView:
    kind: str
    actor: str | None
    note: str | None
    at: datetime


@dataclass(frozen=True)
class TicketView:
    """A ticket with who it is about, as plain values (safe outside its transaction)."""

    id: int
    state: str
    source: str
    cause: str | None
    lead_id: int | None
    survey_id: int | None
    lead_owner_id: int | None
    customer: str | None
    phone: str | None
    channel: str | None
    language: str | None
    opened_at: datetime
    alerted_at: datetime | None
    progress_at: datetime | None
    resolved_at: datetime | None
    escalations: int
    resolution: str | None
    summary: str | None
    answers: dict[str, Any]
    excerpt: list[dict[str, str]]
    events: list[EventView]


def open_ticket(
    session: Session,
    *,
    source: str,
    now: datetime,
    sender_id: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    customer_id: int | None = None,
    lead_id: int | None = None,
    survey_id: int | None = None,
    handoff_id: int | None = None,
    summary: str | None = None,
    answers: dict[str, Any] | None = None,
    excerpt: list[dict[str, str]] | None = None,
    cause: str | None = None,
) -> Ticket:
    """Open a ticket, or return the one already there: the survey's (its unique key settles two
    writers), or for a conversation's complaint the sender's unresolved ticket, which gets a
    "repeated" event with the new words. The managers are alerted by the tickets job."""
    if source not in TICKET_SOURCES:
        raise ValueError(f"source must be one of {', '.join(TICKET_SOURCES)}")
    if cause is not None and cause not in TICKET_CAUSES:
        raise TicketError("cause")
    if survey_id is not None:
        existing = session.scalar(select(Ticket).where(Ticket.survey_id == survey_id))
        if existing is not None:
            return existing
    elif source == "conversation" and sender_id is not None:
        existing = unresolved_of(session, sender_id)
        if existing is not None:
            existing.lead_id = existing.lead_id or lead_id
            existing.customer_id = existing.customer_id or customer_id
            existing.handoff_id = existing.handoff_id or handoff_id
            existing.excerpt = excerpt or existing.excerpt
            existing.events.append(
                TicketEvent(kind="repeated", actor=ASSISTANT, note=summary, at=now)
            )
            session.flush()
            return existing
    ticket = Ticket(
        source=source, state="open", cause=cause, customer_id=customer_id, lead_id=lead_id,
        survey_id=survey_id, handoff_id=handoff_id, sender_id=sender_id, channel=channel,
        language=language, summary=summary, answers=answers, excerpt=excerpt, opened_at=now,
        escalations=0,
    )  # fmt: skip
    ticket.events.append(TicketEvent(kind="opened", actor=ASSISTANT, at=now))
    try:
        with session.begin_nested():
            session.add(ticket)
    except IntegrityError:
        if survey_id is None:
            raise
        found = session.scalar(select(Ticket).where(Ticket.survey_id == survey_id))
        if found is None:
            raise
        return found  # the other writer opened it first
    return ticket


def complaint(
    session: Session,
    *,
    sender_id: str,
    at: datetime,
    words: str | None,
    excerpt: list[dict[str, str]] | None = None,
    channel: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """A complaint in a conversation: the ticket of it, with the customer and lead the
    conversation is known by (its hand-off's lead, else the customer's open lead).
    Returns ``{"ticket_id", "created"}`` (JSON, like the other writes of a conversation)."""
    customer = identity.customer_of_sender(session, sender_id)
    handoff = session.scalar(
        select(Handoff)
        .where(Handoff.sender_id == sender_id, Handoff.state != "done")
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    lead_id = handoff.lead_id if handoff is not None else None
    if lead_id is None and customer is not None:
        lead_id = session.scalar(
            select(Lead.id)
            .where(Lead.customer_id == customer.id, Lead.status.not_in(CLOSED_STATUSES))
            .order_by(Lead.id.desc())
            .limit(1)
        )
    before = unresolved_of(session, sender_id)
    ticket = open_ticket(
        session,
        source="conversation",
        now=at,
        sender_id=sender_id,
        channel=channel,
        language=language,
        customer_id=customer.id if customer is not None else None,
        lead_id=lead_id,
        handoff_id=handoff.id if handoff is not None else None,
        summary=words,
        excerpt=excerpt,
    )
    return {"ticket_id": ticket.id, "created": before is None}


def link_handoff(session: Session, ticket_id: int, sender_id: str) -> None:
    """The ticket is handled in the conversation's open hand-off (a survey's, handed off after)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.handoff_id is not None:
        return
    ticket.handoff_id = session.scalar(
        select(Handoff.id)
        .where(Handoff.sender_id == sender_id, Handoff.state != "done")
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    session.flush()


def unresolved_of(session: Session, sender_id: str) -> Ticket | None:
    """The conversation's ticket not resolved yet, if any (the latest)."""
    return session.scalar(
        select(Ticket)
        .where(Ticket.sender_id == sender_id, Ticket.state != "resolved")
        .order_by(Ticket.id.desc())
        .limit(1)
    )


def move(
    session: Session,
    ticket_id: int,
    to_state: str,
    *,
    now: datetime,
    actor: str,
    staff_id: int | None = None,
    note: str | None = None,
    cause: str | None = None,
) -> Ticket:
    """Take the ticket to ``to_state`` ("in_progress" or "resolved"), recorded with who and when.

    Settled by the database: the update only applies while the ticket is still in a state it may
    leave that way, so of two managers resolving at once one gets TicketError("state")."""
    note = (note or "").strip() or None
    if to_state not in ("in_progress", "resolved"):
        raise TicketError("target", ticket_id)
    if to_state == "resolved" and note is None:
        raise TicketError("note", ticket_id)
    if cause is not None and cause not in TICKET_CAUSES:
        raise TicketError("cause", ticket_id)
    values: dict[str, Any] = {"state": to_state}
    if to_state == "in_progress":
        values["progress_at"] = now
    else:
        values.update(resolved_at=now, resolution=note)
        if cause is not None:
            values["cause"] = cause
    sources = [state for state, targets in MOVES.items() if to_state in targets]
    moved = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.state.in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    ticket = session.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        raise TicketError("unknown", ticket_id)
    if getattr(moved, "rowcount", 0) != 1:
        raise TicketError("state", ticket_id, ticket.state)
    ticket.events.append(
        TicketEvent(kind=to_state, staff_id=staff_id, actor=actor, note=note, at=now)
    )
    session.flush()
    return ticket


def get(session: Session, ticket_id: int) -> Ticket:
    """The ticket, or TicketError("unknown")."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketError("unknown", ticket_id)
    return ticket


def listing(session: Session, *, include_resolved: bool = False) -> list[Ticket]:
    """Open tickets first, then those in progress (then resolved ones), oldest first in each."""
    stmt = select(Ticket)
    if not include_resolved:
        stmt = stmt.where(Ticket.state != "resolved")
    return list(session.scalars(stmt.order_by(_STATE_ORDER, Ticket.opened_at, Ticket.id)))


def view(session: Session, ticket: Ticket) -> TicketView:
    """The ticket with its customer's name and number (when known) and its steps."""
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    lead = session.get(Lead, ticket.lead_id) if ticket.lead_id else None
    if customer is None and lead is not None and lead.customer_id is not None:
        customer = session.get(Customer, lead.customer_id)
    events = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    )
    return TicketView(
        id=ticket.id, state=ticket.state, source=ticket.source, cause=ticket.cause,
        lead_id=ticket.lead_id, survey_id=ticket.survey_id,
        lead_owner_id=lead.owner_id if lead is not None else None,
        customer=customer.name if customer is not None else None,
        phone=customer.phone if customer is not None else None,
        channel=ticket.channel, language=ticket.language, opened_at=ticket.opened_at,
        alerted_at=ticket.alerted_at, progress_at=ticket.progress_at,
        resolved_at=ticket.resolved_at, escalations=ticket.escalations,
        resolution=ticket.resolution, summary=ticket.summary,
        answers=dict(ticket.answers or {}), excerpt=list(ticket.excerpt or []),
        events=[EventView(e.kind, e.actor, e.note, e.at) for e in events],
    )  # fmt: skip


def record(found: TicketView, zone: ZoneInfo) -> dict[str, Any]:
    """The export's JSON object: times in ISO 8601 with the dealer's offset."""

    def local(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value is not None else None

    return {
        "id": found.id,
        "state": found.state,
        "source": found.source,
        "cause": found.cause,
        "customer": found.customer,
        "phone": found.phone,
        "channel": found.channel,
        "language": found.language,
        "lead_id": found.lead_id,
        "survey_id": found.survey_id,
        "opened_at": local(found.opened_at),
        "progress_at": local(found.progress_at),
        "resolved_at": local(found.resolved_at),
        "resolution": found.resolution,
        "summary": found.summary,
        "answers": found.answers,
        "escalations": found.escalations,
        "events": [
            {"kind": e.kind, "actor": e.actor, "note": e.note, "at": local(e.at)}
            for e in found.events
        ],
    }


def ticket_records(session: Session, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Every ticket, by id, for ``tickets export --format json``."""
    tickets = session.scalars(select(Ticket).order_by(Ticket.id)).all()
    return [record(view(session, t), zone) for t in tickets]


def may_act(found: TicketView, staff_id: int, role: str) -> bool:
    """Managers act on every ticket; a consultant on the tickets of leads they own."""
    return role == "manager" or (
        found.lead_owner_id is not None and found.lead_owner_id == staff_id
    )
