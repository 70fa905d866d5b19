"""A statement that is really a follow-up question ("and the Q7?", "那白色的呢") continues the last
question about the cars; a statement that also asks for a test drive ("I'm Michael, 138…, cash,
can I test drive it tomorrow at 10am?") starts the booking; any other starts the needs analysis.
A follow-up the NLU was unsure of is still answered when it names a car, equipment or colour."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots as checks
from actions.base import DatabaseAction, Services, entity_values
from actions.vehicles.base import VehicleAnswer
from actions.vehicles.context import is_follow_up, last_topic

# What a follow-up may name: the car, a piece of equipment, a colour.
FOLLOW_UP_ENTITIES = ("car_model", "feature", "color")


def follow_up_answer(services: Services, tracker: Tracker) -> VehicleAnswer | None:
    """The answer a bare follow-up ("and the Q7?") continues: the last question's, if the
    message is short, reads as a follow-up and names a car, equipment or colour."""
    text: str = tracker.latest_message.get("text") or ""
    topic = last_topic(tracker)
    names_something = any(entity_values(tracker, e) for e in FOLLOW_UP_ENTITIES)
    if topic in VehicleAnswer.by_topic and names_something and is_follow_up(text):
        return VehicleAnswer.by_topic[topic](services)
    return None


class ActionRouteStatement(DatabaseAction):
    """``inform`` outside a form: a bare follow-up is answered with the last question's topic,
    anything else ("我想买Q5L", "预算30万") starts the needs analysis."""

    def name(self) -> str:
        return "action_route_statement"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text: str = tracker.latest_message.get("text") or ""
        answer = follow_up_answer(self.services, tracker)
        if answer is not None:
            return await answer.run(dispatcher, tracker, domain)
        if checks.asks_for_test_drive(text):
            # The needs said in it are already kept (action_validate_slot_mappings); the car and
            # the time go to the booking, which asks only for what is still missing.
            models, times = entity_values(tracker, "car_model"), entity_values(tracker, "time")
            events: list[EventType] = [SlotSet("td_model", models[-1])] if len(models) == 1 else []
            if times:
                events.append(SlotSet("td_time", times[-1]))
            return [*events, FollowupAction("action_start_test_drive")]
        return [FollowupAction("qualification_form")]


class ActionUnsure(DatabaseAction):
    """The NLU was unsure (``nlu_fallback``): a bare follow-up naming a car, equipment or colour
    is answered all the same; anything else is asked to rephrase, with the main choices."""

    def name(self) -> str:
        return "action_unsure"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        answer = follow_up_answer(self.services, tracker)
        if answer is not None:
            return await answer.run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_default")
        return []
