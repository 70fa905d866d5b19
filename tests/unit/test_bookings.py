"""Test-drive bookings on SQLite and PostgreSQL: slots, daylight saving, no double booking."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_bridge import bookings
from crm_bridge.bookings import BOOKING_FIELDS, Slot
from crm_bridge.bookings import booking as booking_module  # where book looks up _choices
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import DEMO_FILE, DealerData, load_dealer_data
from crm_bridge.models import (
    Booking,
    BookingCell,
    BookingEvent,
    Consultant,
    Customer,
    DemoCar,
    Lead,
    LeadEvent,
    Survey,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)  # Sunday evening
MON, TUE, WED, FRI, SUN = (date(2026, 11, d) for d in (23, 24, 25, 27, 29))
PHONE = "+8613800138000"


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI, fold: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).replace(fold=fold)


def walls(slots: list[Slot]) -> list[str]:
    return [s.start.strftime("%H:%M") for s in slots]


def data(change: Callable[[dict[str, Any]], None] | None = None) -> DealerData:
    """The demo dealership, changed by ``change`` (on the raw file) and validated."""
    raw = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    if change is not None:
        change(raw)
    return DealerData.model_validate(raw)


def load(sessions: SessionFactory, dealer_data: DealerData) -> SessionFactory:
    with transaction(sessions) as session:
        load_dealer_data_into(session, dealer_data)
    return sessions


@pytest.fixture
def db(sessions: SessionFactory) -> SessionFactory:
    return load(sessions, load_dealer_data())


def book(
    db: SessionFactory,
    model: str,
    start: datetime,
    *,
    now: datetime = NOW,
    zone: ZoneInfo = SHANGHAI,
    phone: str | None = None,
    sender_id: str | None = "s1",
    name: str | None = None,
) -> int:
    with transaction(db) as session:
        booking = bookings.book(
            session, model_code=model, start=start, zone=zone, now=now, source="conversation:rest",
            sender_id=sender_id, channel="rest", language="zh", customer_name=name, phone=phone,
        )  # fmt: skip
        return booking.id


def unavailable(db: SessionFactory, model: str, start: datetime, **kwargs: Any) -> Any:
    with pytest.raises(bookings.SlotUnavailable) as caught:
        book(db, model, start, **kwargs)
    return caught.value


def consultant_of(db: SessionFactory, booking_id: int) -> str:
    with db() as session:
        return session.get_one(Booking, booking_id).consultant.name


def cells(db: SessionFactory, booking_id: int | None = None) -> list[tuple[str, int, datetime]]:
    with db() as session:
        stmt = select(BookingCell.resource, BookingCell.resource_id, BookingCell.cell_start)
        if booking_id is not None:
            stmt = stmt.where(BookingCell.booking_id == booking_id)
        return sorted(tuple(row) for row in session.execute(stmt))  # type: ignore[misc]


# --- demo cars ------------------------------------------------------------------------------


def test_each_model_gets_its_demo_cars_and_reloads_keep_booked_ones(db: SessionFactory) -> None:
    with db() as session:
        active = session.execute(
            select(DemoCar.model_code, func.count())
            .where(DemoCar.active.is_(True))
            .group_by(DemoCar.model_code)
        ).all()
        assert dict(active) == {m.code: m.demo_cars for m in load_dealer_data().catalog
                                if m.demo_cars}  # fmt: skip
        assert bookings.demo_models(session)[:3] == ["A3", "A4L", "A6L"]
        assert "Q8" not in bookings.demo_models(session)
    book(db, "Q5L", at(MON, 10))
    second = book(db, "Q5L", at(MON, 10))  # the second Q5L demo car

    def fewer(raw: dict[str, Any]) -> None:
        for model in raw["catalog"]:
            if model["code"] == "Q5L":
                model["demo_cars"] = 1
            if model["code"] == "A3":
                model["demo_cars"] = 3

    load(db, data(fewer))
    with db() as session:
        fleet = {c.label: c.active for c in session.scalars(select(DemoCar).order_by(DemoCar.id))}
        assert (fleet["Q5L #1"], fleet["Q5L #2"]) == (True, False)
        assert (fleet["A3 #1"], fleet["A3 #2"], fleet["A3 #3"]) == (True, True, True)
        assert session.get_one(Booking, second).demo_car.label == "Q5L #2"  # kept, not deleted
    load(db, load_dealer_data())
    with db() as session:
        fleet = {c.label: c.active for c in session.scalars(select(DemoCar))}
        assert (fleet["Q5L #2"], fleet["A3 #2"], fleet["A3 #3"]) == (True, False, False)
        assert session.scalar(select(func.count()).select_from(DemoCar)) == len(fleet) == 15 + 2


# --- the slot grid --------------------------------------------------------------------------


def test_slots_follow_the_grid_and_each_weekdays_hours(db: SessionFactory) -> None:
    with db() as session:
        next_five = bookings.free_slots(session, "A3", SHANGHAI, NOW)
        monday = bookings.free_slots(session, "A3", SHANGHAI, NOW, day=MON, limit=50)
        sunday = bookings.free_slots(session, "A3", SHANGHAI, NOW, day=SUN, limit=50)
    assert next_five[0] == Slot(at(MON, 9), at(MON, 10))
    assert next_five[0].start.isoformat() == "2026-11-23T09:00:00+08:00"
    assert walls(next_five) == ["09:00", "10:00", "11:00", "12:00", "13:00"]
    assert walls(monday) == [f"{h:02d}:00" for h in range(9, 18)]  # 09:00-18:00: last at 17:00
    assert walls(sunday) == [f"{h:02d}:30" for h in range(9, 17)]  # 09:30-18:00
    assert all(s.end - s.start == timedelta(hours=1) for s in monday)


def test_half_hour_slots_end_by_closing_and_by_the_consultants_closing(
    sessions: SessionFactory,
) -> None:
    def half_hours(raw: dict[str, Any]) -> None:
        raw["dealer"]["test_drive_slot_minutes"] = 30
        raw["dealer"]["opening_hours"]["fri"] = ["09:00", "19:00"]

    db = load(sessions, data(half_hours))
    with db() as session:
        monday = bookings.free_slots(session, "A3", SHANGHAI, NOW, day=MON, limit=50)
        friday = bookings.free_slots(session, "A3", SHANGHAI, NOW, day=FRI, limit=50)
        # Friday the showroom closes at 19:00, but the last consultant (李娜) leaves at 18:30.
        assert bookings.check_slot(session, "A3", at(FRI, 18), SHANGHAI, NOW) is None
        assert bookings.check_slot(session, "A3", at(FRI, 18, 30), SHANGHAI, NOW) == "full"
        assert bookings.check_slot(session, "A3", at(FRI, 19), SHANGHAI, NOW) == "closed"
    assert walls(monday)[0] == "09:00"
    assert walls(monday)[-1] == "17:30"
    assert len(monday) == 18
    assert walls(friday)[-1] == "18:00"


def test_minimum_notice_and_horizon(db: SessionFactory) -> None:
    early = at(MON, 8, 30)
    with db() as session:
        assert walls(bookings.free_slots(session, "A3", SHANGHAI, early, limit=2)) == [
            "10:00", "11:00",
        ]  # fmt: skip
        check = bookings.check_slot
        assert check(session, "A3", at(MON, 8), SHANGHAI, early) == "past"
        assert check(session, "A3", at(MON, 9), SHANGHAI, early) == "too_soon"
        assert check(session, "A3", at(MON, 10), SHANGHAI, early) is None
        last = MON + timedelta(days=30)
        assert check(session, "A3", at(last, 10), SHANGHAI, early) is None
        assert check(session, "A3", at(last + timedelta(days=1), 10), SHANGHAI, early) == "too_far"
        assert bookings.free_slots(session, "A3", SHANGHAI, early, day=last)
        assert bookings.free_slots(session, "A3", SHANGHAI, early, day=last + timedelta(1)) == []


def test_holidays_closed_days_and_times_off_the_grid(sessions: SessionFactory) -> None:
    def closed_wednesday_and_sundays(raw: dict[str, Any]) -> None:
        raw["dealer"]["holidays"] = ["2026-11-25"]
        del raw["dealer"]["opening_hours"]["sun"]

    db = load(sessions, data(closed_wednesday_and_sundays))
    with db() as session:
        assert bookings.free_slots(session, "A3", SHANGHAI, NOW, day=WED) == []
        assert bookings.free_slots(session, "A3", SHANGHAI, NOW, day=SUN) == []
        reasons = {
            when: bookings.check_slot(session, "A3", when, SHANGHAI, NOW)
            for when in (at(WED, 10), at(SUN, 10), at(MON, 7), at(MON, 18), at(MON, 17, 30),
                         at(MON, 10, 30), at(MON, 10).astimezone(UTC), at(MON, 17))
        }  # fmt: skip
    assert list(reasons.values()) == [
        "holiday", "closed", "closed", "closed", "closed", "off_grid", None, None,
    ]  # fmt: skip


# --- daylight saving (a dealer in New York) -----------------------------------------------


def new_york(raw: dict[str, Any]) -> None:
    raw["dealer"]["timezone"] = "America/New_York"
    raw["dealer"]["holidays"] = []
    hours = raw["dealer"]["opening_hours"]
    for day in hours:
        hours[day] = ["09:00", "18:00"]
    hours["sun"] = ["00:00", "12:00"]  # open through the night the clocks change
    for consultant in raw["consultants"]:
        consultant["working_hours"] = ["00:00", "23:45"]
        consultant["working_days"] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def test_spring_forward_skips_the_missing_hour(sessions: SessionFactory) -> None:
    db = load(sessions, data(new_york))
    now = datetime(2026, 3, 5, 12, 0, tzinfo=NEW_YORK)
    change = date(2026, 3, 8)
    with db() as session:
        slots = bookings.free_slots(session, "A3", NEW_YORK, now, day=change, limit=50)
        friday = bookings.free_slots(session, "A3", NEW_YORK, now, day=date(2026, 3, 6))
        monday = bookings.free_slots(session, "A3", NEW_YORK, now, day=date(2026, 3, 9))
        # 02:30 does not exist that night; Python reads it as 03:30 EDT, which is off the grid.
        assert bookings.check_slot(session, "A3", at(change, 2, 30, NEW_YORK), NEW_YORK, now) == (
            "off_grid"
        )
    assert walls(slots) == ["00:00", "01:00"] + [f"{h:02d}:00" for h in range(3, 12)]
    assert [s.start.utcoffset() for s in slots[:3]] == [
        timedelta(hours=-5), timedelta(hours=-5), timedelta(hours=-4),
    ]  # fmt: skip
    # 01:00 EST lasts one real hour and ends at 03:00 EDT, where the next slot starts.
    assert slots[1].end == slots[2].start
    assert slots[1].end.astimezone(NEW_YORK).strftime("%H:%M%z") == "03:00-0400"
    # Same wall time, different UTC time on either side of the change.
    assert friday[0].start.isoformat() == "2026-03-06T09:00:00-05:00"
    assert monday[0].start.isoformat() == "2026-03-09T09:00:00-04:00"
    assert friday[0].start.astimezone(UTC).hour == 14
    assert monday[0].start.astimezone(UTC).hour == 13
    booked = book(db, "A3", slots[2].start, now=now, zone=NEW_YORK)
    with db() as session:
        [record] = bookings.booking_records(session, NEW_YORK)
        assert record["id"] == booked
        assert (record["start"], record["end"]) == (
            "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00",
        )  # fmt: skip


def test_fall_back_offers_the_repeated_hour_once(sessions: SessionFactory) -> None:
    db = load(sessions, data(new_york))
    now = datetime(2026, 10, 29, 12, 0, tzinfo=NEW_YORK)
    change = date(2026, 11, 1)
    with db() as session:
        slots = bookings.free_slots(session, "A3", NEW_YORK, now, day=change, limit=50)
        friday = bookings.free_slots(session, "A3", NEW_YORK, now, day=date(2026, 10, 30))
        monday = bookings.free_slots(session, "A3", NEW_YORK, now, day=date(2026, 11, 2))
        second_one = at(change, 1, 0, NEW_YORK, fold=1)  # 01:00 EST, the hour repeated
        assert bookings.check_slot(session, "A3", second_one, NEW_YORK, now) == "off_grid"
    assert walls(slots) == [f"{h:02d}:00" for h in range(12)]
    assert [s.start.isoformat() for s in slots[:3]] == [
        "2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00",
    ]  # fmt: skip
    assert slots[1].end.isoformat() == "2026-11-01T01:00:00-05:00"  # one real hour
    assert friday[0].start.isoformat() == "2026-10-30T09:00:00-04:00"
    assert monday[0].start.isoformat() == "2026-11-02T09:00:00-05:00"
    # The single A3 demo car can do 01:00 EDT and 02:00 EST back to back: no overlap.
    first = book(db, "A3", slots[1].start, now=now, zone=NEW_YORK)
    second = book(db, "A3", slots[2].start, now=now, zone=NEW_YORK)
    assert cells(db, first)[-1][2] < cells(db, second)[0][2]
    assert len(cells(db, first)) == len(cells(db, second)) == 8


# --- models, unavailable slots, alternatives ------------------------------------------------


def test_models_without_demo_cars_suggest_the_nearest_ones(db: SessionFactory) -> None:
    with pytest.raises(bookings.NoDemoCar) as q8:
        book(db, "Q8", at(MON, 10))
    assert (q8.value.model, q8.value.alternatives) == ("Q8", ["Q7", "Q6", "Q5L"])
    with pytest.raises(bookings.NoDemoCar) as gt:
        book(db, "e-tron GT", at(MON, 10))
    assert gt.value.alternatives == ["A8L", "Q7", "Q6"]  # no other coupe: by price
    with pytest.raises(bookings.UnknownModel):
        book(db, "X9", at(MON, 10))
    with db() as session:
        assert bookings.nearest_demo_models(session, "Q8", limit=1) == ["Q7"]
        assert bookings.free_slots(session, "Q8", SHANGHAI, NOW) == []
        with pytest.raises(bookings.NoDemoCar):
            bookings.check_slot(session, "Q8", at(MON, 10), SHANGHAI, NOW)


def test_unavailable_times_come_with_the_nearest_free_slots(db: SessionFactory) -> None:
    past = unavailable(db, "A3", at(MON, 10) - timedelta(days=2))
    assert past.reason == "past"
    assert walls(past.alternatives) == ["09:00", "10:00", "11:00", "12:00", "13:00"]
    closed = unavailable(db, "A3", at(MON, 19))
    assert closed.reason == "closed"
    assert [s.start for s in closed.alternatives] == [at(MON, h) for h in range(13, 18)]
    book(db, "A3", at(MON, 10))
    full = unavailable(db, "A3", at(MON, 10))
    assert full.reason == "full"
    assert walls(full.alternatives) == ["09:00", "11:00", "12:00", "13:00", "14:00"]
    assert all(s.start.tzinfo == SHANGHAI for s in full.alternatives)
    with db() as session:
        assert at(MON, 10) not in [s.start for s in bookings.free_slots(
            session, "A3", SHANGHAI, NOW, day=MON)]  # fmt: skip
        [mine] = bookings.bookings_for(session, now=NOW, sender_id="s1")
        freed = bookings.free_slots(
            session, "A3", SHANGHAI, NOW, day=MON, exclude_booking_id=mine.id
        )
        assert at(MON, 10) in [s.start for s in freed]


def test_the_least_busy_consultant_gets_the_test_drive(db: SessionFactory) -> None:
    # Monday: 王磊, 张伟 and 陈静 work (李娜 is off); Tuesday: 王磊, 李娜 and 陈静.
    assert consultant_of(db, book(db, "A4L", at(TUE, 10))) == "王磊"  # all free: lowest id
    # Monday nobody has a test drive yet; over the week 王磊 has one.
    assert consultant_of(db, book(db, "A4L", at(MON, 10))) == "张伟"
    assert consultant_of(db, book(db, "A6L", at(MON, 10))) == "陈静"  # 张伟 is busy at 10:00
    assert consultant_of(db, book(db, "A6L", at(MON, 11))) == "王磊"  # the only one free that day
    assert consultant_of(db, book(db, "Q5L", at(MON, 10))) == "王磊"  # his 11:00 does not overlap
    # A second Q5L demo car is free at 10:00, but no consultant is.
    assert unavailable(db, "Q5L", at(MON, 10)).reason == "full"


def test_a_car_or_consultant_is_never_double_booked(db: SessionFactory) -> None:
    first = book(db, "A3", at(MON, 10))
    assert unavailable(db, "A3", at(MON, 10)).reason == "full"
    book(db, "A3", at(MON, 11))  # back to back is fine
    taken = cells(db, first)
    assert len(taken) == 8  # one hour = four cells, for the car and for the consultant
    assert [c[2] for c in taken if c[0] == "car"] == [
        at(MON, 10, m).astimezone(UTC) for m in (0, 15, 30, 45)
    ]
    # The database itself refuses a second claim on a cell, whoever writes it.
    resource, resource_id, cell_start = taken[0]
    other = book(db, "Q5L", at(MON, 14))

    def claim_again() -> None:
        with transaction(db) as session:
            session.add(BookingCell(resource=resource, resource_id=resource_id,
                                    cell_start=cell_start, booking_id=other))  # fmt: skip

    with pytest.raises(IntegrityError):
        claim_again()


def test_a_lost_race_rolls_back_to_the_savepoint_and_tries_the_next_pair(
    db: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another booking took the first choice after it was read: the next pair is tried."""
    first = book(db, "Q5L", at(MON, 10))
    with db() as session:
        taken = session.get_one(Booking, first)
        stale = (taken.demo_car_id, taken.consultant_id)
    real = booking_module._choices
    calls: list[int] = []

    def stale_once(*args: Any, **kwargs: Any) -> list[tuple[int, int]]:
        calls.append(1)
        return [stale, *real(*args, **kwargs)] if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(booking_module, "_choices", stale_once)
    second = book(db, "Q5L", at(MON, 10), phone=PHONE)
    assert len(calls) == 2
    with db() as session:
        booking = session.get_one(Booking, second)
        assert booking.demo_car_id != stale[0]
        assert booking.consultant_id != stale[1]
        assert booking.lead_id is not None
    assert len(cells(db)) == 16
    # The retry finds nothing left: "full", and nothing half-written stays although the caller
    # goes on and commits its transaction.
    monkeypatch.setattr(booking_module, "_choices", lambda *args, **kwargs: [stale])
    with transaction(db) as session:
        with pytest.raises(bookings.SlotUnavailable) as full:
            bookings.book(
                session, model_code="A3", start=at(MON, 10), zone=SHANGHAI, now=NOW, source="t",
                sender_id="s9", channel=None, language=None, customer_name=None, phone=PHONE,
            )  # fmt: skip
        assert full.value.reason == "full"
        assert full.value.alternatives
        session.add(Customer(phone="+8613900000001"))
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 2
        assert session.scalar(select(func.count()).select_from(Customer)) == 2
    assert len(cells(db)) == 16


