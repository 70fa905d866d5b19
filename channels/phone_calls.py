"""What the phone channel does beyond answering a caller (Rasa environment):

- **Calls the dealership places.** A survey or test-drive reminder for a phone customer is a call
  the gateway places (``bot/channels/phone/line.py``) with this channel's webhook as its answer
  URL and the proactive action and its slots in the query (``?proactive=…&slots=…``); the
  provider signs that URL, so nobody can change it. When the customer answers, the action runs
  in their conversation and they hear what it says; their answers go on as in any call.
- **Call outcomes.** Every status callback (completed, busy, no-answer, ...) is handed to the
  gateway (``DA_GATEWAY_URL`` + ``/internal/phone/calls``, with ``DA_RELAY_TOKEN``), which
  records it on the conversation and tries an unanswered proactive call again.
- **What a caller hears.** ``PhoneOutput`` collects a turn's messages; a hand-off's transfer to
  the showroom (a custom ``{"dial": "+86…"}`` message) becomes ``<Dial>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import SlotSet

from channels.gateway import GatewayClient

logger = logging.getLogger(__name__)

CALLS_PATH: Final = "/internal/phone/calls"
# The actions a call placed by the dealership may run, and the slots it may set.
PROACTIVE_ACTIONS: Final = frozenset({"action_start_survey", "action_test_drive_reminder"})
PROACTIVE_SLOTS: Final = frozenset({"proactive_ref", "survey_id"})


class PhoneOutput(CollectingOutputChannel):
    """Collects one turn's bot messages with their buttons and response names; drops images,
    attachments and custom payloads a caller cannot hear, except a transfer (``dial``)."""

    @classmethod
    def name(cls) -> str:
        return "phone"

    async def _keep(self, recipient_id: str, text: str, buttons: Any, kwargs: Any) -> None:
        message: dict[str, Any] = self._message(recipient_id, text=text, buttons=buttons or None)
        if kwargs.get("utter_action"):
            message["utter_action"] = kwargs["utter_action"]
        await self._persist_message(message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._keep(recipient_id, text, None, kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._keep(recipient_id, text, buttons, kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        return None

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        return None

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        number = json_message.get("dial") if isinstance(json_message, dict) else None
        if isinstance(number, str) and number:
            await self._persist_message(self._message(recipient_id, custom={"dial": number}))


def transfer_to(messages: list[dict[str, Any]]) -> str | None:
    """The number a turn transfers the call to, if it does."""
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("dial"), str):
            return str(custom["dial"])
    return None


def proactive_request(query: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The action (and slots) a call placed by the dealership runs when answered, from its
    answer URL's query; None for a caller's call, or a query naming anything else."""
    action = _first(query.get("proactive"))
    if action is None:
        return None
    if action not in PROACTIVE_ACTIONS:
        logger.warning("phone channel: a call asked for an unknown action")
        return None
    try:
        slots = json.loads(_first(query.get("slots")) or "{}")
    except ValueError:
        return None
    if not isinstance(slots, dict):
        return None
    return action, {k: str(v) for k, v in slots.items() if k in PROACTIVE_SLOTS}


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None


async def run_proactive(
    agent: Any, sender_id: str, action: str, slots: Mapping[str, str], output: PhoneOutput
) -> None:
    """Run the proactive ``action`` (after setting ``slots``) in the conversation, as Rasa's
    ``/conversations/<id>/execute`` does, with what it says collected for the call."""
    async with agent.lock_store.lock(sender_id):
        processor = agent.processor
        tracker = await processor.fetch_tracker_and_update_session(sender_id, output)
        for name, value in slots.items():
            tracker.update(SlotSet(name, value))
        await processor.save_tracker(tracker)
        await agent.execute_action(sender_id, action, output, None, None)


class CallReports:
    """Hands call outcomes to the gateway; without it (not configured, down) they are logged."""

    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> CallReports:
        return cls(GatewayClient.from_environment(environ))

    async def report(self, params: Mapping[str, str], sender_id: str) -> None:
        """Tell the gateway how the call ``params["CallSid"]`` went (best effort)."""
        body = {
            "call_sid": params.get("CallSid", ""),
            "sender_id": sender_id,
            "status": params.get("CallStatus", ""),
            "direction": params.get("Direction") or "inbound",
            "duration": params.get("CallDuration") or None,
        }
        try:
            await self.gateway.post(CALLS_PATH, body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            logger.warning("call report not delivered: %s", type(error).__name__)
