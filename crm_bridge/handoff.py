"""Hand-off: who answers a conversation, the assistant or one consultant.

A conversation is handed off when the customer asks for a person, wants to negotiate the price,
complains, or becomes an H or A lead (``open_handoff``, from the action server). Its lead card
goes to the sales team; the first claim wins (``claim``: a conditional update, so two consultants
racing get one owner). While the hand-off is claimed its owner answers: the assistant stays quiet
and messages are relayed both ways (``RelayMessage`` rows, delivered by the gateway). A card not
claimed within the configured opening-hours minutes is escalated to the managers; an owner who
does not answer is reminded, then escalated. ``hand_back`` gives the conversation back to the
assistant. Every step is a lead event; the functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from crm_bridge import identity
from crm_bridge.leads import log_event
from crm_bridge.models import CLOSED_STATUSES, Handoff, Lead, RelayMessage, Staff
from crm_bridge.opening import OpeningHours

SOURCE: Final = "handoff"
# Lead statuses a hand-off moves on to "handed_off" (later ones are kept).
BEFORE_HANDOFF: Final = ("new", "qualified")
# The excerpt on the card: this many last turns, each cut to this many characters.
EXCERPT_TURNS: Final = 8
EXCERPT_CHARS: Final = 300


@dataclass(frozen=True)
class Opened:
    """The hand-off of a conversation; ``created`` is False when one was already open, and
    ``starts_at`` is when a consultant can take over (now, or the next opening)."""

    handoff: Handoff
    created: bool
    starts_at: datetime | None


@dataclass(frozen=True)
class Claim:
    """The outcome of pressing Claim: whether this person won, and who owns the lead now."""

    won: bool
    owner: Staff | None
    handoff: Handoff


def open_of(session: Session, sender_id: str) -> Handoff | None:
    """The conversation's open hand-off (waiting or claimed), if any."""
    return session.scalar(
        select(Handoff).where(Handoff.sender_id == sender_id, Handoff.state != "done")
    )


def handled_by(session: Session, sender_id: str) -> Handoff | None:
    """The claimed hand-off when a consultant answers this conversation; None: the assistant."""
    found = open_of(session, sender_id)
    return found if found is not None and found.state == "claimed" else None


