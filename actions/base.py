"""What every action needs, built once at start-up and handed to the actions."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import exc
from sqlalchemy.orm import Session

from actions.transcripts import Transcripts
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.outbox import Outbox, unreachable
from crm_bridge.settings import Settings
from crm_bridge.sms import TwilioSms
from crm_bridge.types import utcnow

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Rasa input channel names -> the channel recorded in the dealership database.
CHANNEL_OF_INPUT: Final = {
    "rest": "rest",
    "socketio": "web",
    "telegram": "telegram",
    "phone": "phone",
}


@dataclass(frozen=True)
class Services:
    """Settings, database, the durable outbox for writes, transcripts, the SMS sender (None when
    no provider is configured) and the clock."""

    settings: Settings
    sessions: SessionFactory
    outbox: Outbox
    transcripts: Transcripts
    clock: Callable[[], datetime] = field(default=utcnow)
    sms: TwilioSms | None = None

    def today(self) -> date:
        """Today's date at the dealership (its configured time zone)."""
        return self.clock().astimezone(self.settings.timezone).date()

    async def in_transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one database transaction, off the event loop."""

        def run() -> T:
            with transaction(self.sessions) as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def write(self, operation: str, payload: dict[str, Any]) -> Any:
        """A write through the outbox: done now, or kept and done when the database is back."""
        return await asyncio.to_thread(self.outbox.submit, operation, payload)


def channel_of(input_channel: str | None, metadata: dict[str, Any] | None = None) -> str | None:
    """The dealership channel for a Rasa input channel; a gateway may name it in the metadata."""
    named = (metadata or {}).get("channel")
    if isinstance(named, str) and named in CHANNEL_OF_INPUT.values():
        return named
    if input_channel is None:
        return None
    return CHANNEL_OF_INPUT.get(input_channel)


def conversation_channel(tracker: Tracker) -> str | None:
    """The dealership channel of the conversation's latest message."""
    return channel_of(tracker.get_latest_input_channel(), message_metadata(tracker))


def change_source(tracker: Tracker) -> str:
    """How a change made in this conversation is logged: "conversation:<channel>"."""
    return f"conversation:{conversation_channel(tracker) or 'unknown'}"


class DatabaseAction(Action, ABC):
    """An action that answers from, or writes to, the dealership database.

    Subclasses implement ``respond``. If the database cannot be reached, the customer is told so
    plainly instead of getting no answer at all.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            return await self.respond(dispatcher, tracker, domain)
        except exc.SQLAlchemyError as error:
            if not unreachable(error):
                raise
            logger.warning("%s: database unreachable: %s", self.name(), error)
            dispatcher.utter_message(response="utter_system_busy")
            return []

    @abstractmethod
    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """What the action does; database errors are handled by ``run``."""


def language_of(tracker: Tracker) -> str:
    """The language to answer in: the customer's, Chinese by default."""
    return "en" if tracker.get_slot("language") == "en" else "zh"


def asked_models(tracker: Tracker) -> list[str]:
    """Catalog codes named in the latest message."""
    return [v for v in entity_values(tracker, "car_model") if isinstance(v, str)]


def entity_values(tracker: Tracker, entity: str) -> list[Any]:
    """Normalized values of ``entity`` in the latest message, in order, without repeats.

    Values the NLU could not normalize ("normalized": false) are left out.
    """
    values: list[Any] = []
    for found in tracker.latest_message.get("entities") or []:
        if found.get("entity") != entity or found.get("normalized") is False:
            continue
        if found.get("value") not in values:
            values.append(found.get("value"))
    return values


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    """What the channel sent along with the latest message (the web widget's customData).

    Rasa keeps it on the user event; the parse result of a payload such as "/greet" drops it.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or tracker.latest_message.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}
