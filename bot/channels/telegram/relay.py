"""Live relay while a consultant handles a conversation.

The customer's messages reach the owner's private chat with the bot, tagged with the lead, and
stay in the transcript (appended without the assistant answering). What the owner writes there
reaches the customer on their own channel: Telegram directly; the web chat through the
conversation (``action_relay_messages`` says the queued messages); REST and phone customers get a
call-back task on their lead instead. Every message is a ``RelayMessage`` row first, so one that
could not be delivered is retried (``retry_undelivered``) and never lost.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session
from telegram import Message
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.channels.rasa import RasaUnavailable
from bot.channels.telegram import cards
from bot.channels.telegram.runtime import Telegram
from crm_bridge import handoff
from crm_bridge.conversations import telegram_chat
from crm_bridge.leads import log_event
from crm_bridge.models import Handoff, Lead, RelayMessage, Staff

logger = logging.getLogger(__name__)

RELAY_ACTION: Final = "action_relay_messages"


def media_dir(telegram: Telegram) -> Path:
    path = telegram.settings.var_dir / "media"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Outgoing:
    """A queued message to the consultant: where it goes and how it is tagged."""

    message_id: int
    owner_chat: int
    tag: str
    body: str


async def from_customer(
    telegram: Telegram, sender: str, text: str, name: str | None
) -> Outgoing | None:
    """A customer's message to the consultant handling them (and into the transcript); None,
    and nothing done, when the assistant answers this conversation."""
    now = telegram.clock()

    def queue(session: Session) -> Outgoing | None:
        live = handoff.handled_by(session, sender)
        if live is None or live.owner is None:
            return None
        row = handoff.relay(session, live, "to_consultant", body=text, now=now)
        data = cards.card_data(session, live)
        label = cards.tag(data, live.owner.language)
        who = data.name or name or ""
        return Outgoing(row.id, live.owner.telegram_user_id, f"{label} {who}".strip(), text)

    outgoing = await telegram.db(queue)
    if outgoing is None:
        return None
    try:
        await telegram.rasa.append(
            sender,
            [{"event": "user", "text": text, "input_channel": "telegram",
              "metadata": {"channel": "telegram", "relayed_to": "consultant"}}],
        )  # fmt: skip
    except RasaUnavailable:
        logger.warning("a relayed message could not be added to the transcript")
    await send_to_consultant(telegram, outgoing)
    return outgoing


async def send_to_consultant(telegram: Telegram, outgoing: Outgoing) -> None:
    """Deliver a queued message to the consultant's private chat and remember where it is."""
    try:
        sent = await telegram.bot.send_message(
            outgoing.owner_chat,
            f"💬 <b>{cards.e(outgoing.tag)}</b>\n{cards.e(outgoing.body)}",
            parse_mode=ParseMode.HTML,
        )
    except TelegramError as error:
        logger.warning("relay to a consultant failed (%s); retried later", type(error).__name__)
        return
    now = telegram.clock()

    def delivered(session: Session) -> None:
        row = session.get(RelayMessage, outgoing.message_id)
        if row is not None:
            row.delivered_at, row.staff_chat_message_id = now, sent.message_id

    await telegram.db(delivered)


async def photo_from_customer(telegram: Telegram, sender: str, message: Message) -> bool:
    """A customer's photo goes to the consultant handling them; False when nobody does."""
    outgoing = await from_customer(telegram, sender, message.caption or "📷", None)
    if outgoing is None:
        return False
    if message.photo:  # the same bot may send a file id it received
        await telegram.bot.send_photo(outgoing.owner_chat, message.photo[-1].file_id)
    elif message.document is not None:
        await telegram.bot.send_document(outgoing.owner_chat, message.document.file_id)
    return True


@dataclass(frozen=True)
class Target:
    """The conversation a consultant's message goes to."""

    handoff_id: int
    sender_id: str
    channel: str | None
    lead_id: int | None


def target_of(session: Session, staff: Staff, reply_to: int | None) -> Target | list[int]:
    """The conversation a consultant's message is for: the one whose message they reply to, or
    their only live conversation; else the ids of their live ones (they must choose)."""
    found = handoff.by_staff_message(session, staff, reply_to) if reply_to else None
    live = handoff.live_of(session, staff)
    if found is None and len(live) == 1:
        found = live[0]
    if found is None:
        return [h.lead_id or -h.id for h in live]
    return Target(found.id, found.sender_id, found.channel, found.lead_id)


