"""Where the scheduled jobs' messages go: a customer's conversation (through the Rasa HTTP API,
or the gateway's Telegram Application for Telegram conversations) and the sales team's chat."""

from __future__ import annotations

import html
import logging
from typing import Protocol
from urllib.parse import quote

import httpx
from telegram import Bot
from telegram.constants import ParseMode
from tenacity import retry, stop_after_attempt, wait_exponential

from bot.channels.telegram.render import send_replies
from bot.channels.telegram.runtime import Telegram
from crm_bridge.conversations import telegram_chat
from crm_bridge.settings import Settings

logger = logging.getLogger(__name__)


class CustomerChannel(Protocol):
    """Delivers a message to a customer's conversation, in its channel."""

    async def run_action(self, sender_id: str, action: str) -> None: ...


class ConsultantChannel(Protocol):
    """Delivers a notice to a sales consultant."""

    async def notify(self, consultant: str, text: str) -> None: ...


class RasaConversations:
    """Runs an action in a customer's conversation through the Rasa HTTP API.

    Rasa sends what the action says to the conversation's latest channel (the web chat over
    socket.io while the customer is connected; REST conversations keep it in their transcript).
    Telegram conversations are the gateway's own channel: the action's messages come back and
    are sent through the gateway's Telegram Application.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        client: httpx.AsyncClient,
        telegram: Telegram | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = client
        self.telegram = telegram  # None: Telegram is off

    @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=4), reraise=True)
    async def run_action(self, sender_id: str, action: str) -> None:
        chat = telegram_chat(sender_id) if self.telegram is not None else None
        on_telegram = chat is not None
        response = await self.client.post(
            f"{self.base_url}/conversations/{quote(sender_id, safe=':')}/execute",
            params={"output_channel": "collector" if on_telegram else "latest",
                    "token": self.token},
            json={"name": action},
            timeout=30,
        )  # fmt: skip
        response.raise_for_status()
        if self.telegram is not None and chat is not None:
            await send_replies(self.telegram.bot, chat, response.json().get("messages") or [])


class TelegramSalesChat:
    """Notices to the sales team's Telegram group (TELEGRAM_SALES_CHAT_ID), through the gateway's
    one Telegram Application."""

    def __init__(self, bot: Bot, chat_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id

    @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=4), reraise=True)
    async def notify(self, consultant: str, text: str) -> None:
        body = f"<b>@{html.escape(consultant)}</b>\n{html.escape(text)}"
        await self.bot.send_message(chat_id=self.chat_id, text=body, parse_mode=ParseMode.HTML)


class LoggedNotices:
    """Where no sales chat is configured, the gateway's log says a notice is waiting; the notice
    itself names the customer, so it stays out of the log (`dealer-assistant bookings list`)."""

    async def notify(self, consultant: str, text: str) -> None:
        logger.info(
            "notice for %s (%d characters) not sent: no sales chat is configured; "
            "see `dealer-assistant bookings list`", consultant, len(text),
        )  # fmt: skip


def consultant_channel(settings: Settings, bot: Bot | None = None) -> ConsultantChannel:
    """The sales chat through the gateway's Telegram bot, else the log."""
    if bot is not None and settings.telegram_sales_chat_id is not None:
        return TelegramSalesChat(bot, settings.telegram_sales_chat_id)
    return LoggedNotices()
