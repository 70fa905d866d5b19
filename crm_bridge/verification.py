"""One-time codes that prove a phone number is the customer's own.

A code is six random digits, sent by SMS, valid for ten minutes and once; only a keyed hash of it
is stored and it is never logged. A conversation may ask for a few codes an hour, and a number
receives a few an hour, whoever asks; each code allows a few tries. Without an SMS provider the
request goes to a person instead (``hand_to_person``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from crm_bridge import identity
from crm_bridge.leads import log_event
from crm_bridge.models import CLOSED_STATUSES, Booking, Customer, Lead, VerificationCode

CODE_DIGITS: Final = 6
CODE_TTL: Final = timedelta(minutes=10)
MAX_ATTEMPTS: Final = 5
MAX_CODES_PER_HOUR: Final = 3  # per conversation, and per number


class TooManyCodes(Exception):
    """Enough codes were sent to this conversation or number for now."""


@dataclass(frozen=True)
class Check:
    """How a typed code fared: "verified" (with the number), "wrong", "expired", "exhausted"
    (too many tries) or "none" (no code was sent); ``left``: tries remaining."""

    outcome: str
    phone: str | None = None
    left: int = 0


def _digest(key: bytes, code_id: int, code: str) -> str:
    return hmac.new(key, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(session: Session, key: bytes, sender_id: str, phone: str, now: datetime) -> str:
    """A new code for ``phone``, replacing the conversation's earlier ones. Raises TooManyCodes."""
    hour_ago = now - timedelta(hours=1)
    for column, value in ((VerificationCode.sender_id, sender_id), (VerificationCode.phone, phone)):
        sent = session.scalar(
            select(func.count())
            .select_from(VerificationCode)
            .where(column == value, VerificationCode.created_at > hour_ago)
        )
        if (sent or 0) >= MAX_CODES_PER_HOUR:
            raise TooManyCodes
    session.execute(
        update(VerificationCode)
        .where(VerificationCode.sender_id == sender_id, VerificationCode.used_at.is_(None))
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = VerificationCode(
        sender_id=sender_id, phone=phone, code_hash="", created_at=now, expires_at=now + CODE_TTL
    )
    session.add(row)
    session.flush()
    row.code_hash = _digest(key, row.id, code)
    session.flush()
    return code


def pending_code(session: Session, sender_id: str, now: datetime) -> VerificationCode | None:
    """The conversation's latest code still waiting to be typed back."""
    return session.scalars(
        select(VerificationCode)
        .where(
            VerificationCode.sender_id == sender_id,
            VerificationCode.used_at.is_(None),
            VerificationCode.expires_at > now,
            VerificationCode.attempts < MAX_ATTEMPTS,
        )
        .order_by(VerificationCode.id.desc())
        .limit(1)
    ).first()


def check_code(session: Session, key: bytes, sender_id: str, code: str, now: datetime) -> Check:
    """Check a typed code; a right one verifies the number for the conversation (once only)."""
    row = session.scalars(
        select(VerificationCode)
        .where(VerificationCode.sender_id == sender_id, VerificationCode.used_at.is_(None))
        .order_by(VerificationCode.id.desc())
        .limit(1)
    ).first()
    if row is None or row.phone is None:
        return Check("none")
    if row.expires_at <= now:
        return Check("expired")
    # Counted in the database, so two racing guesses cannot both get the last try.
    counted = session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == row.id, VerificationCode.attempts < MAX_ATTEMPTS)
        .values(attempts=VerificationCode.attempts + 1)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        return Check("exhausted")
    session.refresh(row)
    left = MAX_ATTEMPTS - row.attempts
    if not hmac.compare_digest(row.code_hash, _digest(key, row.id, code)):
        return Check("wrong" if left > 0 else "exhausted", left=left)
    used = session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == row.id, VerificationCode.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return Check("none")
    identity.verify_phone(session, sender_id, row.phone, "sms_code", now)
    return Check("verified", phone=row.phone)


def hand_to_person(session: Session, phone: str, request: str, source: str, at: datetime) -> bool:
    """No code can be sent: the request goes on the lead of the number's customer (the open one,
    else the latest) for a consultant to confirm by calling that number. Returns whether a lead
    took it."""
    owner = select(Customer.id).where(Customer.phone == phone)
    booked = select(Booking.customer_id).where(Booking.phone == phone)
    open_first = case((Lead.status.in_(CLOSED_STATUSES), 1), else_=0)
    lead = session.scalars(
        select(Lead)
        .where(or_(Lead.customer_id.in_(owner), Lead.customer_id.in_(booked)))
        .order_by(open_first, Lead.id.desc())
        .limit(1)
    ).first()
    if lead is None:
        return False
    log_event(session, lead, at, source, "request", "verification", None, request)
    lead.updated_at = at
    session.flush()
    return True
