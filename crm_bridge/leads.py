"""Writing leads as a conversation goes: customers by phone, one open lead each, changes logged.

Repository functions take a session and never commit. Uniqueness is the database's job (a unique
phone, a partial unique index on open leads), so two conversations writing at the same moment
converge on one customer and one open lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_bridge import follow_ups, identity
from crm_bridge.conversations import latest_conversation, start_conversation
from crm_bridge.models import CLOSED_STATUSES, Customer, CustomerLink, Lead, LeadEvent, LeadModel
from crm_bridge.models.leads import OPEN_LEAD_SQL

# The dealership's convention (DESIGN.md): H buys within 7 days, A within 15, B within 30.
LEVEL_LIMITS = (("H", 7), ("A", 15), ("B", 30))
LEAD_FIELDS = (
    "channel", "language", "budget_cny_max", "purchase_timeline_days", "payment", "trade_in",
    "trade_in_vehicle",
)  # fmt: skip


def intention_level(purchase_timeline_days: int | None) -> str:
    """H, A, B or C from the days until the planned purchase (C: later or unknown)."""
    if purchase_timeline_days is None:
        return "C"
    for level, limit in LEVEL_LIMITS:
        if purchase_timeline_days <= limit:
            return level
    return "C"


@dataclass(frozen=True)
class LeadUpdate:
    """What a conversation has learnt so far; None means not known (nothing is overwritten)."""

    consent: bool
    channel: str | None = None
    language: str | None = None
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    model_interest: list[str] = field(default_factory=list)
    budget_cny_max: int | None = None
    purchase_timeline_days: int | None = None
    payment: str | None = None
    trade_in: bool | None = None
    trade_in_vehicle: str | None = None
    # Questions the dealership's data could not answer, for the consultant to confirm
    # ("Q5L: seat_massage"); written by the assistant, never the customer's own text.
    questions: list[str] = field(default_factory=list)


def _insert(session: Session, model: Any) -> Any:
    """INSERT with ON CONFLICT support (PostgreSQL and SQLite have it, in their own dialects)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"unsupported database {dialect}")


def customer_for_phone(session: Session, phone: str, at: datetime) -> Customer:
    """The customer with this phone number, created if new; safe against concurrent writers."""
    return new_or_known_customer(session, phone, at)[0]


def new_or_known_customer(session: Session, phone: str, at: datetime) -> tuple[Customer, bool]:
    """The customer with this phone number and whether this call created them (the database
    settles two writers racing with the same new number)."""
    stmt = (
        _insert(session, Customer)
        .values(phone=phone, created_at=at, updated_at=at)
        .on_conflict_do_nothing(index_elements=["phone"])
        .returning(Customer.id)
    )
    created_id = session.execute(stmt).scalar_one_or_none()
    customer = session.scalars(
        select(Customer).where(Customer.phone == phone).execution_options(populate_existing=True)
    ).one()
    return customer, created_id is not None


def open_lead(session: Session, customer: Customer, at: datetime) -> tuple[Lead, bool]:
    """The customer's open lead, created if there is none. Returns (lead, created)."""
    stmt = (
        _insert(session, Lead)
        .values(customer_id=customer.id, status="new", created_at=at, updated_at=at)
        .on_conflict_do_nothing(index_elements=["customer_id"], index_where=text(OPEN_LEAD_SQL))
        .returning(Lead.id)
    )
    created_id = session.execute(stmt).scalar_one_or_none()
    lead = session.scalars(
        select(Lead)
        .where(Lead.customer_id == customer.id, Lead.status.not_in(CLOSED_STATUSES))
        .execution_options(populate_existing=True)
    ).one()
    return lead, created_id is not None


def record_lead(
    session: Session,
    sender_id: str,
    update: LeadUpdate,
    source: str,
    at: datetime,
    erasure_key: bytes | None = None,
) -> Lead | None:
    """Write what the conversation knows into the customer's open lead.

    Without consent nothing personal is stored and no lead is written. A write older than an
    erasure of the conversation or the number (replayed late from the outbox) is dropped. A
    conversation that gives a number already known, without having verified it, only adds to
    that customer's lead (a contact attempt, new interest): it never changes their name or
    contact details.
    """
    if not update.consent:
        return None
    if erasure_key is not None and identity.erased_since(
        session, erasure_key, at, sender_id=sender_id, phone=update.phone
    ):
        return None
    conversation = latest_conversation(session, sender_id) or start_conversation(
        session, sender_id, at, update.channel
    )
    customer, trusted, new_link = _customer(session, sender_id, update, at)
    lead, created = open_lead(session, customer, at)
    if created:
        log_event(session, lead, at, source, "created", None, None, "new")
    level = lead.level
    if trusted:
        _apply(session, lead, update, source, at)
        _set_customer(customer, update, at)
    else:
        _add_interest(session, lead, update, f"{source}:unverified"[:40], at, new_link)
    if lead.level != level:  # the follow-up job dates it again by the new level
        follow_ups.forget(lead)
    conversation.customer_id = customer.id
    conversation.lead_id = lead.id
    return lead


