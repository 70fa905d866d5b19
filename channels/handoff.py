"""While a consultant handles a conversation, its web chat and REST messages go to them, not to
the assistant.

Before a message reaches Rasa's dialogue, the channel asks the gateway (``DA_GATEWAY_URL``, with
the shared ``DA_RELAY_TOKEN``) who answers the sender. If a consultant does, the gateway has
already added the message to the transcript and relayed it, and the assistant stays quiet. If the
gateway cannot be asked (not configured, down, slow), the assistant answers as usual.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
from rasa.core.channels.channel import UserMessage

from channels.gateway import GatewayClient
from channels.limits import OnNewMessage

logger = logging.getLogger(__name__)

INBOUND_PATH: Final = "/internal/relay/inbound"
WARN_EVERY_SECONDS: Final = 60.0


class ConsultantGate:
    """Asks the gateway whether a consultant handles a sender, and hands them the message."""

    def __init__(self, gateway: GatewayClient | None = None) -> None:
        self.gateway = gateway or GatewayClient(None, None)  # none: the assistant answers
        self._warned_at = float("-inf")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ConsultantGate:
        return cls(GatewayClient.from_environment(environ))

    async def taken(self, message: UserMessage, channel: str) -> bool:
        """Whether a consultant took the message (the assistant must not answer it)."""
        if not self.gateway.configured or not message.text:
            return False
        body = {"sender_id": message.sender_id, "text": message.text, "channel": channel}
        try:
            answer = await self.gateway.post(INBOUND_PATH, body)
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
