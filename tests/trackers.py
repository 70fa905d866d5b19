"""Trackers for action tests, built from rasa_sdk events the way the Rasa server sends them."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, SlotSet, UserUttered


def user_turn(
    text: str,
    intent: str,
    entities: list[tuple[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    sender: str = "c1",
    channel: str | None = None,
    metadata: dict[str, Any] | None = None,
    before: list[dict[str, Any]] | None = None,
) -> Tracker:
    """A tracker whose latest message is ``text`` read as ``intent`` with ``entities``
    (type, value) and whose slots are ``slots``; spans point at the value in the text. The
    message came through the input ``channel`` with ``metadata``, after the events ``before``
    (what the assistant said last, say)."""
    found = []
    for entity, value in entities or []:
        start = text.find(str(value)) if str(value) in text else 0
        found.append({"entity": entity, "value": value, "start": start,
                      "end": start + len(str(value))})  # fmt: skip
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": found}
    events = [
        ActionExecuted("action_listen"),
        *(SlotSet(name, value) for name, value in (slots or {}).items()),
        *(before or []),
        # The server's user events carry the channel's metadata (rasa_sdk's builder has no
        # argument for it).
        {**UserUttered(text, parse_data=parse, input_channel=channel), "metadata": metadata or {}},
    ]
    return Tracker(
        sender_id=sender,
        slots={"language": "zh", **(slots or {})},
        latest_message=parse,
        events=list(events),
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def form_turn(
    text: str,
    intent: str,
    *,
    form: str,
    at: float,
    before: dict[str, Any] | None = None,
    candidates: dict[str, Any] | None = None,
    requested: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    sender: str = "c1",
    language: str = "zh",
    channel: str = "rest",
    metadata: dict[str, Any] | None = None,
    asked: str | None = None,
) -> Tracker:
    """The tracker Rasa's ``form`` hands to its validation action after a customer message
    (sent at the timestamp ``at`` through ``channel`` with ``metadata``), with the slots known
    ``before``, the ``candidates`` Rasa extracted from it, and the question (response) ``asked``
    just before; ``form=""`` is a message outside any form."""
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9},
             "entities": entities or []}  # fmt: skip
    before, candidates = before or {}, candidates or {}
    events: list[dict[str, Any]] = [
        *({"event": "slot", "name": k, "value": v} for k, v in before.items()),
        *([{"event": "bot", "text": "?", "metadata": {"utter_action": asked}}] if asked else []),
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse, "input_channel": channel,
         "timestamp": at, "metadata": metadata or {}},
        {"event": "slot", "name": "requested_slot", "value": requested},
        {"event": "action", "name": form},
        *({"event": "slot", "name": k, "value": v} for k, v in candidates.items()),
    ]  # fmt: skip
    slots = {"language": language, **before, **candidates, "requested_slot": requested}
    return Tracker(
        sender_id=sender,
        slots=slots,
        latest_message=parse,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": form} if form else {},
        latest_action_name=form,
    )