def test_a_booking_is_undone_with_the_callers_transaction(db: SessionFactory) -> None:

    def book_then_fail() -> None:
        with transaction(db) as session:
            bookings.book(
                session, model_code="A3", start=at(MON, 10), zone=SHANGHAI, now=NOW, source="t",
                sender_id="s1", channel=None, language=None, customer_name=None, phone=None,
            )  # fmt: skip
            raise RuntimeError("the conversation failed afterwards")

    with pytest.raises(RuntimeError):
        book_then_fail()
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 0
        assert session.scalar(select(func.count()).select_from(BookingCell)) == 0


# --- the customer, the lead and the booking's life ------------------------------------------


def test_booking_joins_the_customer_and_their_lead(db: SessionFactory) -> None:
    booked = book(db, "Q5L", at(MON, 10), phone=PHONE, name="张伟")
    with db() as session:
        booking = session.get_one(Booking, booked)
        customer = session.scalars(select(Customer)).one()
        lead = session.scalars(select(Lead)).one()
        assert (customer.phone, customer.name) == (PHONE, "张伟")
        assert (booking.customer_id, booking.lead_id) == (customer.id, lead.id)
        assert (lead.status, lead.model_interest) == ("test_drive_booked", ["Q5L"])
        assert lead.consultant_id == booking.consultant_id
        statuses = [(e.old_value, e.new_value) for e in lead.events if e.kind == "status"]
        assert statuses == [("new", "test_drive_booked")]
        [event] = booking.events
        assert (event.kind, event.source, event.old_start, event.new_start, event.notified_at) == (
            "created", "conversation:rest", None, at(MON, 10), None,
        )  # fmt: skip
        assert (booking.sender_id, booking.channel, booking.language) == ("s1", "rest", "zh")


