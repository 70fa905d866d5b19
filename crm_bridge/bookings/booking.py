"""Test-drive bookings: free slots, booking, moving, cancelling and the outcome of a test drive.

Repository functions take a session and never commit. Every time given or returned is
timezone-aware; the dealer's opening hours and the consultants' working hours are local wall times
in the dealer's zone (``zone``), so slots keep their wall times across a daylight-saving change:
slot starts are the opening time plus whole slots, a wall time that does not exist (the hour the
clocks skip) is skipped, and an ambiguous one (the hour they repeat) is taken the first time
(``fold=0``). Durations and comparisons are done in UTC.

No double booking: a booking occupies 15-minute cells of its demo car and of its consultant
(``booking_cells``, one row per cell, unique), written in a savepoint. When a concurrent booking
took a cell first, the insert fails on the database's unique key, the savepoint is rolled back and
the next free car and consultant are tried; when none is left the slot is reported full, with the
nearest free slots as alternatives.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_bridge import identity
from crm_bridge.catalog import active_models, dealer
from crm_bridge.conversations import latest_conversation
from crm_bridge.dealer_data import WEEKDAYS
from crm_bridge.leads import _insert, log_event, new_or_known_customer, open_lead
from crm_bridge.models import (
    ACTIVE_BOOKING_STATUSES,
    CHANNELS,
    LANGUAGES,
    Booking,
    BookingCell,
    BookingEvent,
    CatalogModel,
    Consultant,
    DemoCar,
    Lead,
    LeadModel,
    Survey,
)
from crm_bridge.models.bookings import CELL_MINUTES

REASONS = ("past", "too_soon", "too_far", "closed", "holiday", "off_grid", "full")
OUTCOMES = ("completed", "no_show")
BOOKING_FIELDS = (
    "id", "lead_id", "model", "start", "end", "status", "consultant", "customer_name", "phone",
)  # fmt: skip
SURVEY_DELAY = timedelta(hours=2)  # the post-test-drive survey, after the drive ends
CELL = timedelta(minutes=CELL_MINUTES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Slot:
    """A bookable test-drive time."""

    start: datetime  # aware, in the dealer's zone
    end: datetime


class BookingError(Exception):
    """A booking request the dealership cannot fulfil as asked."""


class UnknownModel(BookingError):
    """Not a model on sale (an active catalog model)."""

    def __init__(self, model: str) -> None:
        super().__init__(f"{model!r} is not a model on sale")
        self.model = model


class NoDemoCar(BookingError):
    """The model has no demo car; ``alternatives`` are the nearest models that do (at most 3)."""

    def __init__(self, model: str, alternatives: list[str]) -> None:
        super().__init__(f"no demo car of {model}")
        self.model = model
        self.alternatives = alternatives


class SlotUnavailable(BookingError):
    """The time cannot be booked: ``reason`` (one of REASONS) and the nearest free slots."""

    def __init__(self, reason: str, alternatives: list[Slot]) -> None:
        super().__init__(f"slot unavailable: {reason}")
        self.reason = reason
        self.alternatives = alternatives


class TooManyBookings(BookingError):
    """The customer or conversation already holds ``limit`` upcoming test drives."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"already {limit} active bookings")
        self.limit = limit


class BookingNotFound(BookingError):
    def __init__(self, booking_id: int) -> None:
        super().__init__(f"no booking with id {booking_id}")
        self.booking_id = booking_id


class BookingClosed(BookingError):
    """The booking cannot be changed: cancelled, completed, no-show, or not started yet."""


# --- the calendar: opening hours, holidays, consultants' hours ---------------------------------


@dataclass(frozen=True)
class _Worker:
    id: int
    days: frozenset[str]
    opens: time
    closes: time


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``at`` on ``day`` in ``zone`` (the first one if repeated)."""
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def _exists(day: date, at: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of the naive wall time ``at``, or None if the clocks skip it that day."""
    instant = at.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != at:
        return None
    return instant


