"""The sales team on Telegram: consultants and managers, by their Telegram user id.

Staff come from ``dealer-assistant staff add`` or the dealership data file (consultants and
managers with a ``telegram_user_id``). Anyone not registered and active is a customer to the bot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.models import Consultant, Staff

ROLES = ("consultant", "manager")


class StaffError(ValueError):
    """A staff change that cannot be made (shown to the operator as is)."""


@dataclass(frozen=True)
class StaffEntry:
    """One person to register: from the CLI or the dealership data file."""

    telegram_user_id: int
    name: str
    role: str


def by_telegram(session: Session, telegram_user_id: int | None) -> Staff | None:
    """The active staff member with this Telegram user id, or None (a customer)."""
    if telegram_user_id is None:
        return None
    return session.scalar(
        select(Staff).where(Staff.telegram_user_id == telegram_user_id, Staff.active.is_(True))
    )


def by_name(session: Session, name: str) -> Staff | None:
    """An active staff member by name (as typed in /reassign), or None."""
    return session.scalar(
        select(Staff).where(Staff.name == name.strip(), Staff.active.is_(True)).order_by(Staff.id)
    )


def add(session: Session, entry: StaffEntry) -> Staff:
    """Register (or update) a staff member; a consultant of the same name in the dealership data
    is linked so their bookings and leads meet."""
    if entry.role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    name = entry.name.strip()
    if not name or len(name) > 100:
        raise StaffError("a name of 1 to 100 characters is needed")
    if entry.telegram_user_id <= 0:
        raise StaffError("a Telegram user id is a positive number")
    consultant = session.scalar(select(Consultant).where(Consultant.name == name))
    row = session.scalar(select(Staff).where(Staff.telegram_user_id == entry.telegram_user_id))
    if row is None:
        row = Staff(telegram_user_id=entry.telegram_user_id, name=name, role=entry.role)
        session.add(row)
    row.name, row.role, row.active = name, entry.role, True
    row.consultant_id = consultant.id if consultant is not None else None
    session.flush()
    return row


def remove(session: Session, telegram_user_id: int) -> Staff:
    """Deactivate a staff member (their past claims stay attributed to them)."""
    row = session.scalar(select(Staff).where(Staff.telegram_user_id == telegram_user_id))
    if row is None or not row.active:
        raise StaffError(f"no active staff member has Telegram id {telegram_user_id}")
    row.active = False
    return row


def listing(session: Session) -> list[Staff]:
    return list(session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)))


def of_role(session: Session, role: str) -> list[Staff]:
    return [s for s in listing(session) if s.role == role]


def sync(session: Session, entries: Iterable[StaffEntry]) -> int:
    """Register the staff named in the dealership data; returns how many."""
    count = 0
    for entry in entries:
        add(session, entry)
        count += 1
    return count


def remember_language(session: Session, staff: Staff, language_code: str | None) -> None:
    """Keep the staff member's Telegram language (zh or en) for their messages."""
    language = "en" if (language_code or "").lower().startswith("en") else "zh"
    if staff.language != language:
        staff.language = language
