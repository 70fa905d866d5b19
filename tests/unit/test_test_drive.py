"""Booking, moving and cancelling test drives: the actions with trackers built in code, the real
domain and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.base import Services
from actions.test_drive import (
    ActionAskTdTime,
    ActionSubmitCancel,
    ActionSubmitTestDrive,
    ActionTestDriveReminder,
    ValidateRescheduleForm,
    ValidateTestDriveForm,
    booking_questions,
)
from actions.verification import ActionSubmitVerifyPhone, ValidateVerifyPhoneForm
from crm_bridge import bookings
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.exports import lead_records
from crm_bridge.models import Booking, LeadEvent
from tests.conftest import make_services, make_settings
from tests.domain import load_domain
from tests.sms_stub import running_sms_stub
from tests.trackers import form_turn

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)  # Monday 10:30 in Shanghai
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
PHONE = "+8613800138000"


@pytest.fixture
def services(sessions: SessionFactory, tmp_path: Path) -> Services:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    return make_services(make_settings(tmp_path), sessions, lambda: NOW)


def turn(text: str, intent: str, *, form: str = "test_drive_form", **details: Any) -> Tracker:
    """The tracker ``form`` hands to its validation action (tests/trackers.py)."""
    return form_turn(text, intent, form=form, at=NOW.timestamp(), **details)


async def run(action: Action, tracker: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, load_domain())
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return slots, dispatcher.messages


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("response") or "" for m in messages]


READY = {
    "td_model": "Q5L",
    "consent": True,
    "name": "张伟",
    "phone": PHONE,
    "driving_licence": True,
}


def test_questions_in_order() -> None:
    assert booking_questions({}) == [
        "td_model", "td_time", "consent", "name", "phone", "driving_licence", "td_confirmed",
    ]  # fmt: skip
    assert booking_questions({"consent": True}) == [
        "td_model", "td_time", "name", "phone", "driving_licence", "td_confirmed",
    ]  # fmt: skip
    # Declined consent or no licence: the form ends and says why.
    assert booking_questions({"consent": False}) == ["td_model", "td_time", "consent"]
    assert booking_questions({"consent": True, "driving_licence": False})[-1] == "driving_licence"


async def test_a_model_without_demo_car_gets_the_nearest_that_have_one(services: Services) -> None:
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("想试驾Q8", "request_test_drive", candidates={"td_model": "Q8"}),
    )
    assert slots["td_model"] is None
    assert responses(said) == ["utter_td_no_demo_car"]
    offered = [b["payload"] for b in said[0]["buttons"]]
    assert offered
    assert all("Q8" not in p for p in offered)


async def test_an_unknown_model_is_pointed_out(services: Services) -> None:
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("想试驾BMW X5", "inform", candidates={"td_model": "X5"}, requested="td_model"),
    )
    assert slots["td_model"] is None
    assert responses(said) == ["utter_invalid_car_models"]


async def test_a_free_time_is_taken(services: Services) -> None:
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("明天上午十点", "inform", before={"td_model": "Q5L"},
             candidates={"td_time": TUESDAY_10.isoformat()}, requested="td_time"),
    )  # fmt: skip
    assert slots["td_time"] == TUESDAY_10.isoformat()
    assert said == []


async def test_a_day_alone_offers_that_days_free_slots(services: Services) -> None:
    day = datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI)
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("明天", "inform", before={"td_model": "Q5L"},
             candidates={"td_time": day.isoformat()}, requested="td_time"),
    )  # fmt: skip
    assert slots["td_time"] is None
    assert responses(said) == ["utter_td_day_slots"]
    starts = [
        datetime.fromisoformat(b["payload"].split('"time": "')[1][:25]) for b in said[0]["buttons"]
    ]
    assert starts
    assert all(s.date() == day.date() for s in starts)
    assert said[0]["buttons"][0]["title"].startswith("11月24日（周二）")


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (datetime(2026, 11, 22, 15, 0, tzinfo=SHANGHAI), "utter_td_time_past"),  # yesterday
        (datetime(2026, 11, 24, 21, 0, tzinfo=SHANGHAI), "utter_td_time_closed"),  # after hours
        (datetime(2026, 11, 23, 11, 0, tzinfo=SHANGHAI), "utter_td_time_too_soon"),
    ],
)
async def test_times_that_cannot_be_had_get_the_nearest_free_slots(
    services: Services, when: datetime, reason: str
) -> None:
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("那个时间", "inform", before={"td_model": "Q5L"},
             candidates={"td_time": when.isoformat()}, requested="td_time"),
    )  # fmt: skip
    assert slots["td_time"] is None
    assert responses(said) == [reason, "utter_td_nearest_slots"]
    assert len(said[1]["buttons"]) == 4


async def test_an_impossible_date_is_explained(services: Services) -> None:
    # "2月30日": the NLU keeps the text and marks it not normalized.
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("2月30日下午", "inform", before={"td_model": "Q5L"},
             candidates={"td_time": "2月30日下午"}, requested="td_time"),
    )  # fmt: skip
    assert slots["td_time"] is None
    assert responses(said) == ["utter_invalid_td_time"]
    assert said[0]["buttons"]


@pytest.mark.parametrize(
    ("text", "licence"),
    [("有驾照", True), ("没有驾照", False), ("I've got my licence", True), ("没本", False)],
)
async def test_licence_answers(services: Services, text: str, licence: bool) -> None:
    slots, _ = await run(
        ValidateTestDriveForm(services),
        turn(text, "inform", before={**READY, "driving_licence": None,
             "td_time": TUESDAY_10.isoformat()}, requested="driving_licence"),
    )  # fmt: skip
    assert slots["driving_licence"] is licence


async def test_confirming_books_and_the_lead_moves_on(services: Services) -> None:
    before = {**READY, "td_time": TUESDAY_10.isoformat()}
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("确认预约", "affirm", before=before, candidates={"td_confirmed": True},
             requested="td_confirmed"),
    )  # fmt: skip
    assert slots["td_confirmed"] is True
    booking_id = slots["td_booking"]
    with transaction(services.sessions) as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        assert (booking.model_code, booking.start, booking.status) == ("Q5L", TUESDAY_10, "booked")
        assert (booking.sender_id, booking.phone, booking.customer_name) == ("c1", PHONE, "张伟")
        [lead] = [r for r in lead_records(session, SHANGHAI) if r["phone"] == PHONE]
    assert lead["status"] == "test_drive_booked"
    assert lead["consultant"] is not None
    # The confirmation names the time, the consultant and the address.
    _, said = await run(
        ActionSubmitTestDrive(services),
        turn("确认预约", "affirm", form="", before={**before, **slots}),
    )
    assert responses(said) == ["utter_td_booked"]
    assert said[0]["when"] == "11月24日（周二） 10:00"
    assert said[0]["consultant"] == lead["consultant"]
    assert "虹梅南路" in said[0]["address"]


async def test_a_slot_taken_meanwhile_offers_others(services: Services) -> None:
    # Q7 has one demo car: someone else books it first.
    with transaction(services.sessions) as session:
        bookings.book(session, model_code="Q7", start=TUESDAY_10, zone=SHANGHAI, now=NOW,
                      source="test", sender_id="other", channel="rest", language="zh",
                      customer_name="李娜", phone="+8613911112222")  # fmt: skip
    before = {**READY, "td_model": "Q7", "td_time": TUESDAY_10.isoformat()}
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("确认", "affirm", before=before, candidates={"td_confirmed": True},
             requested="td_confirmed"),
    )  # fmt: skip
    assert (slots["td_confirmed"], slots["td_time"]) == (None, None)
    assert responses(said) == ["utter_td_slot_taken", "utter_td_nearest_slots"]
    with transaction(services.sessions) as session:
        assert len(session.scalars(select(Booking)).all()) == 1


async def test_saying_no_asks_for_another_time(services: Services) -> None:
    before = {**READY, "td_time": TUESDAY_10.isoformat()}
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("不对", "deny", before=before, candidates={"td_confirmed": False},
             requested="td_confirmed"),
    )  # fmt: skip
    assert (slots["td_confirmed"], slots["td_time"]) == (None, None)
    assert responses(said) == ["utter_td_not_booked_yet"]


def _book(services: Services, start: datetime, sender: str = "c1", model: str = "Q5L") -> int:
    with transaction(services.sessions) as session:
        booking = bookings.book(session, model_code=model, start=start, zone=SHANGHAI, now=NOW,
                                source="test", sender_id=sender, channel="rest", language="zh",
                                customer_name="张伟", phone=PHONE)  # fmt: skip
        session.flush()
        return booking.id


async def test_rescheduling_moves_the_booking(services: Services) -> None:
    booking_id = _book(services, TUESDAY_10)
    wednesday = TUESDAY_10 + timedelta(days=1, hours=4)
    slots, _ = await run(
        ValidateRescheduleForm(services),
        turn("改到周三下午两点", "reschedule_test_drive", form="reschedule_form",
             candidates={"td_time": wednesday.isoformat()}),
    )  # fmt: skip
    # The only booking is found without asking, and moved at once.
    assert slots["td_booking"] == booking_id
    assert slots["td_time"] == wednesday.isoformat()
    with transaction(services.sessions) as session:
        moved = session.get(Booking, booking_id)
        assert moved is not None
        assert (moved.start, moved.status) == (wednesday, "rescheduled")


async def test_a_booking_made_elsewhere_needs_the_number_verified(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    """Another conversation with the customer's number sees nothing until a code sent by SMS to
    that number is typed back; then it finds both bookings."""
    with running_sms_stub() as stub:
        settings = make_settings(tmp_path, **{k.lower(): v for k, v in stub.env().items()})
        services = make_services(settings, sessions, lambda: NOW)
        with transaction(sessions) as session:
            load_dealer_data_into(session, load_dealer_data())
        first = _book(services, TUESDAY_10, sender="web-1")
        _book(services, TUESDAY_10 + timedelta(days=2), sender="web-1", model="A6L")
        validation = ValidateRescheduleForm(services)
        dispatcher = CollectingDispatcher()
        tracker = turn("13800138000", "inform", form="reschedule_form", sender="phone-2",
                       before={"phone": PHONE}, requested="phone")  # fmt: skip
        assert await validation.required_slots([], dispatcher, tracker, load_domain()) == []
        # A forged booking id in a slot does not reach someone else's booking either.
        known = {"phone": PHONE, "td_booking": first, "td_confirmed": True}
        forged = turn("/affirm", "affirm", form="", sender="phone-2", before=known)
        events = await ActionSubmitCancel(services).run(dispatcher, forged, load_domain())
        assert [m["response"] for m in dispatcher.messages] == ["utter_verify_code_sent"]
        assert dispatcher.messages[0]["tail"] == "8000"
        assert {"event": "followup", "name": "verify_phone_form"} in [
            {k: e.get(k) for k in ("event", "name")} for e in events
        ]
        [code] = stub.codes_to(PHONE)
        assert code not in json.dumps(events) + json.dumps(dispatcher.messages)
        with sessions() as session:
            booking = session.get(Booking, first)
            assert booking is not None
            assert booking.status == "booked"

        def typed(text: str) -> Tracker:
            return turn(text, "inform", form="verify_phone_form", sender="phone-2",
                        before={"phone": PHONE, "verify_purpose": "cancel"},
                        candidates={"verification_code": text},
                        requested="verification_code")  # fmt: skip

        form = ValidateVerifyPhoneForm(services)
        wrong = "111111" if code != "111111" else "222222"
        slots, said = await run(form, typed(wrong))
        assert (responses(said), said[0]["left"], slots["verification_code"]) == (
            ["utter_verify_code_wrong"], 4, None,
        )  # fmt: skip
        slots, said = await run(form, typed(" ".join(code)))  # "1 2 3 4 5 6" as a voice line
        assert (responses(said), slots["verification_code"]) == (["utter_verified"], "verified")
        events = await ActionSubmitVerifyPhone(services).run(
            CollectingDispatcher(),
            turn("", "inform", form="", sender="phone-2",
                 before={"verification_code": "verified", "verify_purpose": "cancel"}),
            load_domain(),
        )  # fmt: skip
        assert events[-1] == {"event": "followup", "name": "cancel_form", "timestamp": None}
        assert await validation.required_slots([], dispatcher, tracker, load_domain()) == [
            "td_booking"
        ]
        # A code works once.
        slots, said = await run(form, typed(code))
        assert (responses(said), slots["verification_code"]) == (["utter_verify_failed"], "failed")


async def test_by_phone_the_number_the_caller_calls_from_opens_their_bookings(
    services: Services,
) -> None:
    """A booking made on the web, moved by phone: the signed call's own number needs no code."""
    _book(services, TUESDAY_10, sender="web-1")
    _book(services, TUESDAY_10 + timedelta(days=2), sender="web-1", model="A6L")
    validation = ValidateRescheduleForm(services)
    caller = f"phone:{PHONE}"
    by_phone: dict[str, Any] = {"sender": caller, "channel": "phone", "metadata": {"caller": PHONE}}
    tracker = turn("13800138000", "inform", form="reschedule_form", before={"phone": PHONE},
                   requested="phone", **by_phone)  # fmt: skip
    assert await validation.required_slots([], CollectingDispatcher(), tracker, load_domain()) == []
    given: dict[str, Any] = {
        "form": "reschedule_form",
        "candidates": {"phone": PHONE},
        "requested": "phone",
    }
    await run(validation, turn("13800138000", "inform", **given, **by_phone))
    assert await validation.required_slots([], CollectingDispatcher(), tracker, load_domain()) == [
        "td_booking"
    ]
    # Another caller giving that number proves nothing.
    other: dict[str, Any] = {**by_phone, "sender": "phone:+8613911112222",
             "metadata": {"caller": "+8613911112222"}}  # fmt: skip
    stranger = turn("13800138000", "inform", form="reschedule_form", before={"phone": PHONE},
                    requested="phone", **other)  # fmt: skip
    await run(validation, turn("13800138000", "inform", **given, **other))
    assert (
        await validation.required_slots([], CollectingDispatcher(), stranger, load_domain()) == []
    )