class _Calendar:
    """The dealership's booking rules, read once from the dealer row and the consultants."""

    def __init__(self, session: Session, zone: ZoneInfo) -> None:
        row = dealer(session)
        if row is None:
            raise BookingError("the dealership data is not loaded")
        self.zone = zone
        self.hours = {
            day: (time.fromisoformat(opens), time.fromisoformat(closes))
            for day, (opens, closes) in row.opening_hours.items()
        }
        self.holidays = frozenset(date.fromisoformat(day) for day in row.holidays)
        self.slot = timedelta(minutes=row.test_drive_slot_minutes)
        self.notice = timedelta(minutes=row.test_drive_min_notice_minutes)
        self.horizon_days = row.test_drive_horizon_days
        self.workers = [
            _Worker(c.id, frozenset(c.working_days), c.opens, c.closes)
            for c in session.scalars(
                select(Consultant).where(Consultant.active.is_(True)).order_by(Consultant.id)
            )
        ]

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def days(self, now: datetime) -> list[date]:
        """The local days one can book: today up to the horizon."""
        today = self.today(now)
        return [today + timedelta(days=n) for n in range(self.horizon_days + 1)]

    def open_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing instant (UTC) of ``day``; None on a holiday or a closed weekday."""
        hours = self.hours.get(WEEKDAYS[day.weekday()])
        if day in self.holidays or hours is None:
            return None
        return _instant(day, hours[0], self.zone), _instant(day, hours[1], self.zone)

    def grid(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's slots as UTC (start, end): opening time + k slots, ending by closing time."""
        hours = self.hours.get(WEEKDAYS[day.weekday()])
        if day in self.holidays or hours is None:
            return []
        closes = _instant(day, hours[1], self.zone)
        slots = []
        wall = datetime.combine(day, hours[0])
        while wall.date() == day:
            start = _exists(day, wall, self.zone)
            wall += self.slot
            if start is None:
                continue  # the clocks skip this wall time today
            if start + self.slot > closes:
                break
            slots.append((start, start + self.slot))
        return slots

    def working(self, day: date, start: datetime, end: datetime) -> list[int]:
        """Consultants working on ``day`` for the whole of [start, end)."""
        weekday = WEEKDAYS[day.weekday()]
        return [
            w.id
            for w in self.workers
            if weekday in w.days
            and _instant(day, w.opens, self.zone) <= start
            and end <= _instant(day, w.closes, self.zone)
        ]


def _cells(start: datetime, end: datetime) -> list[datetime]:
    """The 15-minute cells (UTC starts) that [start, end) touches."""
    cell = start.astimezone(UTC)
    cell -= (cell - _EPOCH) % CELL
    cells = []
    while cell < end:
        cells.append(cell)
        cell += CELL
    return cells


Taken = set[tuple[str, int, datetime]]


def _taken(
    session: Session,
    cars: list[int],
    consultants: list[int],
    lo: datetime,
    hi: datetime,
    exclude_booking_id: int | None,
) -> Taken:
    """The cells of these cars and consultants taken between lo and hi."""
    stmt = select(BookingCell.resource, BookingCell.resource_id, BookingCell.cell_start).where(
        BookingCell.cell_start >= lo - CELL,
        BookingCell.cell_start < hi,
        or_(
            and_(BookingCell.resource == "car", BookingCell.resource_id.in_(cars)),
            and_(BookingCell.resource == "consultant", BookingCell.resource_id.in_(consultants)),
        ),
    )
    if exclude_booking_id is not None:
        stmt = stmt.where(BookingCell.booking_id != exclude_booking_id)
    return {(resource, rid, at.astimezone(UTC)) for resource, rid, at in session.execute(stmt)}


