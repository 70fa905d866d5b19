"""A stand-in for where the scheduled jobs' messages go (a customer's conversation through Rasa,
the sales chat), recording what would have been sent; shared by the job tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bot.channels.rasa import RasaClient
from bot.channels.telegram.application import build_application
from bot.channels.telegram.runtime import Telegram
from crm_bridge.db import SessionFactory
from tests.conftest import make_settings
from tests.telegram_fake import TelegramFake


@dataclass
class Clock:
    """A clock the test moves."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Outbox:
    """Records actions run in conversations and notices; ``fail`` makes the next runs fail,
    ``ran_anyway`` makes them fail after Rasa ran the action (a timeout)."""

    actions: list[tuple[str, str]] = field(default_factory=list)
    slots: list[dict[str, Any]] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    fail: bool = False
    ran_anyway: bool = False
    # The conversation marks the actions leave (``proactive_done``), as Rasa's tracker keeps them.
    marks: set[tuple[str, str]] = field(default_factory=set)
    checked: list[tuple[str, str]] = field(default_factory=list)
    waiting: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    async def run_action(
        self, sender_id: str, action: str, slots: dict[str, Any] | None = None
    ) -> list[dict[str, Any]] | None:
        if self.fail and not self.ran_anyway:
            raise ConnectionError("Rasa is down")
        self.actions.append((sender_id, action))
        self.slots.append(dict(slots or {}))
        ref = (slots or {}).get("proactive_ref")
        if ref:
            self.marks.add((sender_id, str(ref)))
        if self.fail:
            raise TimeoutError("Rasa took too long to answer")
        return None

    async def send(self, sender_id: str, messages: list[dict[str, Any]]) -> None:
        raise AssertionError("only Telegram conversations are sent by the gateway")

    async def delivered(self, sender_id: str, ref: str) -> list[dict[str, Any]] | None:
        self.checked.append((sender_id, ref))
        return [] if (sender_id, ref) in self.marks else None

    async def waiting_in(self, sender_id: str) -> tuple[str, str | None] | None:
        return self.waiting.get(sender_id)

    async def notify(self, consultant: str, text: str) -> None:
        self.notices.append((consultant, text))

    async def report(self, text: str) -> None:
        self.reports.append(text)


@asynccontextmanager
async def staff_telegram(
    tmp_path: Path,
    sessions: SessionFactory,
    fake: TelegramFake,
    clock: Callable[[], datetime],
    **overrides: object,
) -> AsyncIterator[Telegram]:
    """The gateway's Telegram side for the staff jobs, talking to the fake Bot API (no Rasa);
    ``overrides`` are further settings."""
    settings = make_settings(
        tmp_path,
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.base_url,
        telegram_webhook_url="https://dealer.example/telegram/webhook",
        **overrides,
    )
    application = build_application(settings)
    await application.initialize()
    try:
        async with httpx.AsyncClient() as client:
            rasa = RasaClient("http://127.0.0.1:9", "t", "t", client)
            yield Telegram(settings, sessions, rasa, application, clock=clock)
    finally:
        await application.shutdown()
