"""What every action needs, built once at start-up and handed to the actions."""

from __future__ import annotations

import asyncio
from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, TypeVar

from rasa_sdk import Action, Tracker
from sqlalchemy.orm import Session

from crm_bridge.db import SessionFactory, transaction
from crm_bridge.settings import Settings
from crm_bridge.types import utcnow

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
    """Settings, database and clock shared by the actions."""

    settings: Settings
    sessions: SessionFactory
    clock: Callable[[], datetime] = field(default=utcnow)

    def today(self) -> date:
        """Today's date at the dealership (its configured time zone)."""
        return self.clock().astimezone(self.settings.timezone).date()

    async def in_transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one database transaction, off the event loop."""

        def run() -> T:
            with transaction(self.sessions) as session:
                return work(session)

        return await asyncio.to_thread(run)


def channel_of(input_channel: str | None, metadata: dict[str, Any] | None = None) -> str | None:
    """The dealership channel for a Rasa input channel; a gateway may name it in the metadata."""
    named = (metadata or {}).get("channel")
    if isinstance(named, str) and named in CHANNEL_OF_INPUT.values():
        return named
    if input_channel is None:
        return None
    return CHANNEL_OF_INPUT.get(input_channel)


class DatabaseAction(Action, ABC):
    """An action that answers from, or writes to, the dealership database."""

    def __init__(self, services: Services) -> None:
        self.services = services


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
