"""What the customer-facing jobs (reminders, surveys, nudges, proactive messages) work with,
built once at start-up and handed over with ``configure``: persistent jobs are module-level
functions that take ids only, so their dependencies cannot travel with them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.orm import Session

from bot.jobs.channels import ConsultantChannel, CustomerChannel
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.quiet import QuietHours
from crm_bridge.surveys.config import SurveyConfig
from crm_bridge.types import utcnow


async def _log_only(text: str) -> None:
    """Where no manager can be reached, the failure stays in the notifications table."""


@dataclass(frozen=True)
class Runtime:
    """The database, the channels, the clock, the quiet hours and the survey configuration."""

    sessions: SessionFactory
    zone: ZoneInfo
    scheduler: BaseScheduler
    customers: CustomerChannel
    consultants: ConsultantChannel
    clock: Callable[[], datetime] = utcnow
    # None: no quiet hours (tests); the gateway passes the configured ones.
    quiet: QuietHours | None = None
    surveys: SurveyConfig | None = None
    # Tells the managers about a message that could not be delivered.
    report: Callable[[str], Awaitable[None]] = field(default=_log_only)
    # The line calls are placed on (bot.channels.phone.line.PhoneLine); None: no calls.
    phone: Any = None

    def allowed_at(self, at: datetime) -> datetime:
        """``at``, or the end of the quiet hours it falls in."""
        return self.quiet.next_allowed(at) if self.quiet is not None else at

    async def db(self, work: Callable[[Session], Any]) -> Any:
        """``work`` in one transaction, in a thread."""
        return await in_thread(self.sessions, work)


async def in_thread(sessions: SessionFactory, work: Callable[[Session], Any]) -> Any:
    """``work`` in one transaction of ``sessions``, in a thread (off the event loop)."""
    return await asyncio.to_thread(_in_transaction, sessions, work)


def _in_transaction(sessions: SessionFactory, work: Callable[[Session], Any]) -> Any:
    with transaction(sessions) as session:
        return work(session)


_runtime: Runtime | None = None


def configure(runtime: Runtime | None) -> None:
    """Hand the job functions their dependencies (once, when the gateway starts)."""
    global _runtime
    _runtime = runtime


def current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("bot.jobs.runtime.configure() was not called at start-up")
    return _runtime
