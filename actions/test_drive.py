"""Test drives: book one in a few turns (model, time, contact, licence, confirmation), move or
cancel it later, and remind the customer before it.

Availability is the dealership database's: a time is only offered or accepted when a demo car of
the model and a consultant are free then (``crm_bridge.bookings``). Times the customer cannot have
(past, closed, fully booked) are answered with the nearest free slots as buttons.
"""

from __future__ import annotations

import json
from abc import ABC
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import exc
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions import slots as checks
from actions.base import (
    DatabaseAction,
    Services,
    change_source,
    conversation_channel,
    language_of,
)
from actions.forms import CheckedFormValidation, just_answered
from actions.leads import save_lead
from actions.vehicles.catalog import price_asked_too
from crm_bridge import bookings
from crm_bridge.bookings import Slot
from crm_bridge.catalog import active_models, dealer
from crm_bridge.models import Booking
from crm_bridge.outbox import unreachable

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
_LICENCE_YES: Final = ("有驾照", "有驾驶证", "有本", "驾照有", "拿了驾照", "licence", "license")
_LICENCE_NO: Final = (
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


class TestDriveValidation(CheckedFormValidation, ABC):
    """What booking, moving and cancelling share: the dealer's clock and zone, time checks."""

    unskippable: frozenset[str] = frozenset({"name", "phone"})

    def _failed(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> list[Any]:
        if slot in self.unskippable:  # a booking needs it: ask again, never offer to skip
            dispatcher.utter_message(response=f"utter_invalid_{slot}")
            return []
        return super()._failed(dispatcher, tracker, slot)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            events: list[EventType] = await super().run(dispatcher, tracker, domain)
        except exc.SQLAlchemyError as error:
            if not unreachable(error):
                raise
            dispatcher.utter_message(response="utter_system_busy")
            return []
        return events

    @property
    def zone(self) -> Any:
        return self.services.settings.timezone

    def now(self) -> datetime:
        return self.services.clock().astimezone(self.zone)

    async def check_time(
        self,
        dispatcher: CollectingDispatcher,
        value: Any,
        model: str,
        language: str,
        exclude_booking_id: int | None = None,
    ) -> datetime | None:
        """The slot start if the customer may have it; otherwise say why and offer free slots."""
        now = self.now()
        moment = moment_of(value, self.zone)
        if moment is None:
            slots = await self.services.in_transaction(
                lambda s: bookings.free_slots(
                    s, model, self.zone, now, limit=OFFERED, exclude_booking_id=exclude_booking_id
                )
            )
            dispatcher.utter_message(
                response="utter_invalid_td_time", buttons=slot_buttons(slots, language)
            )
            return None
        moment = moment.astimezone(self.zone)
        day = moment.date()
        if day_only(moment) and day >= now.date():
            slots = await self.services.in_transaction(
                lambda s: bookings.free_slots(
                    s, model, self.zone, now, day=day, limit=OFFERED,
                    exclude_booking_id=exclude_booking_id,
                )
            )  # fmt: skip
            if slots:
                dispatcher.utter_message(
                    response="utter_td_day_slots",
                    day=fmt.day(moment, language),
                    buttons=slot_buttons(slots, language),
                )
                return None
            moment = moment.replace(hour=12)  # nothing that day: the nearest days instead

        def check(session: Session) -> tuple[str | None, list[Slot]]:
            reason = bookings.check_slot(
                session, model, moment, self.zone, now, exclude_booking_id=exclude_booking_id
            )
            if reason is None:
                return None, []
            around = moment if reason != "past" else now
            return reason, bookings.free_slots(
                session, model, self.zone, now, around=around, limit=OFFERED,
                exclude_booking_id=exclude_booking_id,
            )  # fmt: skip

        reason, alternatives = await self.services.in_transaction(check)
        if reason is None:
            return moment
        self.offer(
            dispatcher, UNAVAILABLE.get(reason, "utter_td_time_full"), alternatives, language
        )
        return None

    @staticmethod
    def offer(
        dispatcher: CollectingDispatcher, response: str, slots: list[Slot], language: str
    ) -> None:
        """Say why the time cannot be had, then the nearest free slots (or that there are none)."""
        dispatcher.utter_message(response=response)
        if slots:
            dispatcher.utter_message(
                response="utter_td_nearest_slots", buttons=slot_buttons(slots, language)
            )
        else:
            dispatcher.utter_message(response="utter_td_no_slots")


class ValidateTestDriveForm(TestDriveValidation):
    """Model with a demo car, a free time, consent, name, phone, licence, then the booking."""

    def name(self) -> str:
        return "validate_test_drive_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        await save_lead(self.services, tracker, events)  # contact kept as soon as consented
        return events

    async def ask_order(self, tracker: Tracker) -> list[str]:
        return booking_questions(tracker.slots)

    async def extract_driving_licence(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """ "有驾照" / "没驾照" answer the licence question whatever intent the NLU saw in it."""
        if tracker.get_slot("requested_slot") != "driving_licence":
            return {}
        if "driving_licence" in tracker.slots_to_validate() or not just_answered(
            tracker, BOOK_FORM
        ):
            return {}
        text = (tracker.latest_message.get("text") or "").lower()
        if any(word in text for word in _LICENCE_NO):
            return {"driving_licence": False}
        if any(word in text for word in _LICENCE_YES):
            return {"driving_licence": True}
        answer = checks.yes_or_no(text)
        return {} if answer is None else {"driving_licence": answer}

    async def validate_td_model(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A catalog model with a demo car; otherwise the nearest models that have one."""
        candidates = value if isinstance(value, list) else [value]

        def check(session: Session) -> tuple[str | None, list[str] | None]:
            """The code named, and None if it has a demo car, else the nearest ones that do."""
            known = {m.code for m in active_models(session)}
            code = next((c for c in candidates if isinstance(c, str) and c in known), None)
            if code is None or code in bookings.demo_models(session):
                return code, None
            return code, bookings.nearest_demo_models(session, code)

        code, alternatives = await self.services.in_transaction(check)
        if code is None:
            return self._result(dispatcher, tracker, "td_model", value, None)
        if alternatives is not None:
            dispatcher.utter_message(
                response="utter_td_no_demo_car",
                model=code,
                alternatives=fmt.joined(alternatives, language_of(tracker)),
                buttons=model_buttons(alternatives),
            )
            return {"td_model": None, "td_time": None}
        return {"td_model": code}

    async def validate_td_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A free slot for the model; a day alone gets that day's free slots as buttons."""
        model = tracker.get_slot("td_model")
        if not isinstance(model, str):
            return {"td_time": None}  # asked again once the model is known
        moment = await self.check_time(dispatcher, value, model, language_of(tracker))
        return {"td_time": moment.isoformat() if moment else None, "td_confirmed": None}

    async def validate_driving_licence(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A driving licence is needed to drive; without one the booking stops here."""
        if not isinstance(value, bool):
            return self._result(dispatcher, tracker, "driving_licence", value, None)
        return {"driving_licence": value}

    async def validate_td_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Yes books it (the database decides who gets the slot); no asks for another time."""
        if value is False:
            dispatcher.utter_message(response="utter_td_not_booked_yet")
            return {"td_confirmed": None, "td_time": None}
        if value is not True:
            return self._result(dispatcher, tracker, "td_confirmed", value, None)
        language = language_of(tracker)
        await save_lead(self.services, tracker, [])  # the customer and lead exist and are current
        channel = conversation_channel(tracker)
        start = moment_of(tracker.get_slot("td_time"), self.zone)
        model = tracker.get_slot("td_model")
        if start is None or not isinstance(model, str):
            return {"td_confirmed": None, "td_time": None}
        now = self.now()

        def book(session: Session) -> BookingView:
            booking = bookings.book(
                session,
                model_code=model,
                start=start,
                zone=self.zone,
                now=now,
                source=change_source(tracker),
                sender_id=tracker.sender_id,
                channel=channel,
                language=language,
                customer_name=checks.clean_name(tracker.get_slot("name")),
                phone=checks.clean_phone(tracker.get_slot("phone")),
            )
            session.flush()
            return BookingView.of(booking)

        try:
            booked = await self.services.in_transaction(book)
        except bookings.SlotUnavailable as taken:
            self.offer(dispatcher, "utter_td_slot_taken", taken.alternatives, language)
            return {"td_confirmed": None, "td_time": None}
        except bookings.NoDemoCar:
            dispatcher.utter_message(response="utter_td_slot_taken")
            return {"td_confirmed": None, "td_time": None, "td_model": None}
        return {"td_confirmed": True, "td_booking": booked.id}


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


class ActionStartTestDrive(DatabaseAction):
    """A new booking starts clean: the model already named is kept, earlier answers are not; a
    price asked in the same message ("能试驾吗，Q5L多少钱") is answered first."""

    def name(self) -> str:
        return "action_start_test_drive"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await price_asked_too(self.services, dispatcher, tracker)
        events: list[EventType] = [
            SlotSet("td_time", tracker.get_slot("td_time") if _said_now(tracker, "time") else None),
            SlotSet("td_confirmed", None),
            SlotSet("td_booking", None),
            SlotSet("slot_failures", None),
        ]
        if tracker.get_slot("consent") is False:
            events.append(SlotSet("consent", None))  # asking for a test drive is worth asking again
        models = tracker.get_slot("car_models") or []
        if tracker.get_slot("td_model") is None and len(models) == 1:
            events.append(SlotSet("td_model", models[0]))
        dispatcher.utter_message(response="utter_test_drive_intro")
        return events


def _said_now(tracker: Tracker, entity: str) -> bool:
    return any(e.get("entity") == entity for e in tracker.latest_message.get("entities") or [])


class AskAction(DatabaseAction, ABC):
    """A question whose buttons come from the database."""

    @property
    def zone(self) -> Any:
        return self.services.settings.timezone


class ActionAskTdTime(AskAction):
    """ "When would you like to come?" with the next free slots of the model as buttons."""

    def name(self) -> str:
        return "action_ask_td_time"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        model = tracker.get_slot("td_model")
        booking_id = tracker.get_slot("td_booking")
        if tracker.active_loop.get("name") == RESCHEDULE_FORM and booking_id is not None:
            found = await self.services.in_transaction(lambda s: _view(s, int(booking_id)))
            model = found.model if found else model
        if not isinstance(model, str):
            dispatcher.utter_message(response="utter_ask_td_time")
            return []
        now = self.services.clock().astimezone(self.zone)
        exclude = int(booking_id) if booking_id is not None else None
        slots = await self.services.in_transaction(
            lambda s: bookings.free_slots(
                s, model, self.zone, now, limit=OFFERED, exclude_booking_id=exclude
            )
        )
        if not slots:
            dispatcher.utter_message(response="utter_td_no_slots")
            return []
        dispatcher.utter_message(
            response="utter_ask_td_time", buttons=slot_buttons(slots, language)
        )
        return []


class ActionAskTdConfirmed(AskAction):
    """The summary before booking (or before cancelling), with yes and no."""

    def name(self) -> str:
        return "action_ask_td_confirmed"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        if tracker.active_loop.get("name") == CANCEL_FORM:
            booking_id = tracker.get_slot("td_booking")
            found = (
                await self.services.in_transaction(lambda s: _view(s, int(booking_id)))
                if booking_id is not None
                else None
            )
            if found is not None:
                dispatcher.utter_message(
                    response="utter_ask_cancel_confirmed",
                    model=found.model,
                    when=fmt.when(found.start.astimezone(self.zone), language),
                )
            return []
        start = moment_of(tracker.get_slot("td_time"), self.zone)
        dispatcher.utter_message(
            response="utter_ask_td_confirmed",
            model=tracker.get_slot("td_model"),
            when=fmt.when(start.astimezone(self.zone), language) if start else "",
            name=tracker.get_slot("name"),
            phone=tracker.get_slot("phone"),
        )
        return []


async def customer_bookings(services: Services, tracker: Tracker) -> list[BookingView]:
    """Upcoming bookings of this conversation or of the phone number it gave."""
    phone = checks.clean_phone(tracker.get_slot("phone"))
    now = services.clock()
    return await services.in_transaction(
        lambda s: [
            BookingView.of(b)
            for b in bookings.bookings_for(s, now=now, sender_id=tracker.sender_id, phone=phone)
        ]
    )


def _view(session: Session, booking_id: int) -> BookingView | None:
    booking = session.get(Booking, booking_id)
    return BookingView.of(booking) if booking is not None else None


class ActionSubmitTestDrive(AskAction):
    """End of the booking form: the booking confirmed with everything the customer needs."""

    def name(self) -> str:
        return "action_submit_test_drive"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        reset: list[EventType] = [
            SlotSet("td_time", None),
            SlotSet("td_confirmed", None),
            SlotSet("slot_failures", None),
        ]
        booking_id = tracker.get_slot("td_booking")
        if booking_id is None:
            if tracker.get_slot("consent") is False:
                dispatcher.utter_message(response="utter_td_needs_consent")
            elif tracker.get_slot("driving_licence") is False:
                dispatcher.utter_message(response="utter_td_needs_licence")
            return reset

        def read(session: Session) -> tuple[BookingView | None, str]:
            showroom = dealer(session)
            address = ""
            if showroom is not None:
                address = showroom.address_en if language == "en" else showroom.address
            return _view(session, int(booking_id)), address

        booked, address = await self.services.in_transaction(read)
        if booked is None:
            return reset
        dispatcher.utter_message(
            response="utter_td_booked",
            model=booked.model,
            when=fmt.when(booked.start.astimezone(self.zone), language),
            consultant=booked.consultant or "",
            address=address,
        )
        return reset


class ManageBookingValidation(TestDriveValidation, ABC):
    """Finding the customer's booking: from this conversation or the phone number; several to
    choose from are offered as buttons."""

    async def candidates(self, tracker: Tracker) -> list[BookingView]:
        return await customer_bookings(self.services, tracker)

    questions: tuple[str, ...]  # once the booking is known

    async def ask_order(self, tracker: Tracker) -> list[str]:
        lookup = await self.lookup_questions(tracker)
        return list(self.questions) if lookup is None else lookup

    async def lookup_questions(self, tracker: Tracker) -> list[str] | None:
        """The questions before the booking is known; None when it is known."""
        if tracker.get_slot("td_booking") is not None:
            return None
        found = await self.candidates(tracker)
        if found:
            return ["td_booking"]
        if checks.clean_phone(tracker.get_slot("phone")) is None:
            return ["phone", "td_booking"]
        return []  # nothing to move or cancel: the form ends and says so

    async def extract_td_booking(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The only booking there is needs no choosing."""
        if tracker.get_slot("td_booking") is not None or "td_booking" in (
            tracker.slots_to_validate()
        ):
            return {}
        found = await self.candidates(tracker)
        return {"td_booking": found[0].id} if len(found) == 1 else {}

    async def validate_td_booking(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A booking of this customer: by id, by its time (the buttons) or by its model."""
        found = await self.candidates(tracker)
        chosen: list[BookingView] = []
        if isinstance(value, int | float) and not isinstance(value, bool):
            chosen = [b for b in found if b.id == int(value)]
        elif isinstance(value, str | list):
            moment = moment_of(value, self.zone)
            codes = value if isinstance(value, list) else [value]
            chosen = [b for b in found if moment is not None and b.start == moment] or [
                b for b in found if b.model in codes
            ]
        if len(chosen) == 1:
            return {"td_booking": chosen[0].id}
        return self._result(dispatcher, tracker, "td_booking", value, None)

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The number the booking was made with (only used to find it)."""
        return self._result(dispatcher, tracker, "phone", value, checks.clean_phone(value))


class ValidateRescheduleForm(ManageBookingValidation):
    """ "试驾改到下周三下午": the booking, then a new free time; moved as soon as it is free."""

    questions = ("td_booking", "td_time")

    def name(self) -> str:
        return "validate_reschedule_form"

    async def validate_td_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A free time for the same model; the booking is moved at once."""
        booking_id = tracker.get_slot("td_booking")
        if booking_id is None:
            return {"td_time": None}  # asked again once the booking is known
        booking_id = int(booking_id)
        current = await self.services.in_transaction(lambda s: _view(s, booking_id))
        if current is None:
            return {"td_time": None, "td_booking": None}
        language = language_of(tracker)
        moment = await self.check_time(
            dispatcher, value, current.model, language, exclude_booking_id=booking_id
        )
        if moment is None:
            return {"td_time": None}
        now = self.now()
        try:
            await self.services.in_transaction(
                lambda s: bookings.reschedule(
                    s, booking_id, moment, zone=self.zone, now=now, source=change_source(tracker),
                )
            )  # fmt: skip
        except bookings.SlotUnavailable as taken:
            self.offer(dispatcher, "utter_td_slot_taken", taken.alternatives, language)
            return {"td_time": None}
        except (bookings.BookingClosed, bookings.BookingNotFound):
            return {"td_time": None, "td_booking": None}
        return {"td_time": moment.isoformat()}


class ValidateCancelForm(ManageBookingValidation):
    """ "cancel my test drive": the booking, a confirmation, then it is cancelled."""

    questions = ("td_booking", "td_confirmed")

    def name(self) -> str:
        return "validate_cancel_form"

    async def validate_td_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"td_confirmed": value}
        return self._result(dispatcher, tracker, "td_confirmed", value, None)


class ActionSubmitReschedule(AskAction):
    """The booking's new time, or why there was nothing to move."""

    def name(self) -> str:
        return "action_submit_reschedule"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        booking_id = tracker.get_slot("td_booking")
        found = (
            await self.services.in_transaction(lambda s: _view(s, int(booking_id)))
            if booking_id is not None
            else None
        )
        if found is None:
            dispatcher.utter_message(response="utter_td_no_booking_found")
        elif tracker.get_slot("td_time") is not None:
            dispatcher.utter_message(
                response="utter_td_rescheduled",
                model=found.model,
                when=fmt.when(found.start.astimezone(self.zone), language),
                consultant=found.consultant or "",
            )
        return [SlotSet("td_time", None), SlotSet("td_booking", None)]


class ActionSubmitCancel(AskAction):
    """Cancel the chosen booking once confirmed; a no keeps it."""

    def name(self) -> str:
        return "action_submit_cancel"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        reset: list[EventType] = [SlotSet("td_confirmed", None), SlotSet("td_booking", None)]
        booking_id = tracker.get_slot("td_booking")
        if booking_id is None:
            dispatcher.utter_message(response="utter_td_no_booking_found")
            return reset
        if tracker.get_slot("td_confirmed") is not True:
            dispatcher.utter_message(response="utter_td_kept")
            return reset
        now = self.services.clock()

        def cancel(session: Session) -> BookingView | None:
            try:
                booking = bookings.cancel(
                    session, int(booking_id), now=now,
                    source=change_source(tracker),
                )  # fmt: skip
            except (bookings.BookingClosed, bookings.BookingNotFound):
                return None
            return BookingView.of(booking)

        cancelled = await self.services.in_transaction(cancel)
        if cancelled is None:
            dispatcher.utter_message(response="utter_td_no_booking_found")
            return reset
        dispatcher.utter_message(
            response="utter_td_cancelled",
            model=cancelled.model,
            when=fmt.when(cancelled.start.astimezone(self.zone), language),
        )
        return reset


class ActionAskTdBooking(AskAction):
    """Which booking, when the customer has several: one button each."""

    def name(self) -> str:
        return "action_ask_td_booking"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        found = await customer_bookings(self.services, tracker)
        buttons = [
            {
                "title": f"{b.model} · {fmt.when(b.start.astimezone(self.zone), language)}",
                "payload": "/inform"
                + json.dumps({"time": b.start.astimezone(self.zone).isoformat()}),
            }
            for b in found
        ]
        dispatcher.utter_message(response="utter_ask_td_booking", buttons=buttons)
        return []


class ActionTestDriveReminder(AskAction):
    """Run by the scheduler (through Rasa, so it reaches the customer's channel): the next
    test drive of this conversation, when and where."""

    def name(self) -> str:
        return "action_test_drive_reminder"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        now = self.services.clock()

        def upcoming(session: Session) -> tuple[BookingView | None, str]:
            found = bookings.bookings_for(session, now=now, sender_id=tracker.sender_id)
            showroom = dealer(session)
            address = ""
            if showroom is not None:
                address = showroom.address_en if language == "en" else showroom.address
            return (BookingView.of(found[0]) if found else None), address

        language = language_of(tracker)
        booking, address = await self.services.in_transaction(upcoming)
        if booking is None:
            return []
        hours = max(1, round((booking.start - now).total_seconds() / 3600))
        dispatcher.utter_message(
            response="utter_td_reminder",
            model=booking.model,
            when=fmt.when(booking.start.astimezone(self.zone), language),
            hours=hours,
            address=address,
            consultant=booking.consultant or "",
        )
        # Sent from outside a customer turn: the conversation waits for the customer again.
        return [ActionExecuted("action_listen")]
