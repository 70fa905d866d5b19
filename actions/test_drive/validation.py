"""Checking the answers of the booking form: model, time, contact, licence, confirmation."""

from __future__ import annotations

from abc import ABC
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import exc
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions import slots as checks
from actions.base import (
    change_source,
    conversation_channel,
    language_of,
)
from actions.forms import CheckedFormValidation, just_answered
from actions.leads import save_lead
from actions.test_drive.common import (
    BOOK_FORM,
    LICENCE_NO,
    LICENCE_YES,
    OFFERED,
    UNAVAILABLE,
    BookingView,
    booking_questions,
    day_only,
    model_buttons,
    moment_of,
    slot_buttons,
)
from crm_bridge import bookings
from crm_bridge.bookings import Slot
from crm_bridge.catalog import active_models
from crm_bridge.outbox import unreachable


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
        if any(word in text for word in LICENCE_NO):
            return {"driving_licence": False}
        if any(word in text for word in LICENCE_YES):
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
                max_active=self.services.settings.max_active_bookings,
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
        except bookings.TooManyBookings as held:
            # The form ends here (a "no" to the booking); moving or cancelling one is offered.
            dispatcher.utter_message(response="utter_td_too_many_bookings", limit=held.limit)
            return {"td_confirmed": False}
        return {"td_confirmed": True, "td_booking": booked.id}
