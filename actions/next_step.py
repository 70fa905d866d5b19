"""The assistant leads: every answer ends with one natural next step of the sales process, with
buttons, and a "yes" or "no" to that step is acted on.

The steps follow the playbook: choose a model → have it presented → test drive it → a quote from a
consultant. The step offered is remembered (slot ``pending_offer``) so the same question is never
asked twice in a row, and an "好的"/"sure" after it does what was offered.
"""

from __future__ import annotations

import json
from typing import Any, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import entity_values, language_of

OFFER: Final = "pending_offer"
RESPONSES: Final = {
    "present": "utter_next_present",
    "test_drive": "utter_next_test_drive",
    "quote": "utter_next_quote",
}
# Models to suggest when the buyer has named none: one SUV, one sedan, one electric.
STARTERS: Final = ("Q5L", "A6L", "Q4 e-tron")

BUTTONS: Final[dict[str, dict[str, str]]] = {
    "zh": {"present": "介绍一下{model}", "test_drive": "预约试驾{model}",
           "quote": "请顾问给我报价", "not_now": "暂时不用", "price": "看看价格",
           "stock": "有没有现车", "models": "看看其他车型"},
    "en": {"present": "Tell me about the {model}", "test_drive": "Book a test drive",
           "quote": "Get a quote from a consultant", "not_now": "Not now", "price": "Prices",
           "stock": "Cars in stock", "models": "Other models"},
}  # fmt: skip


def payload(intent: str, model: str | None = None) -> str:
    """A button payload: the intent with the model as its car_model entity."""
    return f"/{intent}" + (json.dumps({"car_model": model}, ensure_ascii=False) if model else "")


def _button(title: str, intent: str, model: str | None) -> dict[str, str]:
    return {"title": title.format(model=model), "payload": payload(intent, model)}


def _booked(tracker: Tracker) -> bool:
    return tracker.get_slot("td_booking") is not None


def choose(tracker: Tracker, model: str | None, just_presented: bool = False) -> str:
    """The step to offer now: the first one not yet done, never the one offered just before
    (then a short menu instead)."""
    if model is None:
        candidates = ["choose_model"]
    elif _booked(tracker):
        candidates = ["quote"]
    elif model in set(tracker.get_slot("presented_models") or []) or just_presented:
        candidates = ["test_drive", "quote"]
    else:
        candidates = ["present", "test_drive", "quote"]
    previous = tracker.get_slot(OFFER) or {}
    for step in candidates:
        if (step, model) != (previous.get("step"), previous.get("model")):
            return step
    return "menu"


def offer(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    model: str | None,
    just_presented: bool = False,
    suggestions: list[str] | None = None,
) -> list[EventType]:
    """Say the next step with its buttons; returns the slot that remembers it."""
    language = language_of(tracker)
    step = choose(tracker, model, just_presented)
    words = BUTTONS[language]
    buttons: list[dict[str, str]]
    if step == "menu":
        dispatcher.utter_message(response="utter_ok_anything_else", buttons=_menu(tracker))
        return [SlotSet(OFFER, {"step": step, "model": model})]
    if step == "choose_model":
        picks = (suggestions or list(STARTERS))[:3]
        buttons = [_button(words["present"], "ask_model_info", m) for m in picks]
        dispatcher.utter_message(response="utter_next_choose_model", buttons=buttons)
        return [SlotSet(OFFER, {"step": step, "model": None})]
    assert model is not None
    present = _button(words["present"], "ask_model_info", model)
    drive = _button(words["test_drive"], "request_test_drive", model)
    quote = _button(words["quote"], "request_callback", model)
    if step == "present":
        buttons = [present, drive]
    elif step == "test_drive":
        buttons = [drive, quote]
    else:
        buttons = [quote, {"title": words["not_now"], "payload": "/deny"}]
    dispatcher.utter_message(response=RESPONSES[step], model=model, buttons=buttons)
    return [SlotSet(OFFER, {"step": step, "model": model})]


def lead_on(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The next step after an answer that is not about one car (hours, financing, offers): for
    the model named now or in focus; nothing while a form asks its own questions."""
    if tracker.active_loop.get("name"):
        return []
    named = [v for v in entity_values(tracker, "car_model") if isinstance(v, str)]
    return offer(dispatcher, tracker, named[0] if named else tracker.get_slot("focus_model"))


class ActionAcceptOffer(Action):
    """A "yes" to the step just offered does it; a "yes" to nothing asks what would help."""

    def name(self) -> str:
        return "action_accept_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        pending: dict[str, Any] = tracker.get_slot(OFFER) or {}
        step, model = pending.get("step"), pending.get("model")
        events: list[EventType] = [SlotSet(OFFER, None)]
        if step == "present" and model:
            return [
                *events,
                SlotSet("focus_model", model),
                FollowupAction("action_answer_model_info"),
            ]
        if step == "test_drive" and model:
            return [*events, SlotSet("td_model", model), FollowupAction("action_start_test_drive")]
        if step == "quote":
            dispatcher.utter_message(response="utter_handoff_intro")
            return [*events, FollowupAction("qualification_form")]
        dispatcher.utter_message(response="utter_ok_anything_else", buttons=_menu(tracker))
        return events


class ActionDeclineOffer(Action):
    """A "no" to the step just offered is respected, and the buyer gets other ways on."""

    def name(self) -> str:
        return "action_decline_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_offer_declined", buttons=_menu(tracker))
        return [SlotSet(OFFER, {"step": "declined", "model": tracker.get_slot("focus_model")})]


def _menu(tracker: Tracker) -> list[dict[str, str]]:
    """Price, stock and other models, for the car in focus."""
    words = BUTTONS[language_of(tracker)]
    model = tracker.get_slot("focus_model")
    return [
        _button(words["price"], "ask_price", model),
        _button(words["stock"], "ask_stock", model),
        _button(words["models"], "ask_models", None),
    ]