def _customer(
    session: Session, sender_id: str, update: LeadUpdate, at: datetime
) -> tuple[Customer, bool, bool]:
    """The customer the conversation writes to, whether it may change their details, and
    whether the conversation was linked to them just now."""
    link = identity.current_link(session, sender_id)
    current = session.get(Customer, link.customer_id) if link is not None else None
    if current is not None and (update.phone is None or current.phone == update.phone):
        trusted = identity.may_update(session, sender_id, current)
        if trusted and current.phone is not None:
            _absorb_anonymous(session, sender_id, current, at)
        return current, trusted, False
    if update.phone is None:  # consented, no number yet: an anonymous customer of its own
        customer = Customer(created_at=at, updated_at=at)
        session.add(customer)
        session.flush()
        identity.link(session, sender_id, customer, "created", at)
        return customer, True, True
    owner = current is not None and identity.speaks_for(session, sender_id, current)
    # (owner: made it and nobody else came to it, so a new number is a correction of its own)
    known, made = new_or_known_customer(session, update.phone, at)
    if made and current is not None and owner and current.phone is not None:
        # A corrected number: the customer this conversation made takes the new one.
        session.delete(known)
        session.flush()
        _log_contact_change(session, current, at)
        current.phone, current.updated_at = update.phone, at
        return current, True, False
    if made or identity.is_verified(session, sender_id, update.phone):
        new_link = identity.link(session, sender_id, known, "created" if made else "claimed", at)
        _absorb_anonymous(session, sender_id, known, at)
        return known, True, new_link
    return known, False, identity.link(session, sender_id, known, "claimed", at)


def _log_contact_change(session: Session, customer: Customer, at: datetime) -> None:
    for lead in customer.leads:
        if lead.status not in CLOSED_STATUSES:
            log_event(session, lead, at, "conversation", "changed", "phone", None, "corrected")


def _add_interest(
    session: Session, lead: Lead, update: LeadUpdate, source: str, at: datetime, first: bool
) -> None:
    """What an unverified conversation may add: a contact attempt and interest, never details."""
    if first:
        log_event(session, lead, at, source, "contact", "contact_attempt", None, update.channel)
    added = [code for code in update.model_interest if code not in lead.model_interest]
    if added:
        log_event(session, lead, at, source, "changed", "model_interest",
                  ",".join(lead.model_interest),
                  ",".join([*lead.model_interest, *added]))  # fmt: skip
        lead.models.extend(
            LeadModel(model_code=code, position=len(lead.models) + i)
            for i, code in enumerate(added)
        )
    for name in ("budget_cny_max", "purchase_timeline_days", "payment", "trade_in"):
        value = getattr(update, name)
        if value is not None and getattr(lead, name) is None:
            log_event(session, lead, at, source, "changed", name, None, value)
            setattr(lead, name, value)
    asked = set(questions_of(session, [lead.id]).get(lead.id, [])) if update.questions else set()
    for question in dict.fromkeys(update.questions):
        if question not in asked:
            log_event(session, lead, at, source, "question", "question", None, question)
    level = intention_level(lead.purchase_timeline_days)
    if lead.level != level:
        log_event(session, lead, at, source, "changed", "level", lead.level, level)
        lead.level = level
    lead.updated_at = at
    session.flush()


def _absorb_anonymous(session: Session, sender_id: str, known: Customer, at: datetime) -> None:
    """Customers this conversation made before it had a number become ``known`` (its own)."""
    for link in identity.links_of(session, sender_id):
        anonymous = session.get(Customer, link.customer_id)
        if (
            anonymous is not None
            and anonymous.id != known.id
            and link.kind == "created"
            and anonymous.phone is None
            and anonymous.erased_at is None
        ):
            _merge_into(session, anonymous, known, at)


