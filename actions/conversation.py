"""Runs after every customer message: follow the customer's language, record the message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.base import Services, conversation_channel, message_metadata
from actions.language import detect_language
from actions.leads import previous_value, save_lead
from actions.slots import (
    clean_budget,
    clean_models,
    clean_payment,
    clean_timeline,
    is_correction,
    trade_in_mentioned,
)

# Answers to these questions are names, numbers or car names: they do not switch the language.
NAMES_AND_NUMBERS: Final = frozenset({"name", "phone", "trade_in_vehicle"})
# Messages that may say whether there is a car to trade in, outside the needs analysis.
TRADE_IN_STATEMENTS: Final = frozenset({"inform", "request_test_drive"})
# The needs that may be mentioned outside the needs analysis ("不对，预算是35万").
QUIET_CHECKS: Final[dict[str, Callable[[Any], Any]]] = {
    "car_models": lambda value: clean_models(value, None),
    "budget": clean_budget,
    "purchase_timeline": clean_timeline,
    "payment": clean_payment,
}


class ValidateSlotMappings(ValidationAction):
    """Global slot extraction (``action_validate_slot_mappings``) plus conversation bookkeeping."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The language of the latest message; unchanged when the message does not tell.

        A payload such as "/greet" (a button, the web widget's first message) carries no words;
        the client may say which language to use in the message metadata instead.
        """
        text: str = tracker.latest_message.get("text") or ""
        if text.startswith("/"):
            hint = message_metadata(tracker).get("language")
            return {"language": hint} if hint in ("zh", "en") else {}
        if tracker.get_slot("language") and tracker.get_slot("requested_slot") in NAMES_AND_NUMBERS:
            return {}  # "David Wang" answering "请问您怎么称呼？" keeps the conversation in Chinese
        detected = detect_language(text)
        return {"language": detected} if detected else {}

    async def validate_language(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Only the two languages the assistant speaks."""
        return {"language": value if value in ("zh", "en") else None}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        too_long = tracker.latest_message.get("too_long")
        if too_long:  # not parsed (nlu/limits.py): say why; the rephrase offer follows
            dispatcher.utter_message(response="utter_message_too_long", limit=too_long["limit"])
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        language = next(
            (e["value"] for e in events if e.get("event") == "slot" and e["name"] == "language"),
            tracker.get_slot("language"),
        )
        channel = conversation_channel(tracker)
        at = _message_time(tracker) or self.services.clock()
        await self.services.write(
            "conversation.message",
            {"sender_id": tracker.sender_id, "at": at.isoformat(), "channel": channel,
             "language": language},
        )  # fmt: skip
        if not tracker.active_loop.get("name"):
            # Outside the needs analysis, values are checked quietly and the lead kept current;
            # inside it, the form's validation speaks up about them.
            needs = self._needs_outside_form(tracker)
            tracker.add_slots(needs)
            events += needs
            if needs:
                await save_lead(self.services, tracker, events)
        return events

    def _needs_outside_form(self, tracker: Tracker) -> list[EventType]:
        extracted = tracker.slots_to_validate()
        events: list[EventType] = []
        for slot, check in QUIET_CHECKS.items():
            if slot not in extracted:
                continue
            value = check(extracted[slot])
            if slot == "car_models" and value:
                before = list(previous_value(tracker, slot) or [])
                text = tracker.latest_message.get("text") or ""
                if before and not is_correction(text):
                    value = before + [code for code in value if code not in before]
            events.append(
                SlotSet(slot, value if value is not None else previous_value(tracker, slot))
            )
        # "I have no car to trade in" said along the way is an answer the needs analysis skips.
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if tracker.get_slot("trade_in") is None and intent in TRADE_IN_STATEMENTS:
            mentioned = trade_in_mentioned(tracker.latest_message.get("text") or "")
            if mentioned is not None:
                events.append(SlotSet("trade_in", mentioned))
        return events


def _message_time(tracker: Tracker) -> datetime | None:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            stamp = event.get("timestamp")
            return datetime.fromtimestamp(stamp, UTC) if stamp else None
    return None
