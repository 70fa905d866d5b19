"""A stand-in for where the scheduled jobs' messages go (a customer's conversation through Rasa,
the sales chat), recording what would have been sent; shared by the job tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
