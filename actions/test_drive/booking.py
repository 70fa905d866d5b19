"""Booking a test drive: starting the form, asking for a time and the confirmation, submitting."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions.base import (
    DatabaseAction,
    language_of,
)
from actions.test_drive.common import (
    CANCEL_FORM,
    OFFERED,
    RESCHEDULE_FORM,
    AskAction,
    BookingView,
    booking_view,
    moment_of,
    slot_buttons,
)
from actions.vehicles.catalog import price_asked_too
from crm_bridge import bookings
from crm_bridge.catalog import dealer


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
            found = await self.services.in_transaction(lambda s: booking_view(s, int(booking_id)))
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
                await self.services.in_transaction(lambda s: booking_view(s, int(booking_id)))
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
            return booking_view(session, int(booking_id)), address

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
