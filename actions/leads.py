"""From the conversation's slots to the lead in the dealership database."""

from __future__ import annotations

from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions import slots as checks
from actions.base import Services, asked_models, conversation_channel, entity_values
from crm_bridge.leads import LeadUpdate
from crm_bridge.outbox import lead_payload

# The needs-analysis slots, in the order a consultant asks.
NEEDS: Final = ("car_models", "budget", "purchase_timeline", "payment", "trade_in")
CONTACT: Final = ("name", "phone")
PERSONAL: Final = ("name", "phone", "trade_in_vehicle")


def slot_view(tracker: Tracker, events: list[EventType]) -> dict[str, Any]:
    """The tracker's slots as they will be once ``events`` are applied."""
    view = dict(tracker.slots)
    for event in events:
        if event.get("event") == "slot":
            view[event["name"]] = event.get("value")
    return view


def lead_update(tracker: Tracker, slots: dict[str, Any]) -> LeadUpdate:
    """What the conversation knows, every value checked once more before it is written."""
    channel = conversation_channel(tracker)
    trade_in = checks.clean_yes_no(slots.get("trade_in"))
    return LeadUpdate(
        consent=slots.get("consent") is True,
        channel=channel,
        language=slots.get("language") if slots.get("language") in ("zh", "en") else None,
        name=checks.clean_name(slots.get("name")),
        phone=checks.clean_phone(slots.get("phone")),
        model_interest=checks.clean_models(slots.get("car_models") or [], None) or [],
        budget_cny_max=checks.clean_budget(slots.get("budget")),
        purchase_timeline_days=checks.clean_timeline(slots.get("purchase_timeline")),
        payment=checks.clean_payment(slots.get("payment")),
        trade_in=trade_in,
        trade_in_vehicle=(
            checks.clean_trade_in_vehicle(slots.get("trade_in_vehicle")) if trade_in else None
        ),
        questions=[q for q in slots.get("open_questions") or [] if isinstance(q, str)],
    )


async def save_lead(services: Services, tracker: Tracker, events: list[EventType]) -> bool:
    """Write the lead if the customer consented; returns whether there was anything to write.

    The write goes through the outbox, so a lead is kept if the database is down.
    """
    slots = slot_view(tracker, events)
    if slots.get("consent") is not True:
        return False
    update = lead_update(tracker, slots)
    source = f"conversation:{update.channel or 'unknown'}"
    await services.write(
        "lead.record", lead_payload(tracker.sender_id, update, source, services.clock())
    )
    return True


def interest_events(tracker: Tracker) -> list[EventType]:
    """Models and budget named in a question count as interest ("Q5L多少钱" -> Q5L)."""
    events: list[EventType] = []
    known = list(tracker.get_slot("car_models") or [])
    named = [code for code in asked_models(tracker) if code not in known]
    if named:
        events.append(SlotSet("car_models", known + named))
    budgets = [checks.clean_budget(v) for v in entity_values(tracker, "budget")]
    budget = next((b for b in budgets if b is not None), None)
    if budget is not None and budget != tracker.get_slot("budget"):
        events.append(SlotSet("budget", budget))
    return events


async def note_interest(services: Services, tracker: Tracker) -> list[EventType]:
    """Keep models and budget from a question as interest, and the lead current with them."""
    events = interest_events(tracker)
    if events:
        await save_lead(services, tracker, events)
    return events


def previous_value(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest customer message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
        elif event.get("event") in ("session_started", "restart"):
            break
    return None
