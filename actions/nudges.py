"""The one friendly nudge to a prospect who stopped answering in the middle of the needs analysis
or a test-drive booking, sent by the scheduler the next day (bot/jobs/nudges.py): it says where
they left off; the form is still waiting, so their reply carries on from there."""

from __future__ import annotations

from typing import Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import language_of
from actions.forms import LABELS

NUDGES: Final = {
    "qualification_form": "utter_nudge_qualification",
    "test_drive_form": "utter_nudge_test_drive",
}
# Question names of the booking form that have no label of their own.
STEPS: Final = {
    "zh": {"td_time": "试驾时间", "consent": "同意我们保存联系方式", "driving_licence": "驾照",
           "td_confirmed": "确认预约", "trade_in_vehicle": "置换车辆"},
    "en": {"td_time": "the time", "consent": "your consent to keep your contact details",
           "driving_licence": "your driving licence", "td_confirmed": "confirming the booking",
           "trade_in_vehicle": "your current car"},
}  # fmt: skip


class ActionNudge(Action):
    """Run from outside a customer turn: a reminder of the open question, once."""

    def name(self) -> str:
        return "action_nudge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ref = tracker.get_slot("proactive_ref")
        done: list[EventType] = [SlotSet("proactive_done", ref)] if ref else []
        loop = tracker.active_loop.get("name")
        response = NUDGES.get(str(loop))
        if response is None:  # the customer carried on meanwhile: nothing to nudge
            return done
        language = language_of(tracker)
        slot = str(tracker.get_slot("requested_slot") or "")
        step = LABELS[language].get(slot) or STEPS[language].get(slot) or ""
        dispatcher.utter_message(response=response, step=step)
        # The conversation waits for the customer again, in the same form.
        return [*done, ActionExecuted("action_listen")]