def test_bookings_for_matches_any_key(db: SessionFactory) -> None:
    by_phone = book(db, "A3", at(TUE, 10), phone=PHONE, sender_id="tg-1")
    by_sender = book(db, "A4L", at(MON, 10), sender_id="web-1")
    book(db, "A6L", at(MON, 11), sender_id="someone-else")
    with transaction(db) as session:
        bookings.cancel(session, book(db, "Q3", at(MON, 12), sender_id="web-1"), now=NOW,
                        source="cli")  # fmt: skip
    with db() as session:

        def ids(now: datetime = NOW, **keys: Any) -> list[int]:
            return [b.id for b in bookings.bookings_for(session, now=now, **keys)]

        assert ids(sender_id="web-1", phone=PHONE) == [by_sender, by_phone]  # by start
        assert ids(phone=PHONE) == [by_phone]
        customer_id = session.get_one(Booking, by_phone).customer_id
        assert ids(customer_id=customer_id) == [by_phone]
        assert ids() == []
        assert len(ids(sender_id="web-1", active_only=False)) == 2
        assert ids(now=at(MON, 10, 30), sender_id="web-1") == []  # upcoming only


def test_reschedule_moves_the_cells_and_keeps_car_and_consultant(db: SessionFactory) -> None:
    mine = book(db, "Q5L", at(MON, 10), phone=PHONE)
    with db() as session:
        before = session.get_one(Booking, mine)
        car, consultant = before.demo_car_id, before.consultant_id
    with transaction(db) as session:
        moved = bookings.reschedule(session, mine, at(MON, 14), zone=SHANGHAI, now=NOW,
                                    source="conversation:web")  # fmt: skip
        assert (moved.status, moved.start) == ("rescheduled", at(MON, 14))
    with db() as session:
        booking = session.get_one(Booking, mine)
        assert (booking.demo_car_id, booking.consultant_id) == (car, consultant)
        assert booking.end == at(MON, 15)
        assert [(e.kind, e.old_start, e.new_start) for e in booking.events] == [
            ("created", None, at(MON, 10)), ("rescheduled", at(MON, 10), at(MON, 14)),
        ]  # fmt: skip
        assert session.get_one(Lead, booking.lead_id).status == "test_drive_booked"
        assert at(MON, 10) in [s.start for s in bookings.free_slots(
            session, "Q5L", SHANGHAI, NOW, day=MON, limit=20)]  # fmt: skip
    assert {c[2] for c in cells(db, mine)} == {at(MON, 14, m).astimezone(UTC) for m in
                                               (0, 15, 30, 45)}  # fmt: skip
    # Its car is taken at 16:00 by someone else: the other Q5L goes, with the same consultant.
    other = book(db, "Q5L", at(MON, 16), sender_id="s2")
    with db() as session:
        assert session.get_one(Booking, other).demo_car_id == car
    with transaction(db) as session:
        moved = bookings.reschedule(session, mine, at(MON, 16), zone=SHANGHAI, now=NOW,
                                    source="cli")  # fmt: skip
        assert moved.demo_car_id != car
        assert moved.consultant_id == consultant
        assert moved.consultant.id == consultant


