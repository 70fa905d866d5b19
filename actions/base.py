"""What every action needs, built once at start-up and handed to the actions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

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