@dataclass(frozen=True)
class Queued:
    """A message queued for a customer, as its delivery needs it."""

    row_id: int
    kind: str
    body: str | None
    author: str | None  # the consultant's name, shown before the text
    file_id: str | None = None  # a Telegram photo's file id (Telegram customers only)


async def to_customer(
    telegram: Telegram,
    staff_id: int,
    target: Target,
    *,
    kind: str,
    body: str | None,
    photo_file_id: str | None = None,
) -> str:
    """What the consultant wrote, to the customer on their channel. Returns how it went:
    "sent", "queued" (retried later) or "callback" (a call-back task on the lead)."""
    media = None
    if kind == "photo" and photo_file_id and telegram_chat(target.sender_id) is None:
        media = await _keep_photo(telegram, photo_file_id)
    now = telegram.clock()

    def queue(session: Session) -> Queued:
        live = session.get(Handoff, target.handoff_id)
        staff = session.get(Staff, staff_id)
        assert live is not None
        assert staff is not None
        row = handoff.relay(
            session, live, "to_customer", body=body, kind=kind, media=media, staff=staff, now=now
        )
        handoff.replied(session, live, staff, now)
        return Queued(row.id, kind, body, staff.name, photo_file_id)

    return await deliver(telegram, await telegram.db(queue), target)


async def deliver(telegram: Telegram, queued: Queued, target: Target) -> str:
    """Deliver a queued message on the customer's channel: "sent", "queued" or "callback"."""
    chat = telegram_chat(target.sender_id)
    if chat is not None:
        return await _to_telegram(telegram, queued, chat, target.sender_id)
    if target.channel == "web":
        try:
            await telegram.rasa.execute(target.sender_id, RELAY_ACTION, output_channel="latest")
        except RasaUnavailable:
            return "queued"
        return "sent"
    return await telegram.db(lambda s: _callback_task(s, queued.row_id, target, telegram))


async def _to_telegram(telegram: Telegram, queued: Queued, chat: int, sender: str) -> str:
    author = f"【{queued.author}】" if queued.author else ""
    body = queued.body or ""
    try:
        if queued.kind == "photo" and queued.file_id:
            await telegram.bot.send_photo(chat, queued.file_id, caption=(author + body)[:1024])
        elif queued.kind == "location" and body:
            latitude, _, longitude = body.partition(",")
            await telegram.bot.send_location(chat, float(latitude), float(longitude))
        else:
            await telegram.bot.send_message(chat, f"{author}{body}")
    except TelegramError as error:
        logger.warning("relay to a customer failed (%s); retried later", type(error).__name__)
        return "queued"
    now = telegram.clock()
    await telegram.db(lambda s: _mark(s, queued.row_id, now))
    said = f"📍 {body}" if queued.kind == "location" else f"{author}{body}"
    try:
        await telegram.rasa.append(sender, [{"event": "bot", "text": said}])
    except RasaUnavailable:
        logger.warning("a relayed reply could not be added to the transcript")
    return "sent"


def _mark(session: Session, row_id: int, now: datetime) -> None:
    row = session.get(RelayMessage, row_id)
    if row is not None:
        row.delivered_at = now


def _callback_task(session: Session, row_id: int, target: Target, telegram: Telegram) -> str:
    """A REST or phone customer cannot be written to: the consultant's words become a call-back
    task on the lead."""
    row = session.get(RelayMessage, row_id)
    lead = session.get(Lead, target.lead_id) if target.lead_id else None
    now = telegram.clock()
    if row is not None:
        row.delivered_at = now
        if lead is not None:
            log_event(session, lead, now, f"telegram:{row.staff_id}", "callback", "task", None,
                      row.body)  # fmt: skip
    return "callback"


async def _keep_photo(telegram: Telegram, file_id: str) -> str | None:
    """A consultant's photo for a web customer, kept under var/media and served by the gateway."""
    try:
        file = await telegram.bot.get_file(file_id)
        name = f"{uuid.uuid4().hex}.jpg"
        await file.download_to_drive(media_dir(telegram) / name)
    except TelegramError as error:
        logger.warning("a relayed photo could not be fetched (%s)", type(error).__name__)
        return None
    return name
