"""Where the scheduled jobs' messages go: a customer's conversation (through the Rasa HTTP API,
or the gateway's Telegram Application for Telegram conversations) and the sales team's chat."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError
from tenacity import retry, stop_after_attempt, wait_exponential

from bot.channels.phone.line import CallFailed, PhoneLine, phone_number
from bot.channels.telegram.render import send_replies
from bot.channels.telegram.runtime import Telegram
from crm_bridge.conversations import telegram_chat
from crm_bridge.settings import Settings
from crm_bridge.staff import of_role

logger = logging.getLogger(__name__)

# The slot a proactive action sets to its ref once it has run (domain/surveys.yml).
DONE_SLOT: Final = "proactive_done"


class CustomerChannel(Protocol):
    """Runs a proactive action in a customer's conversation, in its channel."""

    async def run_action(
        self, sender_id: str, action: str, slots: dict[str, Any] | None = None
    ) -> list[dict[str, Any]] | None:
        """Run ``action`` (after setting ``slots``); the messages the caller must still deliver
        (a Telegram conversation), or None when Rasa delivered them itself."""

    async def send(self, sender_id: str, messages: list[dict[str, Any]]) -> None:
        """Deliver messages the action said (Telegram)."""

    async def delivered(self, sender_id: str, ref: str) -> list[dict[str, Any]] | None:
        """Whether the action named ``ref`` already ran in the conversation: what it said
        (possibly nothing), or None if it did not run."""

    async def waiting_in(self, sender_id: str) -> tuple[str, str | None] | None:
        """The form (and question) the conversation is waiting in for the customer, if any."""


class ConsultantChannel(Protocol):
    """Delivers a notice to a sales consultant."""

    async def notify(self, consultant: str, text: str) -> None: ...


class RasaConversations:
    """Runs an action in a customer's conversation through the Rasa HTTP API.

    Rasa sends what the action says to the conversation's latest channel (the web chat over
    socket.io while the customer is connected; REST conversations keep it in their transcript).
    Telegram conversations are the gateway's own channel: the action's messages come back and
    are sent through the gateway's Telegram Application. Phone conversations get a call
    (``PhoneLine``): the action runs when the customer answers, and they hear it.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        client: httpx.AsyncClient,
        telegram: Telegram | None = None,
        phone: PhoneLine | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = client
        self.telegram = telegram  # None: Telegram is off
        self.phone = phone  # None: no calls can be placed

    def _url(self, sender_id: str, path: str) -> str:
        return f"{self.base_url}/conversations/{quote(sender_id, safe=':')}/{path}"

    def _on_telegram(self, sender_id: str) -> bool:
        return self.telegram is not None and telegram_chat(sender_id) is not None

    async def run_action(
        self, sender_id: str, action: str, slots: dict[str, Any] | None = None
    ) -> list[dict[str, Any]] | None:
        """One try, no blind retries: a timeout may mean Rasa did run it (the caller checks
        ``delivered`` before trying again). A phone conversation gets a call instead."""
        if phone_number(sender_id) is not None:
            if self.phone is None:
                raise CallFailed(
                    "no phone line to call the customer: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
                    "TWILIO_FROM_NUMBER and PHONE_PUBLIC_URL are needed"
                )
            await self.phone.place(sender_id, action, slots or {})
            return None
        params = {"token": self.token}
        if slots:
            events = [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
            response = await self.client.post(
                self._url(sender_id, "tracker/events"), params=params, json=events, timeout=30
            )
            response.raise_for_status()
        on_telegram = self._on_telegram(sender_id)
        response = await self.client.post(
            self._url(sender_id, "execute"),
            params={**params, "output_channel": "collector" if on_telegram else "latest"},
            json={"name": action},
            timeout=30,
        )
        response.raise_for_status()
        return list(response.json().get("messages") or []) if on_telegram else None

    async def send(self, sender_id: str, messages: list[dict[str, Any]]) -> None:
        chat = telegram_chat(sender_id)
        if self.telegram is None or chat is None:
            raise RuntimeError(f"no channel of the gateway's own reaches {sender_id!r}")
        await send_replies(self.telegram.bot, chat, messages)

    async def delivered(self, sender_id: str, ref: str) -> list[dict[str, Any]] | None:
        response = await self.client.get(
            self._url(sender_id, "tracker"),
            params={"token": self.token, "include_events": "ALL"},
            timeout=30,
        )
        response.raise_for_status()
        events = response.json().get("events") or []
        marks = [
            i
            for i, e in enumerate(events)
            if e.get("event") == "slot" and e.get("name") == DONE_SLOT and e.get("value") == ref
        ]
        if not marks:
            return None
        if not self._on_telegram(sender_id):
            return []  # Rasa delivered it to the conversation's own channel
        # Rasa logs an action's messages before the events it returns (the mark among them):
        # what it said lies between its ActionExecuted and the mark.
        said: list[dict[str, Any]] = []
        for event in reversed(events[: marks[-1]]):
            if event.get("event") in ("action", "user"):
                break
            if event.get("event") == "bot":
                said.insert(0, _message(event))
        return said

    async def waiting_in(self, sender_id: str) -> tuple[str, str | None] | None:
        response = await self.client.get(
            self._url(sender_id, "tracker"),
            params={"token": self.token, "include_events": "NONE"},
            timeout=30,
        )
        response.raise_for_status()
        tracker = response.json()
        loop = (tracker.get("active_loop") or {}).get("name")
        if not loop or tracker.get("latest_action_name") != "action_listen":
            return None
        requested = (tracker.get("slots") or {}).get("requested_slot")
        return str(loop), str(requested) if requested else None


def _message(event: dict[str, Any]) -> dict[str, Any]:
    """A bot event of the tracker as the collector channel gives messages."""
    data = event.get("data") or {}
    message: dict[str, Any] = {"text": event.get("text")}
    for key in ("buttons", "image", "custom", "attachment"):
        if data.get(key):
            message[key] = data[key]
    return message


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


def managers_report(telegram: Telegram | None) -> Callable[[str], Awaitable[None]]:
    """Tells every manager privately (a message that could not be delivered); without Telegram
    the failure stays in the ``notifications`` table and the log."""

    async def report(text: str) -> None:
        if telegram is None:
            logger.warning("undelivered message not reported: Telegram is off")
            return
        managers = await telegram.db(lambda s: [m.telegram_user_id for m in of_role(s, "manager")])
        for chat_id in managers:
            try:
                await telegram.bot.send_message(chat_id=chat_id, text=text)
            except TelegramError as error:  # the others still hear of it
                logger.warning("report to manager %s failed: %s", chat_id, error)

    return report