def test_reschedule_refuses_what_cannot_be_done(db: SessionFactory) -> None:
    mine = book(db, "A3", at(MON, 10))
    book(db, "A3", at(MON, 12), sender_id="s2")

    def move(booking_id: int, to: datetime) -> None:
        with transaction(db) as session:
            bookings.reschedule(session, booking_id, to, zone=SHANGHAI, now=NOW, source="t")

    with pytest.raises(bookings.SlotUnavailable) as closed:
        move(mine, at(MON, 19))
    assert closed.value.reason == "closed"
    with pytest.raises(bookings.SlotUnavailable) as off_grid:
        move(mine, at(MON, 10, 30))
    assert off_grid.value.reason == "off_grid"
    # Its own time counts as free, the other booking's does not.
    assert walls(off_grid.value.alternatives) == ["09:00", "10:00", "11:00", "13:00", "14:00"]
    with pytest.raises(bookings.SlotUnavailable) as full:
        move(mine, at(MON, 12))
    assert full.value.reason == "full"
    with pytest.raises(bookings.BookingNotFound):
        move(999, at(MON, 14))
    with transaction(db) as session:
        bookings.cancel(session, mine, now=NOW, source="t")
    with pytest.raises(bookings.BookingClosed):
        move(mine, at(MON, 14))
    with db() as session:
        assert session.get_one(Booking, mine).start == at(MON, 10)


