"""Writing: booking a test drive, and the write helpers that moving and closing share.

``book`` checks the time, then takes the best free (car, consultant) pair (``_choices``: least
busy consultant, then oldest car) by writing the booking's cells in a savepoint; when a concurrent
booking took a cell first the savepoint is rolled back and the next pair is tried. With a phone
number the booking joins the customer and their open lead (``_join_lead``); ``_hold_limit`` caps the
upcoming bookings per conversation and number. ``_begin_write``, ``_choices``, ``_occupy``,
``_booking`` and ``_event`` are used by ``crm_bridge.bookings.changes`` too.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_bridge import identity
from crm_bridge.bookings.availability import (
    _aware,
    _demo_cars,
    _reason,
    bookings_for,
    free_slots,
)
from crm_bridge.bookings.calendar import _Calendar, _cells, _free, _instant, _taken
from crm_bridge.bookings.errors import BookingNotFound, SlotUnavailable, TooManyBookings
from crm_bridge.conversations import latest_conversation
from crm_bridge.leads import log_event, new_or_known_customer, open_lead
from crm_bridge.models import (
    ACTIVE_BOOKING_STATUSES,
    CHANNELS,
    LANGUAGES,
    Booking,
    BookingCell,
    BookingEvent,
    Customer,
    LeadModel,
)


def _begin_write(session: Session) -> None:
    """On SQLite, start the transaction now and take the write lock.

    The pysqlite driver begins a transaction only before INSERT/UPDATE/DELETE, not before a
    SAVEPOINT: an outermost savepoint would commit when released. Beginning here also means what
    is read next is what the write will see (SQLite has one writer at a time). No-op elsewhere.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if not getattr(raw, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _least_busy(
    session: Session,
    consultants: list[int],
    day: date,
    zone: ZoneInfo,
    exclude_booking_id: int | None,
) -> list[int]:
    """Consultants by fewest active bookings that local day, then in the 7 days from it, then id."""
    if not consultants:
        return []
    day_end = _instant(day + timedelta(days=1), time(0), zone)
    stmt = select(Booking.consultant_id, Booking.start).where(
        Booking.consultant_id.in_(consultants),
        Booking.status.in_(ACTIVE_BOOKING_STATUSES),
        Booking.start >= _instant(day, time(0), zone),
        Booking.start < _instant(day + timedelta(days=7), time(0), zone),
    )
    if exclude_booking_id is not None:
        stmt = stmt.where(Booking.id != exclude_booking_id)
    that_day: Counter[int] = Counter()
    week: Counter[int] = Counter()
    for consultant_id, start in session.execute(stmt):
        week[consultant_id] += 1
        if start < day_end:
            that_day[consultant_id] += 1
    return sorted(consultants, key=lambda c: (that_day[c], week[c], c))


def _choices(
    session: Session,
    calendar: _Calendar,
    cars: list[int],
    start: datetime,
    end: datetime,
    exclude_booking_id: int | None = None,
    keep: tuple[int, int] | None = None,
) -> list[tuple[int, int]]:
    """Free (car, consultant) pairs, best first: least busy consultant, then oldest car.

    ``keep``: a booking's current (car, consultant), preferred when free.
    """
    day = start.astimezone(calendar.zone).date()
    consultants = [w.id for w in calendar.workers]
    taken = _taken(session, cars, consultants, start, end, exclude_booking_id)
    free_cars, free_consultants = _free(calendar, taken, cars, day, start, end)
    ranked = _least_busy(session, free_consultants, day, calendar.zone, exclude_booking_id)
    if keep is not None:
        free_cars.sort(key=lambda car: car != keep[0])
        ranked.sort(key=lambda consultant: consultant != keep[1])
    return [(car, consultant) for consultant in ranked for car in free_cars]


def _occupy(session: Session, booking_id: int, car_id: int, consultant_id: int) -> None:
    """Write the booking's cells: the car's, then the consultant's (one lock order for all)."""
    booking = session.get_one(Booking, booking_id)
    cells = _cells(booking.start, booking.end)
    rows = [
        {"resource": resource, "resource_id": rid, "cell_start": cell, "booking_id": booking_id}
        for resource, rid in (("car", car_id), ("consultant", consultant_id))
        for cell in cells
    ]
    session.execute(insert(BookingCell).values(rows))


def _booking(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id, populate_existing=True)
    if booking is None:
        raise BookingNotFound(booking_id)
    return booking


def _event(
    session: Session,
    booking: Booking,
    now: datetime,
    source: str,
    kind: str,
    old_start: datetime | None,
    new_start: datetime | None,
) -> None:
    session.add(
        BookingEvent(
            booking_id=booking.id,
            at=now,
            source=source,
            kind=kind,
            old_start=old_start,
            new_start=new_start,
        )
    )


def book(
    session: Session,
    *,
    model_code: str,
    start: datetime,
    zone: ZoneInfo,
    now: datetime,
    source: str,
    sender_id: str | None,
    channel: str | None,
    language: str | None,
    customer_name: str | None,
    phone: str | None,
    max_active: int | None = None,
) -> Booking:
    """Book a test drive of the model at ``start`` (a slot start), with a demo car and a consultant.

    The consultant is the least busy one free and working then. With a phone number (E.164) the
    booking joins the customer and their open lead, which becomes "test_drive_booked".
    At most ``max_active`` upcoming bookings per conversation and per number (TooManyBookings).
    Raises UnknownModel, NoDemoCar or SlotUnavailable (with the nearest free slots).
    """
    _aware(start=start, now=now)
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    _begin_write(session)
    if max_active is not None:
        _hold_limit(session, now, sender_id, phone, max_active)
    cars = _demo_cars(session, model_code)
    calendar = _Calendar(session, zone)
    reason = _reason(session, calendar, cars, start, now, None)
    if reason is not None:
        raise SlotUnavailable(reason, free_slots(session, model_code, zone, now, around=start))
    begins = start.astimezone(UTC)
    ends = begins + calendar.slot
    tried: set[tuple[int, int]] = set()
    while True:
        choices = [c for c in _choices(session, calendar, cars, begins, ends) if c not in tried]
        if not choices:
            raise SlotUnavailable("full", free_slots(session, model_code, zone, now, around=start))
        car_id, consultant_id = choices[0]
        try:
            with session.begin_nested():
                booking = Booking(
                    model_code=model_code,
                    demo_car_id=car_id,
                    consultant_id=consultant_id,
                    start=begins,
                    end=ends,
                    status="booked",
                    sender_id=sender_id,
                    channel=channel,
                    language=language,
                    customer_name=customer_name,
                    phone=phone,
                    created_at=now,
                    updated_at=now,
                )
                session.add(booking)
                session.flush()
                _occupy(session, booking.id, car_id, consultant_id)
        except IntegrityError:  # a concurrent booking took the car or the consultant first
            tried.add((car_id, consultant_id))
            continue
        break
    _event(session, booking, now, source, "created", None, begins)
    if phone:
        _join_lead(session, booking, now, source)
    session.flush()
    return booking


def _hold_limit(
    session: Session, now: datetime, sender_id: str | None, phone: str | None, limit: int
) -> None:
    """Refuse a booking beyond ``limit`` active ones. On PostgreSQL a transaction lock per
    conversation and number makes two racing requests count one after the other (SQLite has
    one writer already)."""
    if session.get_bind().dialect.name == "postgresql":
        for key in sorted(k for k in (sender_id, phone) if k):
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"booking:{key}"}
            )
    owner = session.scalar(select(Customer.id).where(Customer.phone == phone)) if phone else None
    held = len(bookings_for(session, now=now, sender_id=sender_id, phone=phone, customer_id=owner))
    if held >= limit:
        raise TooManyBookings(limit)


