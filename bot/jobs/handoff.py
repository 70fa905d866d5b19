"""Hand-off jobs, run by the gateway's scheduler every few seconds (``handoff:tick``).

- A new hand-off's lead card goes to the sales chat (``TELEGRAM_SALES_CHAT_ID``), or to every
  consultant privately when no sales chat is configured.
- A card nobody claimed by its deadline (minutes counted in opening hours) goes to the managers.
- An owner who has not answered the customer by the reply deadline is reminded once; if they still
  have not answered after as long again, the managers are told.
- Relayed messages that could not be delivered are tried again.

Everything reads the database and is idempotent: a tick that fails is done by the next one.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import partial
from typing import Final

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram.error import TelegramError

from bot.channels.telegram import cards, relay, staff_chat
from bot.channels.telegram import updates as inbound
from bot.channels.telegram.runtime import Telegram
from bot.jobs.scheduler import every
from crm_bridge import handoff, staff
from crm_bridge.models import Handoff, RelayMessage, Staff

logger = logging.getLogger(__name__)

TICK_JOB_ID: Final = "handoff:tick"
TICK: Final = timedelta(seconds=3)
# A relayed message is retried when it is older than this (the first try is immediate).
RETRY_AFTER: Final = timedelta(seconds=15)
# A stored photo younger than this may not have its message row yet.
MEDIA_SETTLE: Final = timedelta(minutes=2)

NOTES: Final = {
    "zh": {"remind": "⏰ 提醒：{tag} 的客户还在等您回复。",
           "late": "⚠️ {name} 认领的 {tag} 超时未回复客户。"},
    "en": {"remind": "⏰ Reminder: the customer of {tag} is waiting for your answer.",
           "late": "⚠️ {name} has not answered the customer of {tag} in time."},
}  # fmt: skip

# A message to a customer to try again, and where it goes.
Retry = tuple[relay.Queued, relay.Target]

_telegram: Telegram | None = None


def configure(telegram: Telegram | None) -> None:
    """Hand the jobs the Telegram channel (None: Telegram is off and the jobs do nothing)."""
    global _telegram
    _telegram = telegram


def schedule(scheduler: BaseScheduler) -> None:
    every(scheduler, tick, TICK_JOB_ID, TICK, grace=TICK * 10)


def note(key: str, language: str | None, **values: str) -> str:
    return NOTES["en" if language == "en" else "zh"][key].format(**values)


async def tick() -> None:
    """Cards, escalations, reminders and relay retries that are due now."""
    telegram = _telegram
    if telegram is None:
        return
    for step in (announce, escalate_unclaimed, chase_owners, retry_relays, prune):
        try:
            await step(telegram)
        except Exception:  # one failing step must not stop the others; the next tick retries
            logger.exception("hand-off job step %s failed", step.__name__)


async def announce(telegram: Telegram) -> int:
    """Post the lead card of every hand-off not announced yet."""
    pending = await telegram.db(lambda s: [h.id for h in handoff.unannounced(s)])
    if not pending:
        return 0
    sales_chat = telegram.settings.telegram_sales_chat_id
    chats = (
        [sales_chat]
        if sales_chat is not None
        else await telegram.db(
            lambda s: [c.telegram_user_id for c in staff.of_role(s, "consultant")]
        )
    )
    posted = 0
    for handoff_id in pending:
        if chats:
            posted += await staff_chat.post_card(telegram, handoff_id, chats, "card")
        await telegram.db(partial(_set, handoff_id=handoff_id, announced_at=telegram.clock()))
    return posted


async def escalate_unclaimed(telegram: Telegram) -> int:
    """Cards not claimed in time go to the managers (once), with Claim still on them."""
    now = telegram.clock()
    due = await telegram.db(lambda s: [h.id for h in handoff.claim_overdue(s, now)])
    managers = await telegram.db(
        lambda s: [m.telegram_user_id for m in staff.of_role(s, "manager")]
    )
    for handoff_id in due:
        await telegram.db(partial(_set, handoff_id=handoff_id, escalated_at=now))
        if managers:
            await staff_chat.post_card(telegram, handoff_id, managers, "escalation")
    return len(due)


async def chase_owners(telegram: Telegram) -> int:
    """Remind an owner who has not answered; tell the managers when the reminder did not help."""
    now = telegram.clock()
    minutes = timedelta(minutes=telegram.settings.handoff_reply_minutes)

    def due(session: Session) -> list[tuple[int, str, int, str, str | None]]:
        found = []
        for h in handoff.reply_overdue(session, now):
            owner = h.owner
            if owner is None:
                continue
            tag = cards.tag(cards.card_data(session, h), owner.language)
            if h.reminded_at is None:
                h.reminded_at, h.reply_due_at = now, now + minutes
                found.append((h.id, "remind", owner.telegram_user_id, tag, owner.language))
            else:
                h.reply_escalated_at = now
                found.append((h.id, "late", 0, tag, owner.name))
        return found

    chased = await telegram.db(due)
    managers = await telegram.db(
        lambda s: [(m.telegram_user_id, m.language) for m in staff.of_role(s, "manager")]
    )
    for _, kind, chat, tag, extra in chased:
        try:
            if kind == "remind":
                await telegram.bot.send_message(chat, note("remind", extra, tag=tag))
            else:
                for manager, language in managers:
                    await telegram.bot.send_message(
                        manager, note("late", language, name=extra or "", tag=tag)
                    )
        except TelegramError as error:
            logger.warning("a hand-off reminder was not delivered (%s)", type(error).__name__)
    return len(chased)


async def retry_relays(telegram: Telegram) -> int:
    """Relayed messages still undelivered after a while are tried again."""
    cutoff = telegram.clock() - RETRY_AFTER

    def stale(session: Session) -> tuple[list[relay.Outgoing], list[Retry]]:
        to_staff: list[relay.Outgoing] = []
        to_customers: list[Retry] = []
        for row in handoff.undelivered(session, "to_consultant"):
            h = session.get(Handoff, row.handoff_id)
            if row.created_at <= cutoff and h is not None and h.owner is not None:
                row.attempts += 1
                to_staff.append(relay.Outgoing(row.id, h.owner.telegram_user_id,
                                               cards.tag(cards.card_data(session, h), None),
                                               row.body or ""))  # fmt: skip
        for row in handoff.undelivered(session, "to_customer"):
            h = session.get(Handoff, row.handoff_id)
            if row.created_at <= cutoff and h is not None:
                row.attempts += 1
                target = relay.Target(h.id, h.sender_id, h.channel, h.lead_id)
                queued = relay.Queued(row.id, row.kind, row.body, _author(session, row))
                to_customers.append((queued, target))
        return to_staff, to_customers

    to_staff, to_customers = await telegram.db(stale)
    for outgoing in to_staff:
        await relay.send_to_consultant(telegram, outgoing)
    for queued, target in to_customers:
        await relay.deliver(telegram, queued, target)
    return len(to_staff) + len(to_customers)


async def prune(telegram: Telegram) -> int:
    """Forget processed updates; delete relayed photos no message refers to any more (an
    erasure blanks the reference, this removes the file)."""
    now = telegram.clock()
    pruned = await telegram.db(lambda s: inbound.prune(s, now))
    folder = telegram.settings.var_dir / "media"
    if not folder.is_dir():
        return pruned
    kept = await telegram.db(
        lambda s: set(s.scalars(select(RelayMessage.media).where(RelayMessage.media.is_not(None))))
    )
    settled = time.time() - MEDIA_SETTLE.total_seconds()  # a photo is saved before its message
    for path in folder.iterdir():
        if path.name not in kept and path.stat().st_mtime < settled:
            path.unlink(missing_ok=True)
            pruned += 1
    return pruned


def _author(session: Session, row: RelayMessage) -> str | None:
    author = session.get(Staff, row.staff_id) if row.staff_id else None
    return author.name if author is not None else None


def _set(session: Session, handoff_id: int, **values: object) -> None:
    row = session.get(Handoff, handoff_id)
    if row is not None:
        for name, value in values.items():
            setattr(row, name, value)