def test_cancel_frees_the_slot_and_the_lead_goes_back_to_qualified(db: SessionFactory) -> None:
    first = book(db, "A3", at(MON, 10), phone=PHONE)
    second = book(db, "A4L", at(TUE, 10), phone=PHONE, sender_id="tg-2")
    with transaction(db) as session:
        cancelled = bookings.cancel(session, first, now=NOW, source="conversation:rest")
        assert cancelled.status == "cancelled"
    with db() as session:
        assert session.scalars(select(Lead)).one().status == "test_drive_booked"  # one is left
        assert bookings.check_slot(session, "A3", at(MON, 10), SHANGHAI, NOW) is None
    assert cells(db, first) == []
    with transaction(db) as session:
        bookings.cancel(session, second, now=NOW, source="cli")
    with db() as session:
        lead = session.scalars(select(Lead)).one()
        assert lead.status == "qualified"
        assert [(e.old_value, e.new_value, e.source) for e in lead.events if e.kind == "status"][
            -1
        ] == ("test_drive_booked", "qualified", "cli")
        events = session.scalars(select(BookingEvent).where(BookingEvent.booking_id == first))
        assert [(e.kind, e.old_start, e.new_start) for e in events] == [
            ("created", None, at(MON, 10)), ("cancelled", at(MON, 10), None),
        ]  # fmt: skip
    with pytest.raises(bookings.BookingClosed), transaction(db) as session:
        bookings.cancel(session, first, now=NOW, source="cli")


