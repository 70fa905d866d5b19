"""The customer's privacy requests: opt out of proactive messages, erase personal data."""

from __future__ import annotations

import asyncio
from typing import Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import DatabaseAction
from actions.verification import start_verification, tail

# Slots cleared when the customer's data is erased (the needs stay: they identify no one).
ERASED_SLOTS: Final = ("name", "phone", "trade_in_vehicle", "consent", "verify_purpose")


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
    """ "删除我的个人信息": name, phone, email and transcripts go; anonymous counts stay.

    What goes is what this conversation is linked to; a record under a number it has not proved
    is its own stays until the number is verified, and the reply says which happened.
    """

    def name(self) -> str:
        return "action_erase_personal_data"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        at = self.services.clock()
        erased = await self.services.write(
            "privacy.erase", {"sender_id": tracker.sender_id, "at": at.isoformat()}
        )  # the outbox's hook redacts every linked transcript once this is written
        cleared: list[EventType] = [SlotSet(name, None) for name in ERASED_SLOTS]
        if erased is None:  # kept until the database is back; this transcript goes now
            await asyncio.to_thread(self.services.transcripts.redact, [tracker.sender_id])
            dispatcher.utter_message(response="utter_data_erasure_queued")
            return cleared
        kept = erased.get("kept_unverified") or []
        if kept:
            dispatcher.utter_message(response="utter_data_erased_conversation", tail=tail(kept[0]))
            return cleared + await start_verification(
                self.services, dispatcher, tracker, kept[0], "erase"
            )
        if erased.get("whole_customer"):
            dispatcher.utter_message(response="utter_data_erased")
        else:
            dispatcher.utter_message(response="utter_data_erased_chat")
        return cleared
