"""The sales team on Telegram: claiming lead cards and talking to customers through the bot.

Only registered, active staff (``crm_bridge.staff``) reach these handlers; anyone else who uses
a staff command or presses Claim is refused and learns nothing. Commands are in
``staff_commands``.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Final

from sqlalchemy.orm import Session
from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes, filters

from bot.channels.telegram import cards, relay
from bot.channels.telegram.runtime import Telegram, of
from bot.channels.telegram.texts import language_of
from crm_bridge import handoff, staff
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.models import Handoff, HandoffCard, Staff

logger = logging.getLogger(__name__)

# How long the set of staff ids is trusted before it is read again.
STAFF_CACHE_SECONDS: Final = 10.0

TEXTS: Final = {
    "zh": {
        "not_staff": "此命令仅供本店销售团队使用。",
        "claim_refused": "只有本店销售团队可以认领线索。",
        "claimed": "✅ 线索已归您。在这里直接回复即可与客户对话，/done 结束并交还给助手。",
        "taken": "该线索已由 {name} 接待。",
        "gone": "该线索已结束。",
        "choose": "您正在接待多位客户，请回复某位客户的消息，或用 /reply <线索号> <内容>。",
        "idle": "您当前没有在接待的客户。/leads 查看您的线索，/help 查看命令。",
        "sent": "✓",
        "queued": "客户暂时收不到，稍后会自动重发。",
        "callback": "该客户不在可直接回复的渠道，已记为回电任务（线索 #{lead}）。",
    },
    "en": {
        "not_staff": "This command is for the dealership's sales team.",
        "claim_refused": "Only the dealership's sales team can claim leads.",
        "claimed": "✅ The lead is yours. Write here to talk to the customer; /done hands them "
        "back to the assistant.",
        "taken": "{name} has already claimed this lead.",
        "gone": "This lead is closed.",
        "choose": "You are handling several customers: reply to one of their messages, or use "
        "/reply <lead id> <text>.",
        "idle": "You are not handling a customer right now. /leads shows your leads, /help the "
        "commands.",
        "sent": "✓",
        "queued": "The customer can't be reached right now; it will be sent again shortly.",
        "callback": "This customer is on a channel that can't be written to: noted as a call-back "
        "task on lead #{lead}.",
    },
}


def say(key: str, language: str | None, **values: object) -> str:
    text = TEXTS["en" if language == "en" else "zh"][key]
    return text.format(**values) if values else text


class StaffFilter(filters.MessageFilter):
    """Messages from registered, active staff (the ids are read at most every few seconds)."""

    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__(name="StaffFilter")
        self.sessions = sessions
        self._ids: frozenset[int] = frozenset()
        self._read_at = float("-inf")

    def ids(self) -> frozenset[int]:
        if time.monotonic() - self._read_at > STAFF_CACHE_SECONDS:
            with transaction(self.sessions) as session:
                self._ids = frozenset(s.telegram_user_id for s in staff.listing(session))
            self._read_at = time.monotonic()
        return self._ids

    def filter(self, message: Message) -> bool:
        return message.from_user is not None and message.from_user.id in self.ids()


async def me(telegram: Telegram, update: Update) -> Staff | None:
    """The staff member behind the update (their Telegram language remembered), or None."""
    user = update.effective_user
    if user is None:
        return None

    def find(session: Session) -> Staff | None:
        found = staff.by_telegram(session, user.id)
        if found is not None:
            staff.remember_language(session, found, user.language_code)
            session.flush()
            session.expunge(found)
        return found

    return await telegram.db(find)


async def not_staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff command from someone who is not staff: refused, nothing told."""
    message, user = update.effective_message, update.effective_user
    if message is not None:
        await message.reply_text(
            say("not_staff", language_of(user.language_code if user else None))
        )


async def claim_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The first consultant to press Claim gets the lead; the card shows who has it."""
    query = update.callback_query
    if query is None:
        return
    telegram = of(context)
    who = await me(telegram, update)
    if who is None:
        code = update.effective_user.language_code if update.effective_user else None
        await query.answer(say("claim_refused", language_of(code)), show_alert=True)
        return
    handoff_id = int((query.data or "claim:0").split(":", 1)[1])
    now = telegram.clock()
    minutes = telegram.settings.handoff_reply_minutes

    def claim(session: Session) -> tuple[bool, str | None, str, list[tuple[int, int]], str]:
        row = session.get(Staff, who.id)
        assert row is not None
        try:
            result = handoff.claim(session, handoff_id, row, now, minutes)
        except LookupError:
            return False, None, "gone", [], ""
        state = "claimed" if result.won else ("taken" if result.owner else "gone")
        posted = [(c.chat_id, c.message_id) for c in result.handoff.cards]
        text = cards.card_text(cards.card_data(session, result.handoff), None)
        return result.won, result.owner.name if result.owner else None, state, posted, text

    won, owner, state, posted, text = await telegram.db(claim)
    await query.answer(say(state, who.language, name=owner or ""), show_alert=not won)
    if not won:
        return
    for chat_id, message_id in posted:  # every copy of the card now shows the owner
        try:
            await telegram.bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML
            )
        except Exception:
            logger.debug("a lead card could not be edited")
    await telegram.bot.send_message(who.telegram_user_id, text, parse_mode=ParseMode.HTML)
    await telegram.bot.send_message(who.telegram_user_id, say("claimed", who.language))


async def staff_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What a consultant writes in their private chat goes to the customer they handle."""
    message = update.effective_message
    telegram = of(context)
    who = await me(telegram, update)
    if message is None or who is None:
        return
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    target = await telegram.db(lambda s: relay.target_of(s, staff_row(s, who.id), reply_to))
    if isinstance(target, list):
        await message.reply_text(say("choose" if target else "idle", who.language))
        return
    if message.photo:
        picture = message.photo[-1].file_id
        how = await relay.to_customer(
            telegram, who.id, target, kind="photo", body=message.caption, photo_file_id=picture
        )
    elif message.location:
        spot = f"{message.location.latitude},{message.location.longitude}"
        how = await relay.to_customer(telegram, who.id, target, kind="location", body=spot)
    elif message.text:
        how = await relay.to_customer(telegram, who.id, target, kind="text", body=message.text)
    else:
        return
    if how != "sent":
        await message.reply_text(say(how, who.language, lead=target.lead_id or "—"))


def staff_row(session: Session, staff_id: int) -> Staff:
    """The staff member, in this session (handlers carry a detached copy)."""
    row = session.get(Staff, staff_id)
    assert row is not None
    return row


async def post_card(telegram: Telegram, handoff_id: int, chat_ids: list[int], purpose: str) -> int:
    """Post a hand-off's lead card (with Claim while nobody has it) to these chats."""
    data, state = await telegram.db(
        lambda s: (cards.card_data(s, _handoff(s, handoff_id)), _handoff(s, handoff_id).state)
    )
    text = cards.card_text(data, None)
    markup = cards.claim_keyboard(handoff_id, None) if state == "waiting" else None
    posted = 0
    for chat_id in chat_ids:
        sent = await telegram.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
        posted += 1
        card = HandoffCard(
            handoff_id=handoff_id, chat_id=chat_id, message_id=sent.message_id, purpose=purpose
        )
        await telegram.db(partial(Session.add, instance=card))
    return posted


def _handoff(session: Session, handoff_id: int) -> Handoff:
    row = session.get(Handoff, handoff_id)
    assert row is not None
    return row
