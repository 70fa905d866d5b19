"""Prospect follow-up (追踪潜在客户): when each open lead is next due for a contact, by its level.

The cadence is the playbook's (H every day, A every 3 days, B weekly, C every two weeks;
``FOLLOW_UP_DAYS``). Days are counted in the dealer's time zone and a follow-up is due from the
start of its day: a contact on 2 December at 17:50 makes an H lead due on 3 December, so the owner
has that whole day (reminded when the showroom opens), and "overdue by a day" means the due day
passed without a contact.

Who dates a lead:
- ``schedule``, when a consultant records an outcome (``sales.set_status``): that was a contact,
  so the next one is due by the (new) level from now; a won or lost lead has none.
- ``forget``, when the conversation changes a lead's level (``leads.record_lead``): the writers of
  the conversation do not know the configured cadence, so the date is cleared and ``backfill``
  (run by the follow-up job every minute) dates every open lead without one from its last change,
  a new lead from its creation, leads from before this feature included.

Reminders and escalations are claimed with conditional updates (``claim_reminder``,
``claim_escalation``), so two schedulers never send one twice, and a claim is for one due date:
a contact recorded meanwhile moves the date and the stale reminder is not sent. Customers who
opted out or were erased are not followed up (PIPL; ``privacy.may_contact``). Services take a
session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import flag_modified

from crm_bridge.models import CLOSED_STATUSES, Customer, Lead, Staff
from crm_bridge.settings import Settings

# Leads dated, reminded or escalated per call: a big first run is spread over a few ticks.
BATCH = 200


@dataclass(frozen=True)
class Cadence:
    """Days to the next follow-up by level, counted in the dealer's time zone."""

    days: Mapping[str, int]
    zone: ZoneInfo

    @classmethod
    def of(cls, settings: Settings) -> Cadence:
        return cls(dict(settings.follow_up_days), settings.timezone)


def next_due(level: str | None, last_contact: datetime, cadence: Cadence) -> datetime:
    """The start (dealer's midnight, as UTC) of the day the next follow-up is due; a lead without
    a level counts as C."""
    days = cadence.days.get(level or "C", cadence.days["C"])
    day = last_contact.astimezone(cadence.zone).date() + timedelta(days=days)
    return datetime.combine(day, time(0), tzinfo=cadence.zone).astimezone(UTC)


def schedule(session: Session, lead: Lead, now: datetime, cadence: Cadence) -> datetime | None:
    """The lead was contacted at ``now``: its next follow-up by its level (None once won or
    lost). The marks of the previous date go, so the new one is reminded and escalated again."""
    lead.next_follow_up_at = (
        None if lead.status in CLOSED_STATUSES else next_due(lead.level, now, cadence)
    )
    lead.follow_up_reminded_at = lead.follow_up_escalated_at = None
    session.flush()
    return lead.next_follow_up_at


def forget(lead: Lead) -> None:
    """Clear the lead's date and marks: the follow-up job dates it again from its last change,
    with the configured cadence (for writers that do not know it, e.g. the conversation)."""
    lead.next_follow_up_at = lead.follow_up_reminded_at = lead.follow_up_escalated_at = None
    # Written as it is: left out of the UPDATE, its onupdate would stamp the wall clock.
    flag_modified(lead, "updated_at")


def backfill(session: Session, cadence: Cadence) -> int:
    """Date open leads that have no follow-up yet, from their last change (else creation)."""
    rows = session.execute(
        select(Lead.id, Lead.level, Lead.updated_at, Lead.created_at)
        .where(Lead.status.not_in(CLOSED_STATUSES), Lead.next_follow_up_at.is_(None))
        .order_by(Lead.id)
        .limit(BATCH)
    ).all()
    for lead_id, level, updated_at, created_at in rows:
        due = next_due(level, updated_at or created_at, cadence)
        session.execute(
            update(Lead)
            .where(Lead.id == lead_id, Lead.next_follow_up_at.is_(None))
            # Dating a lead is not a change to it: updated_at (its onupdate) stays.
            .values(next_follow_up_at=due, updated_at=Lead.updated_at)
            .execution_options(synchronize_session=False)
        )
    return len(rows)