def _join_lead(session: Session, booking: Booking, now: datetime, source: str) -> None:
    """The booking's customer (by phone) and open lead; the lead is now "test_drive_booked"."""
    assert booking.phone is not None
    customer, made = new_or_known_customer(session, booking.phone, now)
    if booking.sender_id is not None:
        identity.link(session, booking.sender_id, customer, "created" if made else "claimed", now)
    if customer.name is None and booking.customer_name:  # never overwritten from a booking
        customer.name = booking.customer_name
        customer.updated_at = now
    lead, created = open_lead(session, customer, now)
    if created:
        log_event(session, lead, now, source, "created", None, None, "new")
    if lead.status != "test_drive_booked":
        log_event(session, lead, now, source, "status", "status", lead.status, "test_drive_booked")
        lead.status = "test_drive_booked"
    if lead.consultant_id is None:
        log_event(session, lead, now, source, "changed", "consultant_id", None,
                  booking.consultant_id)  # fmt: skip
        lead.consultant_id = booking.consultant_id
    if booking.model_code not in lead.model_interest:
        log_event(session, lead, now, source, "changed", "model_interest",
                  ",".join(lead.model_interest),
                  ",".join([*lead.model_interest, booking.model_code]))  # fmt: skip
        lead.models.append(LeadModel(model_code=booking.model_code, position=len(lead.models)))
    lead.updated_at = now
    booking.lead_id, booking.customer_id = lead.id, customer.id
    if booking.sender_id is not None:
        conversation = latest_conversation(session, booking.sender_id)
        if conversation is not None and conversation.customer_id is None:
            conversation.customer_id, conversation.lead_id = customer.id, lead.id