async def test_without_sms_a_person_confirms_before_anything_changes(services: Services) -> None:
    booking_id = _book(services, TUESDAY_10, sender="web-1")
    _, said = await run(
        ActionSubmitCancel(services),
        turn("/affirm", "affirm", form="", sender="phone-2",
             before={"phone": PHONE, "td_booking": booking_id, "td_confirmed": True}),
    )  # fmt: skip
    assert responses(said) == ["utter_verify_by_person"]
    with transaction(services.sessions) as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        assert booking.status == "booked"
        [request] = [e for e in session.scalars(select(LeadEvent)) if e.kind == "request"]
        assert (request.field, request.new_value) == ("verification", "cancel")


async def test_a_third_active_booking_is_refused(services: Services) -> None:
    _book(services, TUESDAY_10)
    _book(services, TUESDAY_10 + timedelta(days=1), model="A6L")
    slots, said = await run(
        ValidateTestDriveForm(services),
        turn("确认", "affirm", before={**READY, "td_model": "A4L",
             "td_time": (TUESDAY_10 + timedelta(days=2)).isoformat()},
             candidates={"td_confirmed": True}, requested="td_confirmed"),
    )  # fmt: skip
    assert responses(said) == ["utter_td_too_many_bookings"]
    assert said[0]["limit"] == 2
    assert slots["td_confirmed"] is False
    with transaction(services.sessions) as session:
        assert len(session.scalars(select(Booking)).all()) == 2


