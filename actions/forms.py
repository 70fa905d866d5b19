"""What every form of the assistant shares: clear re-asks, offers to skip, confirmed corrections,
and the consent and contact questions, which the needs analysis and the test-drive booking share.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import contact
from actions import formatting as fmt
from actions import slots as checks
from actions.base import Services, language_of
from actions.leads import previous_value

# After this many unusable answers to the same question, the customer is offered to skip it.
OFFER_SKIP_AFTER: Final = 2
# Questions that cannot be skipped: without them nothing can be stored or booked.
NOT_SKIPPABLE: Final = frozenset({"consent", "td_model", "td_time", "driving_licence"})
# What is said when an answer does not fit, per question.
INVALID: Final = {
    "car_models": "utter_invalid_car_models",
    "budget": "utter_invalid_budget",
    "purchase_timeline": "utter_invalid_purchase_timeline",
    "payment": "utter_invalid_payment",
    "trade_in": "utter_invalid_trade_in",
    "trade_in_vehicle": "utter_invalid_trade_in_vehicle",
    "consent": "utter_invalid_consent",
    "name": "utter_invalid_name",
    "phone": "utter_invalid_phone",
    "td_model": "utter_invalid_car_models",
    "driving_licence": "utter_invalid_driving_licence",
    "td_confirmed": "utter_invalid_td_confirmed",
    "td_booking": "utter_invalid_td_booking",
}
LABELS: Final = {
    "zh": {"car_models": "意向车型", "budget": "预算", "purchase_timeline": "购车时间",
           "payment": "付款方式", "trade_in": "旧车置换", "trade_in_vehicle": "置换车辆",
           "name": "姓名", "phone": "电话", "td_model": "试驾车型"},
    "en": {"car_models": "models", "budget": "budget", "purchase_timeline": "timeline",
           "payment": "payment", "trade_in": "trade-in", "trade_in_vehicle": "trade-in car",
           "name": "name", "phone": "phone", "td_model": "test-drive model"},
}  # fmt: skip


def display(slot: str, value: Any, language: str) -> str:
    """A slot value as the customer reads it."""
    if slot == "car_models":
        return fmt.joined(value or [], language)
    if slot == "budget":
        return fmt.money(int(value), language)
    if slot == "purchase_timeline":
        return f"within {value} days" if language == "en" else f"{value}天内"
    if slot == "payment":
        return fmt.PAYMENT[language].get(value, str(value))
    if slot == "trade_in":
        yes, no = ("yes", "no") if language == "en" else ("有", "无")
        return yes if value else no
    return str(value)


# Actions that only decide what runs next and say nothing: a form started by one of them still runs
# right after the customer's message.
ROUTERS: Final = frozenset({"action_route_statement"})


def just_answered(tracker: Tracker, form: str) -> bool:
    """Whether the form runs right after a customer message (not after answering a question)."""
    seen_form = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind in ("slot", "user_featurization", "active_loop", "followup"):
            continue  # bookkeeping between the message and the form (also on activation)
        if kind == "action" and event.get("name") in ROUTERS:
            continue
        if kind == "action" and event.get("name") == form and not seen_form:
            seen_form = True
            continue
        return bool(kind == "user")
    return False


class CheckedFormValidation(FormValidationAction, ABC):
    """A form whose answers are checked: failures said and counted, corrections confirmed."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def form_name(self) -> str:
        return str(self.name()).removeprefix("validate_")

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return await self.ask_order(tracker)

    @abstractmethod
    async def ask_order(self, tracker: Tracker) -> list[str]:
        """The form's questions in order, given what the conversation knows so far."""

    def _failed(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> list[Any]:
        """Say what was wrong; after repeated failures, explain and offer to skip."""
        failures = dict(tracker.get_slot("slot_failures") or {})
        failures[slot] = failures.get(slot, 0) + 1
        dispatcher.utter_message(response=INVALID[slot])
        if failures[slot] >= OFFER_SKIP_AFTER and slot not in NOT_SKIPPABLE:
            dispatcher.utter_message(response="utter_offer_skip")
        return [SlotSet("slot_failures", failures)]

    def _result(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        slot: str,
        value: Any,
        cleaned: Any,
    ) -> dict[str, Any]:
        """{slot: cleaned}; a failure is said and counted, a correction is confirmed.

        A value the customer was not asked for and that does not fit (the NLU taking "2016" for a
        phone number) is dropped quietly, keeping what was said before; an unknown model is always
        pointed out.
        """
        asked = slot == tracker.get_slot("requested_slot")
        if cleaned is None and slot not in ("car_models", "td_model") and not asked:
            return {slot: previous_value(tracker, slot)}  # what was said before still stands
        if cleaned is None:
            events = self._failed(dispatcher, tracker, slot)
            return {slot: None, **{e["name"]: e["value"] for e in events}}
        before = previous_value(tracker, slot)
        if before is not None and before != cleaned and slot in LABELS["en"]:
            language = language_of(tracker)
            dispatcher.utter_message(
                response="utter_slot_updated",
                field=LABELS[language][slot],
                value=display(slot, cleaned, language),
            )
        return {slot: cleaned}

    async def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Yes: the lead may be stored. No: forget any contact details already given.

        Consent must be explicit: an emoji-only reply is asked again.
        """
        text = tracker.latest_message.get("text") or ""
        if value is True and not any(c.isalnum() for c in text):
            return self._result(dispatcher, tracker, "consent", value, None)
        if value is True:
            dispatcher.utter_message(response="utter_consent_thanks")
            return {"consent": True}
        if value is False:
            # What was volunteered before the no leaves the stored transcript too.
            await asyncio.to_thread(self.services.transcripts.redact_volunteered, tracker.sender_id)
            dispatcher.utter_message(response="utter_consent_declined")
            return {"consent": False, "name": None, "phone": None, "trade_in_vehicle": None}
        return {"consent": None}

    async def extract_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Whatever short reply to "your name?" fits a name is the name, whatever intent the NLU
        read ("Ann" as a greeting, "叫我小王" as a request for a person); questions and requests
        are not."""
        if tracker.get_slot("requested_slot") != "name":
            return {}
        name = checks.looks_like_a_name(tracker.latest_message.get("text") or "")
        return {"name": name} if name else {}

    async def validate_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A name of letters only; text that looks like markup or code is refused."""
        result = self._result(dispatcher, tracker, "name", value, checks.clean_name(value))
        return {**result, **ask_consent_again(tracker, result.get("name"))}

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """By phone, a yes to "the number you are calling from?" is that number."""
        return contact.answer_to_offer(tracker)

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A valid number, stored in E.164 (Chinese numbers without +86); the caller's own
        number is also recorded as verified. A no to the caller's number is no failure: the
        plain question follows."""
        if value is None and contact.caller_offered(tracker):
            return {"phone": None}
        result = self._result(dispatcher, tracker, "phone", value, checks.clean_phone(value))
        await contact.prove_caller(self.services, tracker, result.get("phone"))
        return {**result, **ask_consent_again(tracker, result.get("phone"))}


def ask_consent_again(tracker: Tracker, given: Any) -> dict[str, Any]:
    """Someone who declined and then gives contact details anyway is asked again."""
    return {"consent": None} if given is not None and tracker.get_slot("consent") is False else {}
