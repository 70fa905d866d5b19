"""Customers on Telegram: their messages go to the assistant (or to the consultant handling
them), the replies come back as Telegram messages. Every update is answered in the customer's
language, whatever it holds."""

from __future__ import annotations

import json
import logging
import re
from contextlib import suppress
from datetime import timedelta
from typing import Any, Final

import phonenumbers
from telegram import Message, ReplyKeyboardRemove, Update
from telegram.constants import ChatAction
from telegram.error import NetworkError, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from bot.channels.rasa import RasaUnavailable
from bot.channels.telegram import relay, render
from bot.channels.telegram import updates as inbound
from bot.channels.telegram.runtime import Telegram, of
from bot.channels.telegram.texts import language_of, say
from crm_bridge import identity
from crm_bridge.conversations import telegram_sender

logger = logging.getLogger(__name__)

# Slots the assistant asks a phone number in: the share-my-number keyboard is offered.
PHONE_SLOTS: Final = frozenset({"phone", "td_phone"})
# Give up on a message after this long without Rasa (it stays recorded, retried on restart).
RETRY_FOR: Final = timedelta(hours=6)
# Backoff between tries while Rasa or the action server is down.
MAX_WAIT_SECONDS: Final = 30
# Tries to send an answer while Telegram's API fails (a network error, a 5xx).
SEND_TRIES: Final = 4


async def turn(
    telegram: Telegram, update: Update, text: str, metadata: dict[str, Any] | None = None
) -> None:
    """One customer message: to the consultant when one handles the chat, else to the
    assistant (retried with backoff until it answers), and the answer to the customer."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None:
        return
    sender = telegram_sender(chat.id)
    row = await telegram.db(lambda s: inbound.state_of(s, update.update_id))
    if row is not None and row.state == "answered" and row.replies is not None:
        await send_or_keep(telegram, chat.id, sender, row.replies, None)
        return
    if await relay.from_customer(telegram, sender, text, user.first_name if user else None):
        return  # a consultant answers this conversation
    language = language_of(user.language_code if user else None)
    await telegram.bot.send_chat_action(chat.id, ChatAction.TYPING)
    try:
        replies = await ask(telegram, chat.id, sender, text, language, metadata or {})
    except RasaUnavailable:
        logger.warning("the assistant stayed unreachable; the message waits for a restart")
        raise ApplicationHandlerStop from None  # not closed: resumed when the gateway restarts
    await telegram.db(lambda s: inbound.answered(s, update.update_id, replies))
    await send_or_keep(telegram, chat.id, sender, replies, language)


async def send_or_keep(
    telegram: Telegram,
    chat_id: int,
    sender: str,
    replies: list[dict[str, Any]],
    language: str | None,
) -> None:
    """Send the answer, trying again on a network error; if Telegram stays unreachable the update
    is left open (its answer kept) for the next start."""
    progress = [0]
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(NetworkError),
            wait=wait_exponential(multiplier=0.5, max=8),
            stop=stop_after_attempt(SEND_TRIES),
            reraise=True,
        ):
            with attempt:
                await deliver(telegram, chat_id, sender, replies, language, progress)
    except NetworkError:
        logger.warning("Telegram stayed unreachable; the answer is kept for the next start")
        raise ApplicationHandlerStop from None


async def ask(
    telegram: Telegram,
    chat_id: int,
    sender: str,
    text: str,
    language: str,
    metadata: dict[str, Any],
) -> list[dict[str, Any]]:
    """The assistant's answer; while it is down the customer is told once to wait a moment."""
    told = False
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(RasaUnavailable),
        wait=wait_exponential(multiplier=0.5, max=MAX_WAIT_SECONDS),
        stop=stop_after_delay(RETRY_FOR.total_seconds()),
        reraise=True,
    ):
        with attempt:
            if attempt.retry_state.attempt_number > 1 and not told:
                told = True
                with suppress(TelegramError):  # a courtesy; the answer itself is what matters
                    await telegram.bot.send_message(chat_id, say("wait", language))
            replies = await telegram.rasa.message(sender, text, {"channel": "telegram", **metadata})
            if not replies:  # the action server failed the turn
                raise RasaUnavailable("no answer")
    return replies