def cut_excerpt(turns: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The last turns for the card, each shortened."""
    kept = [(who, text.strip()) for who, text in turns if text and text.strip()]
    return [
        {"who": who, "text": text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"}
        for who, text in kept[-EXCERPT_TURNS:]
    ]


def open_handoff(
    session: Session,
    *,
    sender_id: str,
    reason: str,
    now: datetime,
    hours: OpeningHours,
    claim_minutes: int,
    channel: str | None = None,
    language: str | None = None,
    lead_id: int | None = None,
    excerpt: list[dict[str, str]] | None = None,
) -> Opened:
    """Hand the conversation to the sales team, once: a second request while one is open keeps
    the first (its lead and excerpt are brought up to date)."""
    starts_at = hours.next_opening(now)
    existing = open_of(session, sender_id)
    if existing is not None:
        existing.lead_id = lead_id or existing.lead_id
        existing.excerpt = excerpt or existing.excerpt
        return Opened(existing, False, starts_at)
    handoff = Handoff(
        sender_id=sender_id,
        channel=channel,
        language=language,
        lead_id=lead_id,
        reason=reason,
        state="waiting",
        opened_at=now,
        claim_due_at=hours.after_open_minutes(now, claim_minutes),
        excerpt=excerpt,
    )
    session.add(handoff)
    session.flush()
    lead = session.get(Lead, lead_id) if lead_id is not None else None
    if lead is not None:
        log_event(session, lead, now, SOURCE, "handoff", "reason", None, reason)
        if lead.status in BEFORE_HANDOFF:
            log_event(session, lead, now, SOURCE, "status", "status", lead.status, "handed_off")
            lead.status = "handed_off"
    return Opened(handoff, True, starts_at)


def request(
    session: Session,
    *,
    sender_id: str,
    reason: str,
    at: datetime,
    zone: str,
    claim_minutes: int,
    channel: str | None = None,
    language: str | None = None,
    excerpt: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The outbox's "handoff.open": hand off the conversation with its customer's open lead.

    Returns ``{"handoff_id", "created", "starts_at"}`` (ISO instant, or None when the showroom
    has no opening within a month)."""
    customer = identity.customer_of_sender(session, sender_id)
    lead = (
        session.scalar(
            select(Lead).where(Lead.customer_id == customer.id, Lead.status.not_in(CLOSED_STATUSES))
        )
        if customer is not None
        else None
    )
    opened = open_handoff(
        session,
        sender_id=sender_id,
        reason=reason,
        now=at,
        hours=OpeningHours.of(session, ZoneInfo(zone)),
        claim_minutes=claim_minutes,
        channel=channel,
        language=language,
        lead_id=lead.id if lead is not None else None,
        excerpt=excerpt,
    )
    return {
        "handoff_id": opened.handoff.id,
        "created": opened.created,
        "starts_at": opened.starts_at.isoformat() if opened.starts_at else None,
    }


def attach_lead(session: Session, sender_id: str, lead: Lead, now: datetime) -> None:
    """A lead written after the hand-off (the needs were asked afterwards) joins it."""
    handoff = open_of(session, sender_id)
    if handoff is None or handoff.lead_id == lead.id:
        return
    handoff.lead_id = lead.id
    if lead.status in BEFORE_HANDOFF:
        log_event(session, lead, now, SOURCE, "status", "status", lead.status, "handed_off")
        lead.status = "handed_off"
    if handoff.owner_id is not None and lead.owner_id is None:
        lead.owner_id = handoff.owner_id


def claim(
    session: Session, handoff_id: int, staff: Staff, now: datetime, reply_minutes: int
) -> Claim:
    """The first claim wins, settled by the database: only a waiting hand-off is claimed."""
    won = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.state == "waiting")
        .values(
            state="claimed",
            owner_id=staff.id,
            claimed_at=now,
            reply_due_at=now + timedelta(minutes=reply_minutes),
        )
        .execution_options(synchronize_session=False)
    )
    handoff = session.get(Handoff, handoff_id, populate_existing=True)
    if handoff is None:
        raise LookupError(f"no hand-off {handoff_id}")
    if won.rowcount == 1:  # type: ignore[attr-defined]
        _owned(session, handoff, staff, now, "claimed")
    return Claim(won.rowcount == 1, handoff.owner, handoff)  # type: ignore[attr-defined]


def reassign(
    session: Session, handoff: Handoff, staff: Staff, now: datetime, reply_minutes: int
) -> None:
    """A manager gives the conversation to another consultant (claimed or not)."""
    if handoff.state == "done":
        raise ValueError("the hand-off is over")
    handoff.state, handoff.owner_id = "claimed", staff.id
    handoff.claimed_at = handoff.claimed_at or now
    handoff.reply_due_at = now + timedelta(minutes=reply_minutes)
    handoff.reminded_at = handoff.reply_escalated_at = None
    session.flush()
    _owned(session, handoff, staff, now, "reassigned")


def _owned(session: Session, handoff: Handoff, staff: Staff, now: datetime, how: str) -> None:
    lead = session.get(Lead, handoff.lead_id) if handoff.lead_id is not None else None
    if lead is None:
        return
    old = session.get(Staff, lead.owner_id).name if lead.owner_id else None  # type: ignore[union-attr]
    lead.owner_id = staff.id
    if staff.consultant_id is not None:
        lead.consultant_id = staff.consultant_id
    log_event(session, lead, now, f"telegram:{staff.id}", how, "consultant", old, staff.name)


