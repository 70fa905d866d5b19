"""What every answer about the cars shares: the subject from the conversation, follow-ups routed
to the last question's topic, interest and open questions kept for the lead, and a next step."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots as checks
from actions.base import DatabaseAction
from actions.leads import interest_events, save_lead
from actions.next_step import offer
from actions.vehicles.context import (
    OPEN,
    Subject,
    is_follow_up,
    last_topic,
    remember,
    subject_of,
)

LEAD_SLOTS = {"car_models", "budget", OPEN}


class VehicleAnswer(DatabaseAction, ABC):
    """An answer about the cars (topic ``price``, ``info``, ``feature``, ``stock``, ``compare``).

    Needs in the domain: the slots ``focus_model``, ``last_question``, ``presented_models``,
    ``open_questions``, ``pending_offer`` and the ``utter_next_*`` responses of actions.next_step.
    A bare follow-up ("那Q7呢") is answered with the topic of the previous question, whatever
    intent it was read as.
    """

    topic: ClassVar[str]
    # Without a model named or in focus the answer is "which model?" (the next step's buttons).
    needs_model: ClassVar[bool] = True
    by_topic: ClassVar[dict[str, type[VehicleAnswer]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "topic" in cls.__dict__:
            VehicleAnswer.by_topic[cls.topic] = cls

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        subject = subject_of(tracker)
        previous = last_topic(tracker)
        answering: VehicleAnswer = self
        if is_follow_up(subject.text) and previous in self.by_topic and previous != self.topic:
            answering = self.by_topic[previous](self.services)
        if answering.needs_model and not subject.models:
            return await answering.finish(dispatcher, tracker, subject, [])
        return await answering.answer(dispatcher, tracker, subject)

    @abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, subject: Subject
    ) -> list[EventType]:
        """Say the answer and end with ``finish``."""

    async def finish(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        subject: Subject,
        events: list[EventType],
        just_presented: bool = False,
        suggestions: list[str] | None = None,
    ) -> list[EventType]:
        """Remember the question, keep the lead current, and offer the next step."""
        events = [*events, *remember(tracker, self.topic, subject), *interest_events(tracker)]
        if subject.model and just_presented:
            presented = list(tracker.get_slot("presented_models") or [])
            if subject.model not in presented:
                events.append(SlotSet("presented_models", [*presented, subject.model]))
        if any(e.get("event") == "slot" and e.get("name") in LEAD_SLOTS for e in events):
            await save_lead(self.services, tracker, events)
        if tracker.active_loop.get("name"):
            return events  # the form asks its own next question
        # A second request in one message ("Q5L多少钱，能试驾吗"): after the answer, the booking.
        if checks.asks_for_test_drive(subject.text) and self.topic != "test_drive":
            if subject.model:
                events.append(SlotSet("td_model", subject.model))
            return [*events, FollowupAction("action_start_test_drive")]
        return events + offer(dispatcher, tracker, subject.model, just_presented, suggestions)
