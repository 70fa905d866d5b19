"""What the Telegram handlers share, built once at start-up: the Application, the database, the
Rasa client, the clock (``of(context)`` from a handler)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session
from telegram import Bot, Update
from telegram.ext import Application, ContextTypes

from bot.channels.rasa import RasaClient
from bot.channels.telegram import updates as inbound
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.settings import Settings
from crm_bridge.types import utcnow

T = TypeVar("T")


@dataclass
class Telegram:
    """What the Telegram handlers share, built once at start-up."""

    settings: Settings
    sessions: SessionFactory
    rasa: RasaClient
    application: Application[Any, Any, Any, Any, Any, Any]
    clock: Callable[[], datetime] = utcnow

    @property
    def bot(self) -> Bot:
        return cast(Bot, self.application.bot)

    async def db(self, work: Callable[[Session], T]) -> T:
        """``work`` in one transaction, off the event loop."""

        def run() -> T:
            with transaction(self.sessions) as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def accept(self, payload: dict[str, Any]) -> bool:
        """Record an update from the webhook and queue it; False for a repeated delivery."""
        now = self.clock()
        if not await self.db(lambda s: inbound.record(s, payload, now)):
            return False
        await self.application.update_queue.put(Update.de_json(payload, self.bot))
        return True

    async def resume(self) -> int:
        """Queue the updates a previous run recorded but did not finish."""
        rows = await self.db(lambda s: [(r.payload, r.update_id) for r in inbound.pending(s)])
        for payload, _ in rows:
            await self.application.update_queue.put(Update.de_json(payload, self.bot))
        return len(rows)

    async def finish(self, update_id: int) -> None:
        now = self.clock()
        await self.db(lambda s: inbound.done(s, update_id, now))


def of(context: ContextTypes.DEFAULT_TYPE) -> Telegram:
    """The channel's shared state, from a handler's context."""
    return cast(Telegram, context.bot_data["telegram"])
