"""Moving and cancelling a booking, choosing which one, and the reminder before it."""

from __future__ import annotations

import json
from abc import ABC
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import contact
from actions import formatting as fmt
from actions import slots as checks
from actions.base import (
    Services,
    change_source,
    language_of,
)
from actions.test_drive.common import (
    AskAction,
    BookingView,
    customer_bookings,
    hidden_bookings,
    moment_of,
)
from actions.test_drive.validation import TestDriveValidation
from actions.verification import start_verification
from crm_bridge import bookings
from crm_bridge.catalog import dealer


class ManageBookingValidation(TestDriveValidation, ABC):
    """Finding the customer's booking: made in this conversation or with a number it verified;
    several to choose from are offered as buttons. By phone, the number the caller calls from is
    their own: given here, it opens their bookings without a code."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        phone = checks.clean_phone(tracker.get_slot("phone"))
        await contact.prove_caller(self.services, tracker, phone)
        return list(await super().run(dispatcher, tracker, domain))

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
        current = await chosen_booking(self.services, tracker)
        if current is None:
            return {"td_time": None, "td_booking": None}
        language = language_of(tracker)
        booking_id = current.id
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


async def chosen_booking(services: Services, tracker: Tracker) -> BookingView | None:
    """The booking chosen in the form, if this conversation may still see it."""
    booking_id = tracker.get_slot("td_booking")
    if not isinstance(booking_id, int | float) or isinstance(booking_id, bool):
        return None
    found = await customer_bookings(services, tracker)
    return next((b for b in found if b.id == int(booking_id)), None)


async def not_found(
    services: Services, dispatcher: CollectingDispatcher, tracker: Tracker, purpose: str
) -> list[EventType]:
    """Nothing this conversation may see: bookings made elsewhere with the number given need the
    number verified first; otherwise there is nothing to change."""
    phone = checks.clean_phone(tracker.get_slot("phone"))
    if phone is not None and await hidden_bookings(services, tracker):
        return await start_verification(services, dispatcher, tracker, phone, purpose)
    dispatcher.utter_message(response="utter_td_no_booking_found")
    return []


class ActionSubmitReschedule(AskAction):
    """The booking's new time, or why there was nothing to move."""

    def name(self) -> str:
        return "action_submit_reschedule"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        reset: list[EventType] = [SlotSet("td_time", None), SlotSet("td_booking", None)]
        found = await chosen_booking(self.services, tracker)
        if found is None:
            return reset + await not_found(self.services, dispatcher, tracker, "reschedule")
        if tracker.get_slot("td_time") is not None:
            dispatcher.utter_message(
                response="utter_td_rescheduled",
                model=found.model,
                when=fmt.when(found.start.astimezone(self.zone), language),
                consultant=found.consultant or "",
            )
        return reset


class ActionSubmitCancel(AskAction):
    """Cancel the chosen booking once confirmed; a no keeps it."""

    def name(self) -> str:
        return "action_submit_cancel"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        reset: list[EventType] = [SlotSet("td_confirmed", None), SlotSet("td_booking", None)]
        chosen = await chosen_booking(self.services, tracker)
        if chosen is None:
            return reset + await not_found(self.services, dispatcher, tracker, "cancel")
        booking_id = chosen.id
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
        ref = tracker.get_slot("proactive_ref")
        wanted = reminder_booking(ref)

        def upcoming(session: Session) -> tuple[BookingView | None, str]:
            found = bookings.bookings_for(session, now=now, sender_id=tracker.sender_id)
            if wanted is not None:  # the booking the scheduler reminds of, not the first one
                found = [b for b in found if b.id == wanted]
            showroom = dealer(session)
            address = ""
            if showroom is not None:
                address = showroom.address_en if language == "en" else showroom.address
            return (BookingView.of(found[0]) if found else None), address

        language = language_of(tracker)
        booking, address = await self.services.in_transaction(upcoming)
        done: list[EventType] = [SlotSet("proactive_done", ref)] if ref else []
        if booking is None:
            return done
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
        return [*done, ActionExecuted("action_listen")]


def reminder_booking(ref: Any) -> int | None:
    """The booking a reminder's ref names (``booking:{id}:{kind}:{start}``)."""
    parts = str(ref or "").split(":")
    return (
        int(parts[1]) if len(parts) >= 2 and parts[0] == "booking" and parts[1].isdigit() else None
    )
