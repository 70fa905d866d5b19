"""The gateway's client of the Rasa server: a customer's message through the REST channel, an
action run in a conversation, events appended to a transcript, the conversation's slots."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

import httpx

# How long one turn may take (the action server may be answering several).
TURN_TIMEOUT: Final = 60.0


class RasaUnavailable(Exception):
    """Rasa (or its action server) did not answer; the message is to be retried."""


class RasaClient:
    """Talks to the Rasa server on behalf of the channels the gateway runs (Telegram)."""

    def __init__(
        self, base_url: str, token: str, rest_token: str, client: httpx.AsyncClient
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.rest_token = rest_token
        self.client = client

    def _conversation(self, sender_id: str) -> str:
        # Rasa matches the id in the path as sent (no unquoting): the ":" of "telegram:<chat>"
        # must stay as it is, or another, empty conversation is read.
        return f"{self.base_url}/conversations/{quote(sender_id, safe=':')}"

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.client.request(method, url, timeout=TURN_TIMEOUT, **kwargs)
        except httpx.HTTPError as error:
            raise RasaUnavailable(type(error).__name__) from error
        if response.status_code >= 500 or response.status_code in (404, 409, 429):
            raise RasaUnavailable(f"HTTP {response.status_code}")
        response.raise_for_status()
        return response

    async def message(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send the customer's message; returns what the assistant answered."""
        response = await self._send(
            "POST",
            f"{self.base_url}/webhooks/rest/webhook",
            headers={"Authorization": f"Bearer {self.rest_token}"},
            json={"sender": sender_id, "message": text, "metadata": metadata or {}},
        )
        replies = response.json()
        if not isinstance(replies, list):
            raise RasaUnavailable("unexpected answer")
        # An action server that is down makes Rasa answer nothing at all for the turn.
        return [r for r in replies if isinstance(r, dict)]

    async def execute(
        self, sender_id: str, action: str, output_channel: str = "collector"
    ) -> list[dict[str, Any]]:
        """Run ``action`` in the conversation; with the collector its messages come back."""
        response = await self._send(
            "POST",
            f"{self._conversation(sender_id)}/execute",
            params={"output_channel": output_channel, "token": self.token},
            json={"name": action},
        )
        messages = response.json().get("messages") or []
        return [m for m in messages if isinstance(m, dict)]

    async def append(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Add events to the transcript without the assistant answering."""
        await self._send(
            "POST",
            f"{self._conversation(sender_id)}/tracker/events",
            params={"token": self.token, "execute_side_effects": "false"},
            json=events,
        )

    async def slots(self, sender_id: str) -> dict[str, Any]:
        """The conversation's slots (the phone asked for, the language)."""
        response = await self._send(
            "GET",
            f"{self._conversation(sender_id)}/tracker",
            params={"token": self.token, "include_events": "NONE"},
        )
        slots = response.json().get("slots")
        return slots if isinstance(slots, dict) else {}
