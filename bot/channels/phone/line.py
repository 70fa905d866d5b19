"""Calls the dealership places to phone customers, through the voice provider's REST API.

The ``twilio`` client's Calls API; its base URL is ``TWILIO_API_BASE_URL``, so tests (and a
self-hosted gateway) can stand in for the provider. The call's answer URL is the phone channel's
webhook in Rasa with the proactive action to run (and its slots) in the query: the provider signs
every request with that URL, so nobody can change what a call says. The action runs only when
the customer picks up; the call's end comes back through the phone channel
(``bot.channels.phone.status``), and a call nobody answered is tried once more later.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from crm_bridge import phone_calls
from crm_bridge.settings import Settings
from crm_bridge.types import utcnow

logger = logging.getLogger(__name__)

PHONE_PREFIX: Final = "phone:+"
WEBHOOK_PATH: Final = "/webhooks/phone/webhook"
STATUS_PATH: Final = "/webhooks/phone/status"
# Seconds the customer's phone rings before the provider gives up ("no-answer").
RING_SECONDS: Final = 30

Db = Callable[[Callable[[Session], Any]], Awaitable[Any]]


class CallFailed(Exception):
    """The provider did not take the call (it may be tried again later)."""


def phone_number(sender_id: str) -> str | None:
    """The number of a phone conversation (``phone:+86…``); None for any other."""
    return sender_id.removeprefix("phone:") if sender_id.startswith(PHONE_PREFIX) else None


class PhoneLine:
    """Places calls from the dealership's number (``TWILIO_FROM_NUMBER``)."""

    def __init__(
        self,
        client: Client,
        from_number: str,
        public_url: str,
        db: Db,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.from_number = from_number
        self.public_url = public_url.rstrip("/")
        self.db = db
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Db, clock: Callable[[], datetime] = utcnow
    ) -> PhoneLine | None:
        """The line when the provider's account, the dealer's number and the public URL of the
        phone channel are configured; else None (phone customers get no proactive calls, and
        each such message is reported as undelivered)."""
        if not (settings.sms_configured and settings.phone_public_url):
            return None
        client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=TwilioHttpClient(timeout=15),
        )
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        return cls(client, settings.twilio_from_number or "", settings.phone_public_url, db, clock)

    def answer_url(self, action: str, slots: dict[str, Any]) -> str:
        query = urlencode({"proactive": action, "slots": json.dumps(slots, sort_keys=True)})
        return f"{self.public_url}{WEBHOOK_PATH}?{query}"

    async def place(self, sender_id: str, action: str, slots: dict[str, Any]) -> str:
        """Call the customer of ``sender_id``; when they answer, ``action`` runs in their
        conversation and they hear it. Returns the provider's call SID."""
        number = phone_number(sender_id)
        if number is None:
            raise CallFailed(f"{sender_id!r} is not a phone conversation")
        try:
            call = await asyncio.to_thread(
                self.client.calls.create,
                to=number,
                from_=self.from_number,
                url=self.answer_url(action, slots),
                method="POST",
                status_callback=f"{self.public_url}{STATUS_PATH}",
                status_callback_method="POST",
                timeout=RING_SECONDS,
            )
        except (TwilioException, OSError) as error:  # refused, or the provider unreachable
            raise CallFailed(f"the call was not placed: {type(error).__name__}") from error
        sid = str(call.sid)
        ref = slots.get("proactive_ref")
        at = self.clock()
        await self.db(lambda s: phone_calls.placed(s, sid, sender_id, ref, at))
        logger.info("call %s placed for %s", sid, ref or action)
        return sid

    async def status_of(self, call_sid: str) -> tuple[str, int | None]:
        """How the provider says the call went: its status and duration in seconds."""
        call = await asyncio.to_thread(self.client.calls(call_sid).fetch)
        duration = int(call.duration) if call.duration not in (None, "") else None
        return str(call.status), duration