def test_outcome_after_the_start_and_one_survey_only(db: SessionFactory) -> None:
    drive = book(db, "Q5L", at(MON, 10), phone=PHONE)
    late = book(db, "A3", at(MON, 10))
    missed = book(db, "A4L", at(MON, 10))

    def mark(booking_id: int, outcome: str, now: datetime) -> Booking:
        with transaction(db) as session:
            return bookings.mark_outcome(session, booking_id, outcome, now=now, source="cli")

    with pytest.raises(bookings.BookingClosed):
        mark(drive, "completed", at(MON, 9, 59))
    with pytest.raises(ValueError, match="outcome"):
        mark(drive, "great", at(MON, 12))
    assert mark(drive, "completed", at(MON, 11)).status == "completed"
    assert mark(drive, "completed", at(MON, 11, 30)).status == "completed"  # again: no change
    mark(late, "completed", at(MON, 20))  # marked in the evening: the survey waits 3 hours
    mark(missed, "no_show", at(MON, 11))
    with pytest.raises(bookings.BookingClosed):
        mark(missed, "completed", at(MON, 12))
    assert cells(db) == []
    with db() as session:
        surveys = session.scalars(select(Survey).order_by(Survey.id)).all()
        assert [(s.booking_id, s.kind) for s in surveys] == [
            (drive, "post_test_drive"), (late, "post_test_drive"),
        ]  # fmt: skip
        survey = surveys[0]
        booking = session.get_one(Booking, drive)
        assert survey.scheduled_for == at(MON, 14)  # the drive ended at 11:00
        assert surveys[1].scheduled_for == at(MON, 23)
        assert (survey.customer_id, survey.lead_id, survey.sender_id) == (
            booking.customer_id, booking.lead_id, "s1",
        )  # fmt: skip
        assert (survey.channel, survey.language, survey.answers, survey.complaint) == (
            "rest", "zh", {}, False,
        )  # fmt: skip
        assert (survey.sent_at, survey.completed_at) == (None, None)
        assert [e.kind for e in booking.events] == ["created", "completed"]
        assert session.get_one(Booking, missed).status == "no_show"


