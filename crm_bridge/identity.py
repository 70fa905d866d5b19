"""Who a conversation speaks for: its customer across Rasa sessions, and the numbers it proved.

A conversation is one sender on one channel. It is linked to the customer it made ("created": the
number it gave was new) or to one whose number it gave ("claimed": a number is not proof of who
someone is). A number becomes the conversation's own once verified: Telegram's own-contact share,
a signed call's caller id, or an SMS code typed back.

What a conversation may do with a customer follows from that:
- ``may_update``: change their name and details: a verified number, or the conversation made the
  record (until someone verifies the number);
- ``speaks_for``: read their data back and erase all of it: a verified number of theirs, or the
  conversation made the record and no other conversation has come to it since;
- everything else only adds to the lead (a contact attempt, new interest) for a consultant.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from crm_bridge.models import (
    VERIFICATIONS,
    Booking,
    Customer,
    CustomerLink,
    ErasureTombstone,
    VerifiedPhone,
)
from crm_bridge.models.bookings import ACTIVE_BOOKING_STATUSES


def current_link(session: Session, sender_id: str) -> CustomerLink | None:
    """The conversation's most recent link: the customer it speaks as now."""
    return session.scalars(
        select(CustomerLink)
        .where(CustomerLink.sender_id == sender_id)
        .order_by(CustomerLink.linked_at.desc(), CustomerLink.id.desc())
        .limit(1)
    ).first()


def customer_of_sender(session: Session, sender_id: str) -> Customer | None:
    """The customer the conversation is linked to now, whatever Rasa session it is in."""
    link = current_link(session, sender_id)
    return session.get(Customer, link.customer_id) if link is not None else None


def links_of(session: Session, sender_id: str) -> list[CustomerLink]:
    return list(
        session.scalars(
            select(CustomerLink)
            .where(CustomerLink.sender_id == sender_id)
            .order_by(CustomerLink.linked_at, CustomerLink.id)
        )
    )


def senders_of(session: Session, customer_id: int) -> set[str]:
    """Every conversation linked to the customer."""
    return set(
        session.scalars(
            select(CustomerLink.sender_id).where(CustomerLink.customer_id == customer_id)
        )
    )


def link(session: Session, sender_id: str, customer: Customer, kind: str, at: datetime) -> bool:
    """Link the conversation to ``customer`` (now its current customer). True if the link is new.

    A link keeps its first kind: a conversation that made a record stays its maker.
    """
    existing = session.scalars(
        select(CustomerLink).where(
            CustomerLink.sender_id == sender_id, CustomerLink.customer_id == customer.id
        )
    ).first()
    if existing is not None:
        if existing.linked_at < at:
            existing.linked_at = at
        return False
    session.add(CustomerLink(sender_id=sender_id, customer_id=customer.id, kind=kind, linked_at=at))
    session.flush()
    return True


def unlink(session: Session, sender_id: str, customer_id: int) -> None:
    session.execute(
        delete(CustomerLink).where(
            CustomerLink.sender_id == sender_id, CustomerLink.customer_id == customer_id
        )
    )


def verified_phones(session: Session, sender_id: str) -> set[str]:
    """The numbers this conversation proved are its own."""
    return set(
        session.scalars(select(VerifiedPhone.phone).where(VerifiedPhone.sender_id == sender_id))
    )


def is_verified(session: Session, sender_id: str, phone: str | None) -> bool:
    return phone is not None and phone in verified_phones(session, sender_id)


def verify_phone(session: Session, sender_id: str, phone: str, via: str, at: datetime) -> None:
    """Record that ``phone`` is the conversation's own; it now speaks for that number's customer."""
    if via not in VERIFICATIONS:
        raise ValueError(f"unknown verification {via!r}")
    if not is_verified(session, sender_id, phone):
        session.add(VerifiedPhone(sender_id=sender_id, phone=phone, via=via, verified_at=at))
    customer = session.scalars(select(Customer).where(Customer.phone == phone)).first()
    if customer is not None:
        link(session, sender_id, customer, "claimed", at)
        # Whoever made the record with this number without proving it no longer speaks for it.
        proved = select(VerifiedPhone.sender_id).where(VerifiedPhone.phone == phone)
        session.execute(
            update(CustomerLink)
            .where(
                CustomerLink.customer_id == customer.id,
                CustomerLink.kind == "created",
                CustomerLink.sender_id.not_in(proved),
            )
            .values(kind="claimed")
        )
    session.flush()


