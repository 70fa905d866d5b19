"""Conversation start: introduce the dealership and record the conversation."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import DatabaseAction, channel_of

logger = logging.getLogger(__name__)

# Slots that survive into a new session of the same sender.
CARRIED_OVER = ("language",)


class ActionSessionStart(DatabaseAction):
    """Starts a session: dealership names from configuration, the conversation recorded."""

    def name(self) -> str:
        return "action_session_start"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        settings = self.services.settings
        metadata: dict[str, Any] = tracker.get_slot("session_started_metadata") or {}
        channel = channel_of(tracker.get_latest_input_channel(), metadata)
        started_at = self.services.clock()
        await self.services.write(
            "conversation.start",
            {"sender_id": tracker.sender_id, "at": started_at.isoformat(), "channel": channel},
        )
        events: list[EventType] = [SessionStarted()]
        events += [
            SlotSet(name, tracker.get_slot(name))
            for name in CARRIED_OVER
            if tracker.get_slot(name) is not None
        ]
        events += [
            SlotSet("dealer_name", settings.dealer_name),
            SlotSet("dealer_name_en", settings.dealer_name_en),
            ActionExecuted("action_listen"),
        ]
        return events