def _followed() -> Select[Lead]:
    """Open leads of customers who may be contacted."""
    return (
        select(Lead)
        .join(Customer, Customer.id == Lead.customer_id)
        .where(
            Lead.status.not_in(CLOSED_STATUSES),
            Lead.next_follow_up_at.is_not(None),
            Customer.opted_out_at.is_(None),
            Customer.erased_at.is_(None),
        )
    )


def due_reminders(session: Session, now: datetime) -> list[Lead]:
    """Leads whose follow-up is due and whose owner was not reminded of this date yet."""
    return list(
        session.scalars(
            _followed()
            .where(Lead.next_follow_up_at <= now, Lead.follow_up_reminded_at.is_(None))
            .order_by(Lead.next_follow_up_at, Lead.id)
            .limit(BATCH)
        )
    )


def overdue(session: Session, now: datetime, hours: int) -> list[Lead]:
    """Leads overdue by ``hours`` or more, not escalated yet. Only once the owner was reminded
    as long ago: a lead that fell due during a closure reaches the managers a day after its
    owner heard of it, not at the same moment."""
    cutoff = now - timedelta(hours=hours)
    return list(
        session.scalars(
            _followed()
            .where(
                Lead.next_follow_up_at <= cutoff,
                Lead.follow_up_reminded_at <= cutoff,
                Lead.follow_up_escalated_at.is_(None),
            )
            .order_by(Lead.next_follow_up_at, Lead.id)
            .limit(BATCH)
        )
    )


def _mark(
    session: Session,
    lead_id: int,
    column: InstrumentedAttribute[datetime | None],
    *,
    due_at: datetime | None = None,
    was: datetime | None = None,
    to: datetime | None = None,
) -> bool:
    """Set ``column`` from ``was`` to ``to`` on the lead, only while it still has that value
    (and, when given, that due date): the database settles who did it."""
    stmt = update(Lead).where(
        Lead.id == lead_id, column.is_(None) if was is None else column == was
    )
    if due_at is not None:
        stmt = stmt.where(Lead.next_follow_up_at == due_at)
    done = session.execute(
        stmt.values({column: to, Lead.updated_at: Lead.updated_at}).execution_options(
            synchronize_session=False
        )
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def claim_reminder(session: Session, lead_id: int, due_at: datetime, now: datetime) -> bool:
    """Take the reminder of this due date (False: another run has it, or the date moved)."""
    return _mark(session, lead_id, Lead.follow_up_reminded_at, due_at=due_at, to=now)


def release_reminder(session: Session, lead_id: int, claimed_at: datetime) -> None:
    """Give a reminder that could not be delivered back, for the next run."""
    _mark(session, lead_id, Lead.follow_up_reminded_at, was=claimed_at, to=None)


def claim_escalation(session: Session, lead_id: int, due_at: datetime, now: datetime) -> bool:
    """Take the escalation of this due date (False: another run has it, or the date moved)."""
    return _mark(session, lead_id, Lead.follow_up_escalated_at, due_at=due_at, to=now)


def release_escalation(session: Session, lead_id: int, claimed_at: datetime) -> None:
    _mark(session, lead_id, Lead.follow_up_escalated_at, was=claimed_at, to=None)


def owner_of(session: Session, lead: Lead) -> Staff | None:
    """Who follows the lead up: the staff member who owns it, else the one linked to its
    consultant (from a booking); None: nobody (the managers)."""
    if lead.owner_id is not None:
        owner = session.get(Staff, lead.owner_id)
        if owner is not None and owner.active:
            return owner
    if lead.consultant_id is None:
        return None
    return session.scalar(
        select(Staff)
        .where(Staff.consultant_id == lead.consultant_id, Staff.active.is_(True))
        .order_by(Staff.role, Staff.id)  # "consultant" before "manager"
    )


def due_for(session: Session, staff: Staff, until: datetime) -> list[Lead]:
    """Follow-ups due by ``until``: a consultant's own leads (owned, or of their consultant
    record when nobody owns them), every lead for a manager; the oldest date first."""
    stmt = _followed().where(Lead.next_follow_up_at < until)
    if staff.role != "manager":
        mine = Lead.owner_id == staff.id
        if staff.consultant_id is not None:
            mine = mine | ((Lead.owner_id.is_(None)) & (Lead.consultant_id == staff.consultant_id))
        stmt = stmt.where(mine)
    return list(session.scalars(stmt.order_by(Lead.next_follow_up_at, Lead.id).limit(50)))