async def deliver(
    telegram: Telegram,
    chat_id: int,
    sender: str,
    replies: list[dict[str, Any]],
    language: str | None,
    progress: list[int] | None = None,
) -> None:
    """Send the replies; when the assistant asks for the phone, offer the share-number key.
    ``progress`` counts the replies sent, so a retry after a failure sends none of them twice."""
    progress = progress if progress is not None else [0]
    try:
        slots = await telegram.rasa.slots(sender)
    except RasaUnavailable:
        slots = {}
    language = slots.get("language") or language
    asks_phone = slots.get("requested_slot") in PHONE_SLOTS
    markup = render.contact_keyboard(say("share_phone", language)) if asks_phone else None
    last_has_buttons = bool(replies and replies[-1].get("buttons"))
    while progress[0] < len(replies):
        last = progress[0] == len(replies) - 1
        keyboard = markup if last and not last_has_buttons else None
        await render.send_replies(telegram.bot, chat_id, [replies[progress[0]]], keyboard)
        progress[0] += 1
    if asks_phone and last_has_buttons and markup is not None and progress[0] == len(replies):
        await telegram.bot.send_message(
            chat_id, say("share_phone_hint", language), reply_markup=markup
        )
        progress[0] += 1


SURVEY_START = re.compile(r"^/start(?:@\w+)?\s+survey-([A-Za-z0-9_-]{1,64})\s*$")


def start_payload(words: str) -> str:
    """``/start survey-<token>`` (a personal survey link) opens that survey; any other /start
    is the first hello."""
    link = SURVEY_START.match(words)
    if link is None:
        return "/greet"
    return "/start_survey" + json.dumps({"survey_token": link.group(1)})


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A customer's text goes to the assistant (or their consultant)."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    words = message.text[:4000]
    if words.startswith("/start"):  # Telegram's first message: a greeting, or a survey link
        words = start_payload(words)
    await turn(of(context), update, words)


async def button_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pressed reply button sends its payload (or title) as the customer's message."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    shown = query.message if isinstance(query.message, Message) else None
    chosen = render.pressed(query.data or "", shown)
    if chosen is None or update.effective_chat is None:
        return
    if shown is not None:
        try:  # the choice is made: the buttons go, so they are not pressed twice
            await shown.edit_reply_markup(None)
        except Exception:
            logger.debug("could not remove the buttons of a pressed message")
    await turn(of(context), update, chosen)


def own_number(raw: str) -> str | None:
    """A shared contact's number in E.164 (Telegram omits the "+")."""
    try:
        number = phonenumbers.parse(raw if raw.startswith("+") else f"+{raw}", "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The customer's own contact fills the phone and proves it; someone else's does not."""
    message, user = update.effective_message, update.effective_user
    if message is None or message.contact is None or user is None:
        return
    telegram = of(context)
    language = language_of(user.language_code)
    phone = own_number(message.contact.phone_number)
    if message.contact.user_id != user.id or phone is None:
        await message.reply_text(say("not_own_contact", language))
        return
    sender, now = telegram_sender(message.chat_id), telegram.clock()
    await telegram.db(lambda s: identity.verify_phone(s, sender, phone, "telegram_contact", now))
    await message.reply_text("✅", reply_markup=ReplyKeyboardRemove())
    await turn(telegram, update, phone)


async def location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A location is taken as "where are you?" (or relayed to the consultant)."""
    message = update.effective_message
    if message is None or message.location is None:
        return
    telegram = of(context)
    sender = telegram_sender(message.chat_id)
    spot = f"{message.location.latitude},{message.location.longitude}"
    if await relay.from_customer(telegram, sender, f"📍 {spot}", None):
        return
    await turn(telegram, update, "/ask_dealer_info")


async def _answer(update: Update, key: str) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is not None:
        await message.reply_text(say(key, language_of(user.language_code if user else None)))


async def sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A sticker gets a friendly prompt."""
    await _answer(update, "sticker")


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A picture: the assistant cannot see it; a consultant handling the chat can."""
    message = update.effective_message
    if message is not None and update.effective_chat is not None:
        sender = telegram_sender(update.effective_chat.id)
        if await relay.photo_from_customer(of(context), sender, message):
            return
    await _answer(update, "photo")


async def voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Voice and audio: asked to type instead."""
    await _answer(update, "voice")


async def other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything else in a private chat (documents, polls, games)."""
    if update.effective_message is not None:
        await _answer(update, "other")


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message: the original was answered; a change is asked as a new message."""
    await _answer(update, "edited")


async def added_to_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Added to a group: the bot says customers should message it privately."""
    change = update.my_chat_member
    if change is None or change.new_chat_member.status not in ("member", "administrator"):
        return
    await group_message(update, context)


async def group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group (other than the sales chat) the bot asks to be messaged privately, once."""
    chat = update.effective_chat
    telegram = of(context)
    if (
        chat is None
        or chat.type == "private"
        or chat.id == telegram.settings.telegram_sales_chat_id
    ):
        return
    if context.chat_data is not None and not context.chat_data.get("told_private"):
        context.chat_data["told_private"] = True
        await telegram.bot.send_message(chat.id, say("group", "zh") + "\n" + say("group", "en"))