def _free(
    calendar: _Calendar,
    taken: Taken,
    cars: list[int],
    day: date,
    start: datetime,
    end: datetime,
) -> tuple[list[int], list[int]]:
    """The cars and the working consultants free for the whole of [start, end)."""
    cells = _cells(start, end)

    def free(resource: str, rid: int) -> bool:
        return all((resource, rid, cell) not in taken for cell in cells)

    return (
        [car for car in cars if free("car", car)],
        [w for w in calendar.working(day, start, end) if free("consultant", w)],
    )


# --- reading: models with demo cars, free slots, why a time is not bookable --------------------


def demo_models(session: Session) -> list[str]:
    """Codes of the models on sale that have at least one active demo car, in catalog order."""
    has_car = exists(
        select(DemoCar.id).where(DemoCar.model_code == CatalogModel.code, DemoCar.active.is_(True))
    )
    stmt = (
        select(CatalogModel.code)
        .where(CatalogModel.active.is_(True), has_car)
        .order_by(CatalogModel.id)
    )
    return list(session.scalars(stmt))


def nearest_demo_models(session: Session, model_code: str, limit: int = 3) -> list[str]:
    """Models with demo cars closest to ``model_code``: same body type first, then nearest price."""
    with_cars = set(demo_models(session))
    candidates = [m for m in active_models(session) if m.code in with_cars and m.code != model_code]
    target = session.scalars(select(CatalogModel).where(CatalogModel.code == model_code)).first()
    if target is not None:
        candidates.sort(
            key=lambda m: (
                m.body_type != target.body_type,
                abs(m.price_min_cny - target.price_min_cny),
            )
        )
    return [m.code for m in candidates[:limit]]


def _model(session: Session, model_code: str) -> CatalogModel:
    model = session.scalars(
        select(CatalogModel).where(CatalogModel.code == model_code, CatalogModel.active.is_(True))
    ).first()
    if model is None:
        raise UnknownModel(model_code)
    return model


def _cars(session: Session, model_code: str) -> list[int]:
    """Active demo cars of the model, oldest first."""
    stmt = (
        select(DemoCar.id)
        .where(DemoCar.model_code == model_code, DemoCar.active.is_(True))
        .order_by(DemoCar.id)
    )
    return list(session.scalars(stmt))


def _demo_cars(session: Session, model_code: str) -> list[int]:
    """The model's demo cars; UnknownModel or NoDemoCar if there are none to book."""
    _model(session, model_code)
    cars = _cars(session, model_code)
    if not cars:
        raise NoDemoCar(model_code, nearest_demo_models(session, model_code))
    return cars


def _aware(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} is a naive datetime: pass a timezone-aware value")


