"""The calendar: opening hours, holidays, consultants' hours and the 15-minute cells.

``_Calendar`` reads the dealership's booking rules once (the dealer row and the active
consultants) and answers in UTC instants: the days one can book, a day's opening hours and slot
grid (wall times in the dealer's zone, a skipped wall time left out, a repeated one taken the first
time) and who works when. ``_cells``, ``_taken`` and ``_free`` tell which cars and consultants are
free for a time, from the ``booking_cells`` rows that bookings occupy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from crm_bridge.bookings.errors import BookingError
from crm_bridge.catalog import dealer
from crm_bridge.dealer_data import WEEKDAYS
from crm_bridge.models import BookingCell, Consultant
from crm_bridge.models.bookings import CELL_MINUTES

CELL = timedelta(minutes=CELL_MINUTES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
