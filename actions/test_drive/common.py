"""What the test-drive actions share: the forms' names, how bookings and free times are shown,
the customer's bookings, and the base of the actions that ask or submit."""

from __future__ import annotations

import json
from abc import ABC
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Final

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions import slots as checks
from actions.base import (
    DatabaseAction,
    Services,
)
from crm_bridge import identity
from crm_bridge.bookings import Slot
from crm_bridge.models import Booking

BOOK_FORM: Final = "test_drive_form"
RESCHEDULE_FORM: Final = "reschedule_form"
CANCEL_FORM: Final = "cancel_form"
# How many free slots are offered as buttons.
OFFERED: Final = 4
# What is said for each reason a time cannot be booked (crm_bridge.bookings.SlotUnavailable).
UNAVAILABLE: Final = {
    "past": "utter_td_time_past",
    "too_soon": "utter_td_time_too_soon",
    "too_far": "utter_td_time_too_far",
    "closed": "utter_td_time_closed",
    "holiday": "utter_td_time_closed",
    "off_grid": "utter_td_time_off_grid",
    "full": "utter_td_time_full",
}
# Licence answers the NLU may not take for a plain yes or no ("有驾照", "I've got my licence").
LICENCE_YES: Final = ("有驾照", "有驾驶证", "有本", "驾照有", "拿了驾照", "licence", "license")
LICENCE_NO: Final = (
    "没有驾照",
    "没驾照",
    "没有驾驶证",
    "没本",
    "还没拿",
    "no licen",
    "don't have a licen",
)


@dataclass(frozen=True)
class BookingView:
    """What the conversation says about a booking (read inside the transaction)."""

    id: int
    model: str
    start: datetime
    end: datetime
    status: str
    consultant: str | None

    @classmethod
    def of(cls, booking: Booking) -> BookingView:
        consultant = booking.consultant.name if booking.consultant is not None else None
        return cls(
            booking.id, booking.model_code, booking.start, booking.end, booking.status, consultant
        )


def moment_of(value: Any, zone: Any) -> datetime | None:
    """An aware datetime from a normalized time entity (ISO 8601) or a button payload."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def day_only(moment: datetime) -> bool:
    """A date without a time of day ("明天", "next Friday"): the NLU gives it as midnight."""
    return moment.timetz().replace(tzinfo=None) == time(0, 0)


def slot_buttons(slots: list[Slot], language: str) -> list[dict[str, str]]:
    """One button a free slot; the payload names the time, so a click is understood exactly."""
    return [
        {
            "title": fmt.when(s.start, language),
            "payload": "/inform" + json.dumps({"time": s.start.isoformat()}),
        }
        for s in slots
    ]


def model_buttons(codes: list[str]) -> list[dict[str, str]]:
    return [{"title": c, "payload": "/inform" + json.dumps({"car_model": c})} for c in codes]


async def customer_bookings(services: Services, tracker: Tracker) -> list[BookingView]:
    """Upcoming bookings this conversation may see: its own, and those of a number it verified
    (a number only given is not proof: ``hidden_bookings`` counts those)."""
    return (await _bookings(services, tracker))[0]


async def hidden_bookings(services: Services, tracker: Tracker) -> int:
    """Upcoming bookings made elsewhere with the number given here (verification needed)."""
    return (await _bookings(services, tracker))[1]


async def _bookings(services: Services, tracker: Tracker) -> tuple[list[BookingView], int]:
    phone = checks.clean_phone(tracker.get_slot("phone"))
    now = services.clock()

    def read(session: Session) -> tuple[list[BookingView], int]:
        found, hidden = identity.visible_bookings(session, tracker.sender_id, now=now, phone=phone)
        return [BookingView.of(b) for b in found], hidden

    return await services.in_transaction(read)


def booking_view(session: Session, booking_id: int) -> BookingView | None:
    booking = session.get(Booking, booking_id)
    return BookingView.of(booking) if booking is not None else None


class AskAction(DatabaseAction, ABC):
    """A question whose buttons come from the database."""

    @property
    def zone(self) -> Any:
        return self.services.settings.timezone


def booking_questions(slots: dict[str, Any]) -> list[str]:
    """The booking form's questions in order, given what is known.

    Consent comes before name and phone; a customer who declines, or has no driving licence, is
    told why the booking cannot be made (the form ends there).
    """
    questions = ["td_model", "td_time"]
    consent = slots.get("consent")
    if consent is not True:
        questions.append("consent")
        if consent is False:
            return questions
    questions += ["name", "phone", "driving_licence"]
    if slots.get("driving_licence") is False:
        return questions
    return [*questions, "td_confirmed"]