def free_slots(
    session: Session,
    model_code: str,
    zone: ZoneInfo,
    now: datetime,
    *,
    around: datetime | None = None,
    day: date | None = None,
    limit: int = 5,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """Bookable slots for the model, sorted by start.

    On the grid, not on a holiday or a closed day, at least the minimum notice after ``now``,
    within the horizon, with a free active demo car and a free consultant working then.
    ``day``: that local day only; ``around``: the ``limit`` slots nearest to it; neither: the next
    ``limit`` slots. ``exclude_booking_id``: that booking's time counts as free (to move it).
    A model without demo cars (or not on sale) has none.
    """
    _aware(now=now, around=around)
    cars = _cars(session, model_code)
    if (
        limit <= 0
        or not cars
        or not session.scalar(select(CatalogModel.active).where(CatalogModel.code == model_code))
    ):
        return []
    calendar = _Calendar(session, zone)
    days = calendar.days(now)
    if day is not None:
        days = [day] if day in days else []
    earliest = now.astimezone(UTC) + calendar.notice
    grid = [(d, start, end) for d in days for start, end in calendar.grid(d) if start >= earliest]
    if not grid:
        return []
    taken = _taken(
        session,
        cars,
        [w.id for w in calendar.workers],
        grid[0][1],
        grid[-1][2],
        exclude_booking_id,
    )
    slots = [
        (start, end) for d, start, end in grid if all(_free(calendar, taken, cars, d, start, end))
    ]
    if around is None:
        chosen = slots[:limit]
    else:
        target = around.astimezone(UTC)
        chosen = sorted(slots, key=lambda s: (abs(s[0] - target), target - s[0]))[:limit]
        chosen.sort()
    return [Slot(start.astimezone(zone), end.astimezone(zone)) for start, end in chosen]


def _reason(
    session: Session,
    calendar: _Calendar,
    cars: list[int],
    start: datetime,
    now: datetime,
    exclude_booking_id: int | None,
) -> str | None:
    start = start.astimezone(UTC)
    if start < now:
        return "past"
    if start < now + calendar.notice:
        return "too_soon"
    day = start.astimezone(calendar.zone).date()
    if day > calendar.days(now)[-1]:
        return "too_far"
    if day in calendar.holidays:
        return "holiday"
    hours = calendar.open_hours(day)
    if hours is None or start < hours[0] or start + calendar.slot > hours[1]:
        return "closed"
    end = next((e for s, e in calendar.grid(day) if s == start), None)
    if end is None:
        return "off_grid"
    consultants = [w.id for w in calendar.workers]
    taken = _taken(session, cars, consultants, start, end, exclude_booking_id)
    free_cars, free_consultants = _free(calendar, taken, cars, day, start, end)
    return None if free_cars and free_consultants else "full"


def check_slot(
    session: Session,
    model_code: str,
    start: datetime,
    zone: ZoneInfo,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> str | None:
    """None if the model can be booked at ``start``, else why not (one of REASONS).

    Raises UnknownModel or NoDemoCar for a model that cannot be test driven at all.
    """
    _aware(start=start, now=now)
    cars = _demo_cars(session, model_code)
    return _reason(session, _Calendar(session, zone), cars, start, now, exclude_booking_id)


# --- writing: book, move, cancel, outcome -------------------------------------------------------


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
    held = identity.active_bookings(session, now=now, sender_id=sender_id, phone=phone)
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


def bookings_for(
    session: Session,
    *,
    now: datetime,
    sender_id: str | None = None,
    phone: str | None = None,
    customer_id: int | None = None,
    active_only: bool = True,
    upcoming_only: bool = True,
) -> list[Booking]:
    """Bookings matching any of the keys given, by start; upcoming: starting at ``now`` or later."""
    _aware(now=now)
    keys = []
    if sender_id is not None:
        keys.append(Booking.sender_id == sender_id)
    if phone is not None:
        keys.append(Booking.phone == phone)
    if customer_id is not None:
        keys.append(Booking.customer_id == customer_id)
    if not keys:
        return []
    stmt = select(Booking).where(or_(*keys)).order_by(Booking.start, Booking.id)
    if active_only:
        stmt = stmt.where(Booking.status.in_(ACTIVE_BOOKING_STATUSES))
    if upcoming_only:
        stmt = stmt.where(Booking.start >= now)
    return list(session.scalars(stmt))


def reschedule(
    session: Session,
    booking_id: int,
    new_start: datetime,
    *,
    zone: ZoneInfo,
    now: datetime,
    source: str,
) -> Booking:
    """Move an active booking to ``new_start``, keeping its car and consultant when they are free.

    Raises BookingNotFound, BookingClosed or SlotUnavailable (with the nearest free slots).
    """
    _aware(new_start=new_start, now=now)
    _begin_write(session)
    booking = _booking(session, booking_id)
    if not booking.active:
        raise BookingClosed(f"booking {booking_id} is {booking.status}")
    model_code = booking.model_code

    def unavailable(reason: str) -> SlotUnavailable:
        alternatives = free_slots(
            session, model_code, zone, now, around=new_start, exclude_booking_id=booking_id
        )
        return SlotUnavailable(reason, alternatives)

    cars = _cars(session, model_code)
    if not cars:
        raise unavailable("full")
    calendar = _Calendar(session, zone)
    reason = _reason(session, calendar, cars, new_start, now, booking_id)
    if reason is not None:
        raise unavailable(reason)
    old_start = booking.start
    begins = new_start.astimezone(UTC)
    ends = begins + calendar.slot
    tried: set[tuple[int, int]] = set()
    while True:
        keep = (booking.demo_car_id, booking.consultant_id)
        choices = [
            c
            for c in _choices(session, calendar, cars, begins, ends, booking_id, keep)
            if c not in tried
        ]
        if not choices:
            raise unavailable("full")
        car_id, consultant_id = choices[0]
        try:
            with session.begin_nested():
                session.execute(delete(BookingCell).where(BookingCell.booking_id == booking_id))
                booking.start, booking.end = begins, ends
                booking.demo_car_id, booking.consultant_id = car_id, consultant_id
                booking.status = "rescheduled"
                booking.updated_at = now
                session.flush()
                _occupy(session, booking_id, car_id, consultant_id)
        except IntegrityError:  # a concurrent booking took the car or the consultant first
            tried.add((car_id, consultant_id))
            continue
        break
    session.expire(booking, ["demo_car", "consultant"])
    _event(session, booking, now, source, "rescheduled", old_start, begins)
    session.flush()
    return booking


def _close(session: Session, booking: Booking, status: str, now: datetime, source: str) -> None:
    session.execute(delete(BookingCell).where(BookingCell.booking_id == booking.id))
    booking.status = status
    booking.updated_at = now
    _event(session, booking, now, source, status, booking.start, None)


def cancel(session: Session, booking_id: int, *, now: datetime, source: str) -> Booking:
    """Cancel an active booking: its car and consultant are free again.

    A lead left with no active booking goes back from "test_drive_booked" to "qualified".
    """
    _aware(now=now)
    _begin_write(session)
    booking = _booking(session, booking_id)
    if not booking.active:
        raise BookingClosed(f"booking {booking_id} is {booking.status}")
    _close(session, booking, "cancelled", now, source)
    lead = session.get(Lead, booking.lead_id) if booking.lead_id is not None else None
    if lead is not None and lead.status == "test_drive_booked":
        others = session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.lead_id == lead.id,
                Booking.id != booking.id,
                Booking.status.in_(ACTIVE_BOOKING_STATUSES),
            )
        )
        if not others:
            log_event(session, lead, now, source, "status", "status", lead.status, "qualified")
            lead.status = "qualified"
            lead.updated_at = now
    session.flush()
    return booking


