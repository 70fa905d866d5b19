"""Export: bookings as the contract's JSON objects (DESIGN.md §3).

``booking_record`` turns one booking into the object with the ``BOOKING_FIELDS`` keys (times in
the dealer's zone, the consultant by name; also used for a data request in
``crm_bridge.customers``); ``booking_records`` gives every booking, by id, for the CLI export.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.models import Booking, Consultant

BOOKING_FIELDS = (
    "id", "lead_id", "model", "start", "end", "status", "consultant", "customer_name", "phone",
)  # fmt: skip


def booking_record(booking: Booking, consultants: dict[int, str], zone: ZoneInfo) -> dict[str, Any]:
    """One booking as the contract's JSON object (DESIGN.md §3)."""
    return {
        "id": booking.id,
        "lead_id": booking.lead_id,
        "model": booking.model_code,
        "start": booking.start.astimezone(zone).isoformat(),
        "end": booking.end.astimezone(zone).isoformat(),
        "status": booking.status,
        "consultant": consultants.get(booking.consultant_id),
        "customer_name": booking.customer_name,
        "phone": booking.phone,
    }


def booking_records(session: Session, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Every booking, by id, as the contract's JSON objects."""
    consultants = {c.id: c.name for c in session.scalars(select(Consultant))}
    return [
        booking_record(b, consultants, zone)
        for b in session.scalars(select(Booking).order_by(Booking.id))
    ]
