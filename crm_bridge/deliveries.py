"""Deliveries recorded at the desk or imported from the dealer management system's export:
``dealer-assistant deliveries add`` and ``deliveries import FILE.csv``. Each delivery schedules
its revisit surveys (``crm_bridge.surveys.service.schedule_delivery``).

CSV header: ``phone,name,model,delivered_at,consultant,vin`` (UTF-8, with or without BOM);
``phone`` and ``model`` are required; ``delivered_at`` is ISO 8601 (a date alone or a time
without offset is in the dealer's time zone; empty: now); ``consultant`` is a consultant's name
in the dealer data; ``vin`` 17 characters. A bad row is reported with its line number and
nothing of it is written; the good rows are kept.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.dealer_data import _e164
from crm_bridge.leads import customer_for_phone
from crm_bridge.models import CLOSED_STATUSES, Consultant, Delivery, Lead
from crm_bridge.sales import SalesError, record_delivery
from crm_bridge.surveys.config import SurveyConfig

HEADER: Final = ("phone", "name", "model", "delivered_at", "consultant", "vin")


class DeliveryError(ValueError):
    """A delivery that cannot be recorded, with the reason in words."""


@dataclass(frozen=True)
class NewDelivery:
    phone: str
    model: str
    name: str | None = None
    delivered_at: str | None = None
    consultant: str | None = None
    vin: str | None = None


def parse_time(value: str | None, zone: ZoneInfo, now: datetime) -> datetime:
    """ISO 8601; a date alone is noon, a time without offset the dealer's; never in the future."""
    if not value or not value.strip():
        return now
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise DeliveryError(f"delivered_at {text!r} is not an ISO 8601 date or time") from error
    if len(text) == 10:
        parsed = datetime.combine(parsed.date(), time(12, 0))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    if parsed > now:
        raise DeliveryError(f"delivered_at {text!r} is in the future")
    return parsed


def add(
    session: Session,
    entry: NewDelivery,
    *,
    zone: ZoneInfo,
    now: datetime,
    surveys: SurveyConfig,
    source: str = "cli",
) -> Delivery:
    """Record one delivery: the customer found or created by phone (their name filled in if we
    had none), their open lead won, the revisit surveys scheduled."""
    try:
        phone = _e164(entry.phone.strip())
    except ValueError as error:
        raise DeliveryError(str(error)) from error
    delivered_at = parse_time(entry.delivered_at, zone, now)
    consultant = None
    if entry.consultant and entry.consultant.strip():
        consultant = session.scalars(
            select(Consultant).where(Consultant.name == entry.consultant.strip())
        ).first()
        if consultant is None:
            raise DeliveryError(f"no consultant named {entry.consultant.strip()!r}")
    customer = customer_for_phone(session, phone, now)
    name = (entry.name or "").strip()
    if name and not customer.name:
        customer.name = name[:100]
    lead = session.scalars(
        select(Lead).where(Lead.customer_id == customer.id, Lead.status.not_in(CLOSED_STATUSES))
    ).first()
    try:
        return record_delivery(
            session, None, lead_id=lead.id if lead else None, model=entry.model.strip(),
            vin=(entry.vin or "").strip() or None, now=now, customer=customer, surveys=surveys,
            delivered_at=delivered_at, consultant=consultant, source=source,
        )  # fmt: skip
    except SalesError as error:
        raise DeliveryError(f"unknown model or bad VIN: {error}") from error


@dataclass(frozen=True)
class Imported:
    added: list[int]
    errors: list[tuple[int, str]]  # (line, reason)


def import_csv(
    session: Session, text: str, *, zone: ZoneInfo, now: datetime, surveys: SurveyConfig
) -> Imported:
    """Every good row recorded (each in its own savepoint), every bad one reported by line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [h for h in ("phone", "model") if h not in (reader.fieldnames or [])]
    if missing:
        raise DeliveryError(
            f"the header must be {','.join(HEADER)} (missing: {', '.join(missing)})"
        )
    added: list[int] = []
    errors: list[tuple[int, str]] = []
    for row in reader:
        line = reader.line_num
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue  # a blank line
        entry = NewDelivery(**{k: (row.get(k) or None) for k in HEADER})  # type: ignore[arg-type]
        if not entry.phone or not entry.model:
            errors.append((line, "phone and model are required"))
            continue
        try:
            with session.begin_nested():
                delivery = add(session, entry, zone=zone, now=now, surveys=surveys, source="import")
            added.append(delivery.id)
        except DeliveryError as error:
            errors.append((line, str(error)))
    return Imported(added, errors)