async def test_cancelling_frees_the_slot(services: Services) -> None:
    booking_id = _book(services, TUESDAY_10)
    _, said = await run(
        ActionSubmitCancel(services),
        turn("确定取消", "affirm", form="", before={"td_booking": booking_id,
             "td_confirmed": True}),
    )  # fmt: skip
    assert responses(said) == ["utter_td_cancelled"]
    with transaction(services.sessions) as session:
        cancelled = session.get(Booking, booking_id)
        assert cancelled is not None
        assert cancelled.status == "cancelled"
        assert bookings.check_slot(session, "Q5L", TUESDAY_10, SHANGHAI, NOW) is None


async def test_asking_for_a_time_offers_free_slots_in_english(services: Services) -> None:
    _, said = await run(
        ActionAskTdTime(services),
        turn("test drive", "request_test_drive", before={"td_model": "A6L"}, language="en"),
    )
    assert responses(said) == ["utter_ask_td_time"]
    titles = [b["title"] for b in said[0]["buttons"]]
    assert titles[0] == "Mon 23 Nov, 12:00"  # now is 10:30 and an hour of notice is needed
    assert len(titles) == 4


async def test_the_reminder_names_the_booking(services: Services) -> None:
    _book(services, TUESDAY_10)
    _, said = await run(ActionTestDriveReminder(services), turn("", "inform", form=""))
    assert responses(said) == ["utter_td_reminder"]
    assert (said[0]["model"], said[0]["when"]) == ("Q5L", "11月24日（周二） 10:00")
    assert said[0]["hours"] == 24


async def test_with_two_bookings_the_reminder_describes_the_one_it_is_for(
    services: Services,
) -> None:
    _book(services, TUESDAY_10)
    second = _book(services, TUESDAY_10 + timedelta(days=2), model="A6L")
    ref = f"booking:{second}:reminder_24h:20261125T0200Z"
    slots, said = await run(
        ActionTestDriveReminder(services),
        turn("", "inform", form="", before={"proactive_ref": ref}),
    )
    assert (said[0]["model"], said[0]["when"]) == ("A6L", "11月26日（周四） 10:00")
    assert slots["proactive_done"] == ref  # the mark a retry looks for before sending again