def mark_outcome(
    session: Session, booking_id: int, outcome: str, *, now: datetime, source: str
) -> Booking:
    """Record that the test drive took place ("completed") or the customer did not come.

    Only once the booking has started. A completed test drive gets a post-test-drive survey two
    hours after it ends (or from now, if later); marking the same outcome again changes nothing.
    """
    _aware(now=now)
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    _begin_write(session)
    booking = _booking(session, booking_id)
    if booking.status != outcome:
        if not booking.active:
            raise BookingClosed(f"booking {booking_id} is {booking.status}")
        if now < booking.start:
            raise BookingClosed(f"booking {booking_id} has not started yet")
        _close(session, booking, outcome, now, source)
    if outcome == "completed":
        _schedule_survey(session, booking, now)
    session.flush()
    return booking


def _schedule_survey(session: Session, booking: Booking, now: datetime) -> None:
    """The booking's post-test-drive survey, written once whoever asks (ON CONFLICT)."""
    stmt = (
        _insert(session, Survey)
        .values(
            kind="post_test_drive",
            customer_id=booking.customer_id,
            booking_id=booking.id,
            lead_id=booking.lead_id,
            sender_id=booking.sender_id,
            channel=booking.channel,
            language=booking.language,
            scheduled_for=max(booking.end + SURVEY_DELAY, now + SURVEY_DELAY),
            answers={},
            complaint=False,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["booking_id", "kind"])
    )
    session.execute(stmt)


# --- export -------------------------------------------------------------------------------------


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
