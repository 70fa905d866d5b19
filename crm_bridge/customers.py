"""A data request at the desk or by letter (PIPL): what the dealership holds on a phone number,
every place the number still appears, and erasing it.

The audit does not trust the model: it searches every text column of every table of the
dealership database and the writes kept in the outbox (the transcripts in Rasa's tracker store:
``actions.transcripts.Transcripts.rows_mentioning``) for the ways a number is written (E.164,
11 digits, 3-4-4 with spaces or dashes).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import JSON, String, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from crm_bridge import privacy
from crm_bridge.bookings import booking_record
from crm_bridge.exports import lead_record
from crm_bridge.models import Base, Booking, Conversation, Customer, Lead, Survey


@dataclass(frozen=True)
class Place:
    """Where a number appears: a table and column (or a store), and in how many rows."""

    where: str
    rows: int


def spellings(phone: str) -> list[str]:
    """The ways ``phone`` (E.164) is written by customers and by the assistant."""
    national = str(phonenumbers.parse(phone).national_number)
    found = [phone, national]
    if len(national) == 11:
        parts = (national[:3], national[3:7], national[7:])
        found += [" ".join(parts), "-".join(parts)]
    return found


def customer_by_phone(session: Session, phone: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.phone == phone))


def profile(session: Session, phone: str, zone: ZoneInfo) -> dict[str, Any] | None:
    """Everything held on the customer with this number, as the customer may ask to see it."""
    customer = customer_by_phone(session, phone)
    owner = customer.id if customer else -1  # no customer: no leads, conversations or surveys
    bookings = list(session.scalars(
        select(Booking).where(or_(Booking.phone == phone, Booking.customer_id == owner))
        .order_by(Booking.id)
    ))  # fmt: skip
    if customer is None and not bookings:
        return None

    def local(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value else None

    leads = session.scalars(select(Lead).where(Lead.customer_id == owner).order_by(Lead.id))
    conversations = session.scalars(
        select(Conversation).where(Conversation.customer_id == owner).order_by(Conversation.id)
    )
    surveys = session.scalars(select(Survey).where(Survey.customer_id == owner).order_by(Survey.id))
    return {
        "customer": None if customer is None else {
            "name": customer.name, "phone": customer.phone, "email": customer.email,
            "consent": customer.consent, "consent_at": local(customer.consent_at),
            "opted_out_at": local(customer.opted_out_at), "created_at": local(customer.created_at),
        },
        "leads": [lead_record(lead, {}, zone) for lead in leads],
        "bookings": [booking_record(booking, {}, zone) for booking in bookings],
        "conversations": [{"sender_id": c.sender_id, "channel": c.channel,
                           "started_at": local(c.started_at)} for c in conversations],
        "surveys": [{"id": s.id, "kind": s.kind, "answers": s.answers} for s in surveys],
    }  # fmt: skip


def places_in_database(session: Session, phone: str) -> list[Place]:
    """Every table column of the dealership database holding the number, in any spelling."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON):
                continue
            text = cast(column, Text) if isinstance(column.type, JSON) else column
            where = or_(*(text.contains(s, autoescape=True) for s in spellings(phone)))
            rows = session.scalar(select(func.count()).select_from(table).where(where)) or 0
            if rows:
                found.append(Place(f"{table.name}.{column.name}", rows))
    return found


def places_in_outbox(path: Path, phone: str) -> list[Place]:
    """Writes kept while the database was down (pending or failed) that hold the number."""
    if not path.exists():
        return []
    with sqlite3.connect(path) as connection:
        try:
            payloads = [row[0] for row in connection.execute("SELECT payload FROM pending")]
        except sqlite3.OperationalError:  # no outbox table yet
            return []
    rows = sum(any(s in payload for s in spellings(phone)) for payload in payloads)
    return [Place(f"outbox: {path.name}", rows)] if rows else []


def erase_by_phone(
    session: Session, phone: str, at: datetime, key: bytes | None = None
) -> list[str] | None:
    """Erase the customer with this number and their bookings; the conversations they had are
    returned (for their transcripts), or None if the number is unknown."""
    customer = customer_by_phone(session, phone)
    booked = session.scalars(select(Booking.sender_id).where(Booking.phone == phone)).all()
    if customer is None and not booked:
        return None
    senders = {sender for sender in booked if sender is not None}
    return privacy.erase_person(session, senders, customer, at, phone=phone, key=key)
