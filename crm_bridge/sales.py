"""What consultants record about their leads: outcomes, levels, deliveries; and what they may see.

Consultants see the leads they own and the ones nobody owns yet; managers see all. Every change
is a lead event with who made it ("telegram:<staff id>" or "cli").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_bridge import follow_ups
from crm_bridge.catalog import active_models
from crm_bridge.leads import log_event
from crm_bridge.models import (
    CLOSED_STATUSES,
    LEVELS,
    CatalogModel,
    Consultant,
    Customer,
    Delivery,
    Handoff,
    Lead,
    Staff,
)
from crm_bridge.surveys.config import SurveyConfig
from crm_bridge.surveys.service import schedule_delivery

# What a consultant records with /status; "visited" is noted, the others are lead statuses.
OUTCOMES: Final = ("contacted", "visited", "won", "lost")
# A VIN: 17 characters, no I, O or Q.
VIN: Final = re.compile(r"[A-HJ-NPR-Z0-9]{17}")


class SalesError(ValueError):
    """A change that cannot be made; the message is shown to the staff member."""


def source_of(staff: Staff | None) -> str:
    return f"telegram:{staff.id}" if staff is not None else "cli"


def visible(staff: Staff, lead: Lead) -> bool:
    """Managers see every lead; a consultant theirs and unowned ones."""
    return staff.role == "manager" or lead.owner_id in (None, staff.id)


def lead_for(session: Session, staff: Staff, lead_id: int) -> Lead:
    """The lead, if this staff member may see it (else the same answer as a missing lead)."""
    lead = session.get(Lead, lead_id)
    if lead is None or not visible(staff, lead):
        raise SalesError(f"#{lead_id}")
    return lead


def open_leads_of(session: Session, staff: Staff) -> list[Lead]:
    """The staff member's open leads, hottest first (H, A, B, C), then the most recent."""
    heat = case({level: n for n, level in enumerate(LEVELS)}, value=Lead.level, else_=len(LEVELS))
    return list(
        session.scalars(
            select(Lead)
            .where(Lead.owner_id == staff.id, Lead.status.not_in(CLOSED_STATUSES))
            .order_by(heat, Lead.updated_at.desc(), Lead.id.desc())
        )
    )


def set_status(
    session: Session,
    staff: Staff,
    lead_id: int,
    outcome: str,
    level: str | None,
    now: datetime,
    cadence: follow_ups.Cadence | None = None,
) -> Lead:
    """Record the outcome of a contact (and a new level): the status, and a lead event.

    A contact dates the next follow-up from ``now`` by the (new) level (none once won or lost);
    without ``cadence`` the follow-up job dates it from ``now`` (``follow_ups.forget``).
    """
    if outcome not in OUTCOMES:
        raise SalesError(outcome)
    if level is not None and level not in LEVELS:
        raise SalesError(level)
    lead = lead_for(session, staff, lead_id)
    source = source_of(staff)
    if outcome == "visited":
        log_event(session, lead, now, source, "visited", None, None, "visited")
        new_status = "contacted" if lead.status in ("new", "qualified", "handed_off") else None
    else:
        new_status = outcome
    if new_status is not None and new_status != lead.status:
        log_event(session, lead, now, source, "status", "status", lead.status, new_status)
        lead.status = new_status
    if level is not None and level != lead.level:
        log_event(session, lead, now, source, "changed", "level", lead.level, level)
        lead.level = level
    if lead.owner_id is None and staff.role == "consultant":
        lead.owner_id = staff.id
    lead.updated_at = now
    if cadence is not None:
        follow_ups.schedule(session, lead, now, cadence)
    else:
        follow_ups.forget(lead)
    return lead


def record_delivery(
    session: Session,
    staff: Staff | None,
    *,
    lead_id: int | None,
    model: str,
    vin: str | None,
    now: datetime,
    customer: Customer | None = None,
    surveys: SurveyConfig | None = None,
    delivered_at: datetime | None = None,
    consultant: Consultant | None = None,
    source: str = "telegram",
) -> Delivery:
    """A car handed over: the delivery, the lead won, and (given the survey configuration) its
    revisit surveys scheduled from ``delivered_at`` (default: now)."""
    code = _model_code(session, model)
    if vin is not None:
        vin = vin.strip().upper()
        if not VIN.fullmatch(vin):
            raise SalesError(vin)
    lead = None
    if lead_id is not None:
        lead = lead_for(session, staff, lead_id) if staff else session.get(Lead, lead_id)
        if lead is None:
            raise SalesError(f"#{lead_id}")
        customer = customer or (
            session.get(Customer, lead.customer_id) if lead.customer_id else None
        )
    delivery = Delivery(
        lead_id=lead.id if lead else None,
        customer_id=customer.id if customer else None,
        model_code=code,
        vin=vin,
        delivered_at=delivered_at or now,
        staff_id=staff.id if staff else None,
        consultant_id=consultant.id if consultant else (staff.consultant_id if staff else None),
        source=source,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError as error:  # the VIN is unique
        raise SalesError(f"VIN {vin} was delivered already") from error
    if lead is not None and lead.status != "won":
        log_event(session, lead, now, source_of(staff), "status", "status", lead.status, "won")
        lead.status = "won"
        lead.updated_at = now
    session.flush()
    if surveys is not None:
        schedule_delivery(session, delivery, surveys)
    return delivery


def _model_code(session: Session, model: str) -> str:
    """The catalog code typed ("q5l", "Q4 e-tron"), matched without case or spaces."""
    wanted = re.sub(r"[\s-]", "", model).lower()
    for row in active_models(session):
        if re.sub(r"[\s-]", "", row.code).lower() == wanted:
            return row.code
    if session.scalar(select(CatalogModel.code).where(CatalogModel.code == model)) is not None:
        return model  # a model no longer offered, typed exactly
    raise SalesError(model)


def conversation_of(session: Session, lead: Lead) -> Handoff | None:
    """The lead's latest hand-off (its conversation), if it had one."""
    return session.scalar(
        select(Handoff).where(Handoff.lead_id == lead.id).order_by(Handoff.id.desc())
    )
