"""The customer's privacy requests: opt out of proactive messages, erase personal data."""

from __future__ import annotations

import asyncio
from typing import Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import DatabaseAction

# Slots cleared when the customer's data is erased (the needs stay: they identify no one).
ERASED_SLOTS: Final = ("name", "phone", "trade_in_vehicle", "consent")


class ActionOptOut(DatabaseAction):
    """ "退订": no reminder, survey or follow-up goes to this customer any more."""

    def name(self) -> str:
        return "action_opt_out"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        at = self.services.clock()
        await self.services.write(
            "privacy.opt_out", {"sender_id": tracker.sender_id, "at": at.isoformat()}
        )
        dispatcher.utter_message(response="utter_opted_out")
        return []


class ActionErasePersonalData(DatabaseAction):
    """ "删除我的个人信息": name, phone, email and transcripts go; anonymous counts stay."""

    def name(self) -> str:
        return "action_erase_personal_data"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        at = self.services.clock()
        senders = await self.services.write(
            "privacy.erase", {"sender_id": tracker.sender_id, "at": at.isoformat()}
        )
        # Kept for later if the database is down; this conversation's transcript goes now.
        await asyncio.to_thread(self.services.transcripts.redact, senders or [tracker.sender_id])
        dispatcher.utter_message(response="utter_data_erased")
        return [SlotSet(name, None) for name in ERASED_SLOTS]
