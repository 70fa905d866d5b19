"""Changing bookings: finding them, moving, cancelling and recording the outcome.

``bookings_for`` finds a customer's or a conversation's bookings; ``reschedule`` moves an active
booking (keeping its car and consultant when they are free, with the same savepoint-and-retry as
``book``); ``cancel`` frees its car and consultant and puts a lead with no other active booking
back to "qualified"; ``mark_outcome`` records "completed" or "no_show" once the drive has started,
and a completed drive gets its post-test-drive survey (``_schedule_survey``, ``SURVEY_DELAY``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_bridge.bookings.availability import _aware, _cars, _reason, free_slots
from crm_bridge.bookings.booking import _begin_write, _booking, _choices, _event, _occupy
from crm_bridge.bookings.calendar import _Calendar
from crm_bridge.bookings.errors import BookingClosed, SlotUnavailable
from crm_bridge.leads import _insert, log_event
from crm_bridge.models import ACTIVE_BOOKING_STATUSES, Booking, BookingCell, Lead, Survey

OUTCOMES = ("completed", "no_show")
# The post-test-drive survey, after the drive ends (callers pass the survey configuration's).
SURVEY_DELAY = timedelta(hours=3)


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
    session: Session,
    booking_id: int,
    outcome: str,
    *,
    now: datetime,
    source: str,
    survey_after: timedelta = SURVEY_DELAY,
) -> Booking:
    """Record that the test drive took place ("completed") or the customer did not come.

    Only once the booking has started. A completed test drive gets a post-test-drive survey
    ``survey_after`` its end (or from now, if later); marking the same outcome again changes
    nothing.
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
        _schedule_survey(session, booking, now, survey_after)
    session.flush()
    return booking


def _schedule_survey(session: Session, booking: Booking, now: datetime, after: timedelta) -> None:
    """The booking's post-test-drive survey, written once whoever asks (ON CONFLICT)."""
    stmt = (
        _insert(session, Survey)
        .values(
            kind="post_test_drive",
            stage="td",
            customer_id=booking.customer_id,
            booking_id=booking.id,
            lead_id=booking.lead_id,
            sender_id=booking.sender_id,
            channel=booking.channel,
            language=booking.language,
            scheduled_for=max(booking.end + after, now + after),
            answers={},
            complaint=False,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["booking_id", "kind"])
    )
    session.execute(stmt)