def _merge_into(session: Session, anonymous: Customer, known: Customer, at: datetime) -> None:
    """A customer first met without a phone turns out to be a known one: keep one record.

    Leads move through the relationships (not by id), so their events and models go with them.
    """
    for lead in list(anonymous.leads):
        target = session.scalars(
            select(Lead).where(Lead.customer_id == known.id, Lead.status.not_in(CLOSED_STATUSES))
        ).first()
        if lead.status in CLOSED_STATUSES or target is None:
            lead.customer = known
            session.flush()
            continue
        for model in lead.model_interest:
            if model not in target.model_interest:
                target.models.append(LeadModel(model_code=model, position=len(target.models)))
        for name in LEAD_FIELDS:
            value = getattr(lead, name)
            if value is not None and getattr(target, name) is None:
                setattr(target, name, value)
        for event in list(lead.events):
            target.events.append(event)
        session.flush()
        session.delete(lead)
        session.flush()
    for name in ("name", "email", "language"):
        if getattr(known, name) is None:
            setattr(known, name, getattr(anonymous, name))
    session.execute(delete(CustomerLink).where(CustomerLink.customer_id == anonymous.id))
    session.delete(anonymous)
    session.flush()


def _set_customer(customer: Customer, update: LeadUpdate, at: datetime) -> None:
    for name in ("name", "email", "language"):
        value = getattr(update, name)
        if value is not None:
            setattr(customer, name, value)
    if not customer.consent:
        customer.consent, customer.consent_at = True, at
    customer.updated_at = at


def _apply(session: Session, lead: Lead, update: LeadUpdate, source: str, at: datetime) -> None:
    changed = False
    for name in LEAD_FIELDS:
        value = getattr(update, name)
        if value is not None and getattr(lead, name) != value:
            log_event(session, lead, at, source, "changed", name, getattr(lead, name), value)
            setattr(lead, name, value)
            changed = True
    if update.model_interest and update.model_interest != lead.model_interest:
        log_event(session, lead, at, source, "changed", "model_interest",
               ",".join(lead.model_interest), ",".join(update.model_interest))  # fmt: skip
        lead.models.clear()
        session.flush()
        lead.models.extend(
            LeadModel(model_code=code, position=i) for i, code in enumerate(update.model_interest)
        )
        changed = True
    asked = set(questions_of(session, [lead.id]).get(lead.id, [])) if update.questions else set()
    for question in dict.fromkeys(update.questions):
        if question not in asked:
            log_event(session, lead, at, source, "question", "question", None, question)
            changed = True
    level = intention_level(lead.purchase_timeline_days)
    if lead.level != level:
        log_event(session, lead, at, source, "changed", "level", lead.level, level)
        lead.level, changed = level, True
    if not lead.consent:
        lead.consent, changed = True, True
    has_contact = update.phone is not None or (lead.customer and lead.customer.phone is not None)
    qualified = bool(lead.models) and lead.purchase_timeline_days is not None and has_contact
    if lead.status == "new" and qualified:
        log_event(session, lead, at, source, "status", "status", "new", "qualified")
        lead.status, changed = "qualified", True
    if changed:
        lead.updated_at = at
    session.flush()


def questions_of(session: Session, lead_ids: list[int]) -> dict[int, list[str]]:
    """The open questions logged on each lead (lead events of kind "question"), oldest first."""
    found: dict[int, list[str]] = {}
    rows = session.execute(
        select(LeadEvent.lead_id, LeadEvent.new_value)
        .where(LeadEvent.kind == "question", LeadEvent.lead_id.in_(lead_ids))
        .order_by(LeadEvent.id)
    )
    for lead_id, question in rows:
        if question:
            found.setdefault(lead_id, []).append(question)
    return found


# What a consultant is asked to act on: unverified contact attempts, requests to confirm by phone.
FOLLOW_UP_KINDS = ("contact", "request")


def follow_ups_of(session: Session, lead_ids: list[int]) -> dict[int, list[str]]:
    """Per lead, what the consultant should act on, oldest first: a chat that gave the customer's
    number without verifying it ("unverified contact via telegram"), or a request that waits for
    a call to the customer's number ("confirm by phone: cancel")."""
    found: dict[int, list[str]] = {}
    rows = session.execute(
        select(LeadEvent.lead_id, LeadEvent.kind, LeadEvent.new_value)
        .where(LeadEvent.kind.in_(FOLLOW_UP_KINDS), LeadEvent.lead_id.in_(lead_ids))
        .order_by(LeadEvent.id)
    )
    for lead_id, kind, value in rows:
        note = (
            f"unverified contact via {value or 'unknown channel'}"
            if kind == "contact"
            else f"confirm by phone: {value}"
        )
        found.setdefault(lead_id, []).append(note)
    return found


def log_event(
    session: Session,
    lead: Lead,
    at: datetime,
    source: str,
    kind: str,
    field_name: str | None,
    old: object,
    new: object,
) -> None:
    """Add a row to the lead's history (kind "created", "changed", "status" or "question")."""
    session.add(
        LeadEvent(
            lead_id=lead.id,
            at=at,
            source=source,
            kind=kind,
            field=field_name,
            old_value=None if old is None else str(old),
            new_value=None if new is None else str(new),
        )
    )
