"""Complaint-ticket jobs, run by the gateway's scheduler every few seconds (``tickets:tick``).

- A new ticket is alerted once to every manager in their private chat and to the sales chat
  (``TELEGRAM_SALES_CHAT_ID``) when one is configured: the survey's answers, the customer's words,
  the last turns of the conversation, who the customer is, and how to act (``/ticket``).
- A ticket still open (nobody took it) ``TICKET_ESCALATE_HOURS`` after its alert or its last
  escalation goes to the managers again, at most once per period.

Alerts and escalations are claimed in the database before they are sent (conditional updates),
so a rerun tick never sends one twice; an alert that reached nobody is released and tried again
by the next tick. With no manager registered and no sales chat, alerts wait for one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Final

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.orm import Session
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.channels.telegram.runtime import Telegram
from bot.channels.telegram.ticket_commands import card_text
from bot.jobs.scheduler import every
from crm_bridge import staff, ticket_alerts, tickets
from crm_bridge.tickets import TicketView

logger = logging.getLogger(__name__)

TICK_JOB_ID: Final = "tickets:tick"
TICK: Final = timedelta(seconds=10)

# A chat to tell and the language to tell it in (None: the sales chat, in Chinese).
Chat = tuple[int, str | None]

_telegram: Telegram | None = None


def configure(telegram: Telegram | None) -> None:
    """Hand the jobs the Telegram channel (None: Telegram is off and the jobs do nothing); the
    escalation period is its settings' ``ticket_escalate_hours``."""
    global _telegram
    _telegram = telegram


def schedule(scheduler: BaseScheduler) -> None:
    every(scheduler, tick, TICK_JOB_ID, TICK, grace=TICK * 10)


async def tick() -> None:
    """Alerts and escalations that are due now."""
    telegram = _telegram
    if telegram is None:
        return
    for step in (alert, escalate):
        try:
            await step(telegram)
        except Exception:  # one failing step must not stop the other; the next tick retries
            logger.exception("ticket job step %s failed", step.__name__)


def managers(session: Session) -> list[Chat]:
    return [(m.telegram_user_id, m.language) for m in staff.of_role(session, "manager")]


async def alert(telegram: Telegram) -> int:
    """Alert the managers (and the sales chat) of every ticket not alerted yet, once."""
    pending = await telegram.db(lambda s: [found.id for found in ticket_alerts.to_alert(s)])
    if not pending:
        return 0
    chats = await telegram.db(managers)
    sales_chat = telegram.settings.telegram_sales_chat_id
    if sales_chat is not None:
        chats.append((sales_chat, None))
    if not chats:
        return 0
    alerted = 0
    for ticket_id in pending:
        now = telegram.clock()
        found = await telegram.db(partial(_claim_alert, ticket_id=ticket_id, now=now))
        if found is None:
            continue  # alerted meanwhile
        reached = await _send(telegram, found, chats)
        if reached:
            note = f"{reached}/{len(chats)} chats"
            await telegram.db(
                partial(ticket_alerts.alerted, ticket_id=ticket_id, now=now, note=note)
            )
            alerted += 1
        else:
            await telegram.db(
                partial(ticket_alerts.release_alert, ticket_id=ticket_id, claimed_at=now)
            )
    return alerted


async def escalate(telegram: Telegram) -> int:
    """Tell the managers again of tickets nobody has taken for ``ticket_escalate_hours``."""
    hours = telegram.settings.ticket_escalate_hours
    now = telegram.clock()
    due = await telegram.db(
        lambda s: [found.id for found in ticket_alerts.to_escalate(s, now, hours)]
    )
    if not due:
        return 0
    chats = await telegram.db(managers)
    if not chats:
        return 0
    escalated = 0
    for ticket_id in due:
        found = await telegram.db(
            partial(_claim_escalation, ticket_id=ticket_id, now=now, hours=hours)
        )
        if found is None:
            continue  # taken or escalated meanwhile
        await _send(telegram, found, chats, escalation=(hours, found.escalations))
        escalated += 1
    return escalated


def _claim_alert(session: Session, ticket_id: int, now: datetime) -> TicketView | None:
    if not ticket_alerts.claim_alert(session, ticket_id, now):
        return None
    return tickets.view(session, tickets.get(session, ticket_id))


def _claim_escalation(
    session: Session, ticket_id: int, now: datetime, hours: int
) -> TicketView | None:
    if not ticket_alerts.claim_escalation(session, ticket_id, now, hours):
        return None
    return tickets.view(session, tickets.get(session, ticket_id))


async def _send(
    telegram: Telegram,
    found: TicketView,
    chats: list[Chat],
    escalation: tuple[int, int] | None = None,
) -> int:
    """The ticket's card to each chat in its language; how many it reached."""
    zone = telegram.settings.timezone
    reached = 0
    for chat_id, language in chats:
        text = card_text(found, language, zone, escalation=escalation)
        try:
            await telegram.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
        except TelegramError as error:
            logger.warning("a ticket alert was not delivered (%s)", type(error).__name__)
            continue
        reached += 1
    return reached
