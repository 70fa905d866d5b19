"""The assistant's replies as Telegram messages: text escaped for HTML mode and split within
Telegram's limit, buttons as inline keyboards whose presses come back as payloads, pictures."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any, Final

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import MessageLimit, ParseMode

# Telegram's limit on a text message and on a button's callback data (bytes).
TEXT_LIMIT: Final = int(MessageLimit.MAX_TEXT_LENGTH)
CALLBACK_LIMIT: Final = 64
# A payload too long for the callback data is sent back as the button's title instead.
TITLE_PREFIX: Final = "t:"
PAYLOAD_PREFIX: Final = "p:"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Escaped text in pieces within ``limit``, cut at a paragraph, line or space when possible
    (never inside an HTML entity)."""
    escaped = html.escape(text, quote=False)
    pieces: list[str] = []
    while len(escaped) > limit:
        cut = max(escaped.rfind(sep, 0, limit) for sep in ("\n\n", "\n", " "))
        if cut <= 0:
            cut = limit
            amp = escaped.rfind("&", 0, cut)
            if amp != -1 and escaped.find(";", amp) >= cut:
                cut = amp
        pieces.append(escaped[:cut].rstrip())
        escaped = escaped[cut:].lstrip()
    if escaped.strip():
        pieces.append(escaped)
    return pieces


def callback_data(payload: str, index: int) -> str:
    """The payload, compacted, if it fits Telegram's 64 bytes; else a pointer to the title."""
    compact = payload
    if "{" in payload:
        intent, _, entities = payload.partition("{")
        try:
            compact = intent + json.dumps(
                json.loads("{" + entities), ensure_ascii=False, separators=(",", ":")
            )
        except ValueError:
            compact = payload
    data = PAYLOAD_PREFIX + compact
    if len(data.encode("utf-8")) <= CALLBACK_LIMIT:
        return data
    return f"{TITLE_PREFIX}{index}"


def keyboard(buttons: Sequence[dict[str, Any]]) -> InlineKeyboardMarkup | None:
    """The buttons of a reply, one per row (titles are long in Chinese on a phone)."""
    rows = []
    for index, button in enumerate(buttons):
        title = str(button.get("title") or "")[:64]
        payload = str(button.get("payload") or title)
        if not title:
            continue
        rows.append([InlineKeyboardButton(title, callback_data=callback_data(payload, index))])
    return InlineKeyboardMarkup(rows) if rows else None


def pressed(data: str, message: Message | None) -> str | None:
    """What a pressed button sends to the assistant: its payload, or its title."""
    if data.startswith(PAYLOAD_PREFIX):
        return data[len(PAYLOAD_PREFIX) :]
    if data.startswith(TITLE_PREFIX) and message is not None and message.reply_markup:
        rows = message.reply_markup.inline_keyboard
        for button in (b for row in rows for b in row):
            if button.callback_data == data:
                return button.text
    return None


def contact_keyboard(title: str) -> ReplyKeyboardMarkup:
    """A one-time keyboard whose button shares the customer's own number."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(title, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: Sequence[dict[str, Any]],
    last_markup: ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None,
) -> list[Message]:
    """Send the assistant's replies in order; ``last_markup`` (the share-phone keyboard, or its
    removal) rides on the last message that has no inline buttons, else on a message of its own
    in the caller's hands."""
    sent: list[Message] = []
    for position, reply in enumerate(replies):
        buttons = reply.get("buttons") or []
        markup: Markup | None = keyboard(buttons) if buttons else None
        if markup is None and last_markup is not None and position == len(replies) - 1:
            markup, last_markup = last_markup, None
        if reply.get("image"):
            caption = split(str(reply.get("text") or ""), 1024)
            sent.append(
                await bot.send_photo(
                    chat_id,
                    str(reply["image"]),
                    caption=caption[0] if caption else None,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            )
            continue
        pieces = split(str(reply.get("text") or ""))
        for number, piece in enumerate(pieces):
            last = number == len(pieces) - 1
            sent.append(
                await bot.send_message(
                    chat_id,
                    piece,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if last else None,
                    link_preview_options=None,
                )
            )
    return sent
