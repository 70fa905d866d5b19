"""While a consultant handles a conversation, its web chat and REST messages go to them, not to
the assistant.

Before a message reaches Rasa's dialogue, the channel asks the gateway (``DA_GATEWAY_URL``, with
the shared ``DA_RELAY_TOKEN``) who answers the sender. If a consultant does, the gateway has
already added the message to the transcript and relayed it, and the assistant stays quiet. If the
gateway cannot be asked (not configured, down, slow), the assistant answers as usual.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
from rasa.core.channels.channel import UserMessage

from channels.limits import OnNewMessage

logger = logging.getLogger(__name__)

GATEWAY_VARIABLE: Final = "DA_GATEWAY_URL"
TOKEN_VARIABLE: Final = "DA_RELAY_TOKEN"  # noqa: S105 - a variable name
INBOUND_PATH: Final = "/internal/relay/inbound"
TIMEOUT: Final = aiohttp.ClientTimeout(total=5)
WARN_EVERY_SECONDS: Final = 60.0


class ConsultantGate:
    """Asks the gateway whether a consultant handles a sender, and hands them the message."""

    def __init__(self, gateway_url: str | None, token: str | None) -> None:
        self.url = f"{gateway_url.rstrip('/')}{INBOUND_PATH}" if gateway_url and token else None
        self.token = token or ""
        self._warned_at = float("-inf")
        # One connection pool for every question (asked on each web and REST message), made
        # on first use inside Rasa's event loop and kept for the life of the process.
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ConsultantGate:
        env = os.environ if environ is None else environ
        return cls(env.get(GATEWAY_VARIABLE) or None, env.get(TOKEN_VARIABLE) or None)

    async def taken(self, message: UserMessage, channel: str) -> bool:
        """Whether a consultant took the message (the assistant must not answer it)."""
        if self.url is None or not message.text:
            return False
        body = {"sender_id": message.sender_id, "text": message.text, "channel": channel}
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._http.post(
                self.url, json=body, headers={"Authorization": f"Bearer {self.token}"}
            ) as response:
                if response.status != 200:
                    logger.warning("the gateway answered %d on a relay check", response.status)
                    return False
                answer: Any = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            now = time.monotonic()
            if now - self._warned_at > WARN_EVERY_SECONDS:  # once a minute, not every message
                self._warned_at = now
                logger.warning("could not ask the gateway who answers (%s)", type(error).__name__)
            return False
        return isinstance(answer, dict) and answer.get("handled_by") == "consultant"

    def guard(self, on_new_message: OnNewMessage, channel: str) -> OnNewMessage:
        """``on_new_message`` for conversations the assistant answers."""

        async def gated(message: UserMessage) -> Any:
            if await self.taken(message, channel):
                return None
            return await on_new_message(message)

        return gated
