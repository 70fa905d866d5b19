"""Reading: models with demo cars, free slots, and why a time is not bookable.

Nothing here writes. ``demo_models`` and ``nearest_demo_models`` say which models can be test
driven (and the nearest alternatives to one that cannot); ``free_slots`` lists bookable slots of a
model (the next ones, a given day's, or those nearest a time); ``check_slot`` says why a time cannot
be booked (one of ``REASONS``). The private helpers here (``_demo_cars``, ``_reason``, ``_aware``)
are shared with the writing side, which checks a time the same way before booking it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from crm_bridge.bookings.calendar import _Calendar, _free, _taken
from crm_bridge.bookings.errors import NoDemoCar, Slot, UnknownModel
from crm_bridge.catalog import active_models
from crm_bridge.models import ACTIVE_BOOKING_STATUSES, Booking, CatalogModel, DemoCar


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