def may_update(session: Session, sender_id: str, customer: Customer) -> bool:
    """Whether the conversation may change ``customer``'s name and details."""
    if is_verified(session, sender_id, customer.phone):
        return True
    return _made(session, sender_id, customer)


def _made(session: Session, sender_id: str, customer: Customer) -> bool:
    return (
        session.scalar(
            select(CustomerLink.id).where(
                CustomerLink.sender_id == sender_id,
                CustomerLink.customer_id == customer.id,
                CustomerLink.kind == "created",
            )
        )
        is not None
    )


def speaks_for(session: Session, sender_id: str, customer: Customer) -> bool:
    """Whether the conversation may read back and erase all of ``customer``'s data."""
    if is_verified(session, sender_id, customer.phone):
        return True
    if not _made(session, sender_id, customer):
        return False
    others = session.scalar(
        select(func.count())
        .select_from(CustomerLink)
        .where(CustomerLink.customer_id == customer.id, CustomerLink.sender_id != sender_id)
    )
    return not others


def visible_bookings(
    session: Session, sender_id: str, *, now: datetime, phone: str | None = None
) -> tuple[list[Booking], int]:
    """Upcoming active bookings this conversation may read, move or cancel, and how many more
    were made with ``phone`` by other conversations (they need the number verified first).

    Visible: bookings the conversation made, and those of a number it verified.
    """
    mine = set(verified_phones(session, sender_id))
    keys = [Booking.sender_id == sender_id]
    if mine:
        owners = select(Customer.id).where(Customer.phone.in_(mine))
        keys += [Booking.phone.in_(mine), Booking.customer_id.in_(owners)]
    upcoming = (
        Booking.status.in_(ACTIVE_BOOKING_STATUSES),
        Booking.start >= now,
    )
    visible = list(
        session.scalars(
            select(Booking).where(or_(*keys), *upcoming).order_by(Booking.start, Booking.id)
        )
    )
    hidden = 0
    if phone is not None and phone not in mine:
        hidden = (
            session.scalar(
                select(func.count())
                .select_from(Booking)
                .where(
                    Booking.phone == phone,
                    Booking.id.not_in([b.id for b in visible] or [-1]),
                    *upcoming,
                )
            )
            or 0
        )
    return visible, hidden


# Erasure tombstones: a keyed hash, so the table holds no number and no conversation id.


def tombstone_hash(key: bytes, kind: str, value: str) -> str:
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def bury(session: Session, key: bytes, kind: str, value: str, at: datetime) -> None:
    """Remember that ``value`` (a number or a conversation) was erased at ``at``."""
    digest = tombstone_hash(key, kind, value)
    stone = session.scalars(
        select(ErasureTombstone).where(
            ErasureTombstone.kind == kind, ErasureTombstone.key_hash == digest
        )
    ).first()
    if stone is None:
        session.add(ErasureTombstone(kind=kind, key_hash=digest, erased_at=at))
    elif stone.erased_at < at:
        stone.erased_at = at


def erased_since(
    session: Session, key: bytes, at: datetime, *, sender_id: str | None, phone: str | None
) -> bool:
    """Whether the conversation or the number was erased at or after ``at``: a write made
    before the erasure (replayed late) must not bring the data back."""
    hashes = []
    if sender_id is not None:
        hashes.append(("sender", tombstone_hash(key, "sender", sender_id)))
    if phone is not None:
        hashes.append(("phone", tombstone_hash(key, "phone", phone)))
    for kind, digest in hashes:
        erased = session.scalar(
            select(ErasureTombstone.erased_at).where(
                ErasureTombstone.kind == kind, ErasureTombstone.key_hash == digest
            )
        )
        if erased is not None and erased >= at:
            return True
    return False