def replied(session: Session, handoff: Handoff, staff: Staff, now: datetime) -> None:
    """The consultant wrote to the customer: the first reply makes the lead "contacted"."""
    if handoff.first_reply_at is not None:
        return
    handoff.first_reply_at = now
    lead = session.get(Lead, handoff.lead_id) if handoff.lead_id is not None else None
    if lead is not None and lead.status not in (*CLOSED_STATUSES, "contacted"):
        log_event(
            session, lead, now, f"telegram:{staff.id}", "status", "status", lead.status, "contacted"
        )
        lead.status = "contacted"


def hand_back(session: Session, handoff: Handoff, now: datetime, by: Staff | None) -> None:
    """The assistant answers the conversation again."""
    handoff.state, handoff.closed_at = "done", now
    if handoff.owner_id is None and by is not None:
        handoff.owner_id = by.id
    lead = session.get(Lead, handoff.lead_id) if handoff.lead_id is not None else None
    if lead is not None:
        source = f"telegram:{by.id}" if by else SOURCE
        log_event(session, lead, now, source, "handoff", "state", "claimed", "done")


def relay(
    session: Session,
    handoff: Handoff,
    direction: str,
    *,
    body: str | None,
    kind: str = "text",
    media: str | None = None,
    staff: Staff | None = None,
    now: datetime,
) -> RelayMessage:
    """Queue a message for the other side; the gateway delivers it."""
    message = RelayMessage(
        handoff_id=handoff.id,
        direction=direction,
        kind=kind,
        body=body,
        media=media,
        staff_id=staff.id if staff else None,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def undelivered(
    session: Session, direction: str, sender_id: str | None = None
) -> list[RelayMessage]:
    """Messages not yet delivered, oldest first (optionally of one conversation)."""
    stmt = (
        select(RelayMessage)
        .join(Handoff, Handoff.id == RelayMessage.handoff_id)
        .where(RelayMessage.direction == direction, RelayMessage.delivered_at.is_(None))
        .order_by(RelayMessage.id)
    )
    if sender_id is not None:
        stmt = stmt.where(Handoff.sender_id == sender_id)
    return list(session.scalars(stmt))


def by_staff_message(session: Session, staff: Staff, message_id: int) -> Handoff | None:
    """The hand-off a consultant replies to (their private chat message it relayed)."""
    return session.scalar(
        select(Handoff)
        .join(RelayMessage, RelayMessage.handoff_id == Handoff.id)
        .where(
            RelayMessage.staff_chat_message_id == message_id,
            Handoff.owner_id == staff.id,
            Handoff.state == "claimed",
        )
    )


def live_of(session: Session, staff: Staff) -> list[Handoff]:
    """The conversations this person answers now, the most recently active first."""
    return list(
        session.scalars(
            select(Handoff)
            .where(Handoff.owner_id == staff.id, Handoff.state == "claimed")
            .order_by(Handoff.claimed_at.desc(), Handoff.id.desc())
        )
    )


def unannounced(session: Session) -> list[Handoff]:
    """Hand-offs whose lead card has not gone out yet."""
    return list(
        session.scalars(
            select(Handoff)
            .where(Handoff.state == "waiting", Handoff.announced_at.is_(None))
            .order_by(Handoff.id)
        )
    )


def waiting(session: Session) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff).where(Handoff.state == "waiting").order_by(Handoff.opened_at)
        )
    )


def claim_overdue(session: Session, now: datetime) -> list[Handoff]:
    """Cards nobody claimed in time, not yet escalated."""
    return list(
        session.scalars(
            select(Handoff).where(
                Handoff.state == "waiting",
                Handoff.claim_due_at <= now,
                Handoff.escalated_at.is_(None),
            )
        )
    )


def reply_overdue(session: Session, now: datetime) -> list[Handoff]:
    """Claimed conversations whose owner has not answered by the deadline (reminder or
    escalation due)."""
    return list(
        session.scalars(
            select(Handoff).where(
                Handoff.state == "claimed",
                Handoff.first_reply_at.is_(None),
                Handoff.reply_due_at <= now,
                or_(Handoff.reminded_at.is_(None), Handoff.reply_escalated_at.is_(None)),
            )
        )
    )
