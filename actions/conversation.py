"""Runs after every customer message: follow the customer's language, record the message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.base import Services, channel_of
from actions.language import detect_language
from crm_bridge import conversations


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
            hint = _message_metadata(tracker).get("language")
            return {"language": hint} if hint in ("zh", "en") else {}
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
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        language = next(
            (e["value"] for e in events if e.get("event") == "slot" and e["name"] == "language"),
            tracker.get_slot("language"),
        )
        channel = channel_of(tracker.get_latest_input_channel(), _message_metadata(tracker))
        at = _message_time(tracker) or self.services.clock()
        await self.services.in_transaction(
            lambda session: conversations.record_message(
                session, tracker.sender_id, at, channel=channel, language=language
            )
        )
        return events


def _message_metadata(tracker: Tracker) -> dict[str, Any]:
    """What the channel sent along with the latest message (the web widget's customData).

    Rasa keeps it on the user event; the parse result of a payload such as "/greet" drops it.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or tracker.latest_message.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def _message_time(tracker: Tracker) -> datetime | None:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            stamp = event.get("timestamp")
            return datetime.fromtimestamp(stamp, UTC) if stamp else None
    return None