def test_export_has_exactly_the_contract_fields(db: SessionFactory) -> None:
    first = book(db, "Q5L", at(MON, 10), phone=PHONE, name="张伟")
    second = book(db, "A3", at(TUE, 10), sender_id="anon")
    with transaction(db) as session:
        bookings.cancel(session, second, now=NOW, source="cli")
    with db() as session:
        records = bookings.booking_records(session, SHANGHAI)
        lead_id = session.get_one(Booking, first).lead_id
        consultant = session.scalars(select(Consultant).where(Consultant.name == "王磊")).one()
    assert records == [
        {
            "id": first, "lead_id": lead_id, "model": "Q5L", "start": "2026-11-23T10:00:00+08:00",
            "end": "2026-11-23T11:00:00+08:00", "status": "booked", "consultant": consultant.name,
            "customer_name": "张伟", "phone": PHONE,
        },
        {
            "id": second, "lead_id": None, "model": "A3", "start": "2026-11-24T10:00:00+08:00",
            "end": "2026-11-24T11:00:00+08:00", "status": "cancelled", "consultant": "王磊",
            "customer_name": None, "phone": None,
        },
    ]  # fmt: skip
    assert all(list(r) == list(BOOKING_FIELDS) for r in records)


def test_naive_times_are_refused(db: SessionFactory) -> None:
    with pytest.raises(ValueError, match="naive"):
        book(db, "A3", datetime(2026, 11, 23, 10, 0))


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_bookings_of_the_last_slot_give_exactly_one(
    database_url: str, sessions: SessionFactory
) -> None:
    """Many customers book the last free A3 slot of a day at the same moment (real threads).

    PostgreSQL: every one of them gets past the checks and races on the cells' unique key.
    SQLite: one writer at a time; the losers find the slot full.
    """
    db = load(sessions, load_dealer_data())
    target = at(MON, 15)
    for hour in (9, 10, 11, 12, 13, 14, 16, 17):  # the single A3 demo car: only 15:00 is left
        book(db, "A3", at(MON, hour), sender_id=f"setup-{hour}")
    with db() as session:
        assert walls(bookings.free_slots(session, "A3", SHANGHAI, NOW, day=MON)) == ["15:00"]
    threads_count = 12 if database_url.startswith("postgresql") else 6
    barrier = threading.Barrier(threads_count)
    won: list[int] = []
    lost: list[bookings.SlotUnavailable] = []
    errors: list[BaseException] = []

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            won.append(book(db, "A3", target, phone=f"+86139000000{i:02d}", sender_id=f"c{i}"))
        except bookings.SlotUnavailable as exc:
            lost.append(exc)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(won) == 1
    assert len(lost) == threads_count - 1
    assert all(exc.reason == "full" and exc.alternatives for exc in lost)
    assert all(target not in [s.start for s in exc.alternatives] for exc in lost)
    with db() as session:
        active = session.scalars(
            select(Booking).where(Booking.start == target, Booking.status == "booked")
        ).all()
        assert [b.id for b in active] == won
        assert session.scalar(select(func.count()).select_from(Booking)) == 9
        assert session.scalar(select(func.count()).select_from(BookingCell)) == 9 * 8
        # Only the winner's customer got a lead in "test_drive_booked".
        assert session.scalar(select(func.count()).select_from(Lead)) == 1
        assert (
            session.scalar(
                select(func.count()).select_from(LeadEvent).where(LeadEvent.kind == "status")
            )
            == 1
        )
