"""Needs analysis (the qualification form): what the buyer wants, then consent, then contact.

The form asks only for what is still missing, re-asks with a clear example when an answer does not
fit, offers to skip after repeated failures ("跳过" / "skip" is a ``deny``), accepts corrections at
any point, and lets other questions through (the rules answer them and the form resumes). The lead
is written after every turn once the customer has consented.
"""

from __future__ import annotations

from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import exc

from actions import contact
from actions import slots as checks
from actions.base import DatabaseAction, entity_values, language_of
from actions.forms import LABELS, CheckedFormValidation, display, just_answered
from actions.handoff import asked_for_person, hand_off
from actions.leads import CONTACT, NEEDS, previous_value, save_lead, slot_view
from crm_bridge.catalog import active_models
from crm_bridge.leads import intention_level
from crm_bridge.outbox import unreachable

FORM: Final = "qualification_form"
# Intents that answer the form's question; anything else is a question or request of its own.
ANSWERS: Final = frozenset({"inform", "affirm", "deny", "nlu_fallback"})
# Intents of messages that state needs (as opposed to asking a question).
STATEMENTS: Final = frozenset(
    {"inform", "affirm", "deny", "nlu_fallback", "request_test_drive", "request_human",
     "request_callback"}
)  # fmt: skip


def required_slots_for(slots: dict[str, Any]) -> list[str]:
    """The form's questions in order, given what is known.

    Consent comes right before the contact details, or first if the customer volunteered a name
    or phone number; without consent no contact details are asked for. Skipped questions go.
    """
    needs = list(NEEDS)
    if slots.get("trade_in") is True:
        needs.append("trade_in_vehicle")
    consent = slots.get("consent")
    volunteered = [s for s in CONTACT if slots.get(s) is not None]
    contact = list(CONTACT) if consent is True else volunteered
    order = ["consent", *needs] if volunteered and consent is None else [*needs, "consent"]
    skipped = set(slots.get("skipped_slots") or [])
    return [s for s in order + contact if s not in skipped]


def summary(slots: dict[str, Any], language: str) -> str:
    """What the customer told us, one "label: value" per known need."""
    parts = []
    for slot in (*NEEDS, "trade_in_vehicle"):
        value = slots.get(slot)
        if value is None or value == []:
            continue
        label = LABELS[language][slot]
        shown = display(slot, value, language)
        parts.append(f"{label}: {shown}" if language == "en" else f"{label}：{shown}")
    return ("; " if language == "en" else "；").join(parts)


class ValidateQualificationForm(CheckedFormValidation):
    """Validates every answer of the needs analysis and writes the lead as it goes."""

    def name(self) -> str:
        return "validate_qualification_form"

    async def ask_order(self, tracker: Tracker) -> list[str]:
        return required_slots_for(tracker.slots)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = self._unanswered(dispatcher, tracker)
        # Known to what follows, but not validated again as if the customer had said them.
        tracker.slots.update({e["name"]: e["value"] for e in events})
        events += await super().run(dispatcher, tracker, domain)
        await save_lead(self.services, tracker, events)
        return events

    def _unanswered(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """The customer answered the question with nothing usable: skip it or ask again."""
        requested = tracker.get_slot("requested_slot")
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if not requested or not just_answered(tracker, FORM) or intent not in ANSWERS:
            return []
        if tracker.slots_to_validate() or self._understood_from_text(tracker, requested):
            return []  # something was understood: validated below
        if contact.answer_to_offer(tracker):
            return []  # yes or no to the number they call from (actions/contact.py)
        if intent == "deny":
            skipped = [*(tracker.get_slot("skipped_slots") or []), requested]
            dispatcher.utter_message(response="utter_skipped")
            return [SlotSet("skipped_slots", skipped)]
        return [SlotSet(requested, None), *self._failed(dispatcher, tracker, requested)]

    @staticmethod
    def _understood_from_text(tracker: Tracker, requested: str) -> bool:
        text = tracker.latest_message.get("text") or ""
        return requested == "trade_in" and checks.yes_or_no(text) is not None

    async def extract_trade_in(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A plain "有"/"没有" to the trade-in question, whatever intent the NLU saw in it;
        or a statement about it in any answer ("全款，没有旧车").

        A description of a car given right away ("一台2016年的帕萨特") is a yes, too.
        """
        if "trade_in" in tracker.slots_to_validate() or not just_answered(tracker, FORM):
            return {}
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if tracker.get_slot("requested_slot") != "trade_in":
            statement = intent in STATEMENTS and tracker.get_slot("trade_in") is None
            mentioned = checks.trade_in_mentioned(text) if statement else None
            return {} if mentioned is None else {"trade_in": mentioned}
        answer = checks.yes_or_no(text)
        if answer is None and intent == "ask_trade_in" and checks.clean_trade_in_vehicle(text):
            answer = True
        return {} if answer is None else {"trade_in": answer}

    async def extract_payment(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """How the buyer pays, named in the answer to "how would you like to pay?" whatever intent
        the NLU read ("I'd pay with leasing" as a financing question); a question is not one."""
        if tracker.get_slot("requested_slot") != "payment" or not just_answered(tracker, FORM):
            return {}
        if "payment" in tracker.slots_to_validate():
            return {}
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/") or checks.asks_something(text):
            return {}
        named = [v for v in entity_values(tracker, "payment") if checks.clean_payment(v)]
        return {"payment": named[0]} if len(named) == 1 else {}

    async def extract_trade_in_vehicle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A reply to "which car?" is the car, whatever intent was read, unless it asks something
        ("a 2018 corolla" read as a question about models)."""
        if tracker.get_slot("requested_slot") != "trade_in_vehicle":
            return {}
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/") or checks.asks_something(text):
            return {}
        car = checks.clean_trade_in_vehicle(text)
        return {"trade_in_vehicle": car} if car else {}

    async def validate_car_models(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Catalog models; added to those named before unless the customer corrects them."""
        before = list(previous_value(tracker, "car_models") or [])
        requested = tracker.get_slot("requested_slot")
        if requested in ("trade_in", "trade_in_vehicle"):
            return {"car_models": before or None}  # the car to trade in, not one to buy
        cleaned = checks.clean_models(value, await self._catalog_codes())
        text = tracker.latest_message.get("text") or ""
        if cleaned and before and requested != "car_models" and not checks.is_correction(text):
            cleaned = before + [code for code in cleaned if code not in before]
        return self._result(dispatcher, tracker, "car_models", value, cleaned)

    async def _catalog_codes(self) -> set[str] | None:
        try:
            models = await self.services.in_transaction(active_models)
        except exc.SQLAlchemyError as error:  # the NLU only yields catalog codes anyway
            if unreachable(error):
                return None
            raise
        return {m.code for m in models}

    async def validate_budget(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The most the customer will spend, in CNY."""
        return self._result(dispatcher, tracker, "budget", value, checks.clean_budget(value))

    async def validate_purchase_timeline(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Days until the purchase; decides the intention level H/A/B/C."""
        cleaned = checks.clean_timeline(value)
        return self._result(dispatcher, tracker, "purchase_timeline", value, cleaned)

    async def validate_payment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Cash, loan or lease."""
        return self._result(dispatcher, tracker, "payment", value, checks.clean_payment(value))

    async def validate_trade_in(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Whether there is a car to trade in; without one, no trade-in car is kept."""
        cleaned = checks.clean_yes_no(value)
        result = self._result(dispatcher, tracker, "trade_in", value, cleaned)
        if cleaned is False:
            result["trade_in_vehicle"] = None
        return result

    async def validate_trade_in_vehicle(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The car to trade in, as the customer describes it."""
        if tracker.get_slot("requested_slot") != "trade_in_vehicle":
            # Said with the answer to "any car to trade in?": only "有，<the car>" describes one.
            text = tracker.latest_message.get("text") or ""
            if checks.yes_or_no(text) is not True:
                return {"trade_in_vehicle": None}
            return {"trade_in_vehicle": checks.clean_trade_in_vehicle(value)}
        cleaned = checks.clean_trade_in_vehicle(value)
        return self._result(dispatcher, tracker, "trade_in_vehicle", value, cleaned)


class ActionSubmitQualification(DatabaseAction):
    """End of the needs analysis: the lead is saved and the customer told what happens next."""

    def name(self) -> str:
        return "action_submit_qualification"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slots = slot_view(tracker, [])
        language = language_of(tracker)
        needs = summary(slots, language) or ("no details yet" if language == "en" else "暂无")
        saved = await save_lead(self.services, tracker, [])
        if saved:
            phone = checks.clean_phone(slots.get("phone"))
            if phone:
                dispatcher.utter_message(response="utter_qualified", summary=needs, phone=phone)
            else:
                dispatcher.utter_message(response="utter_noted_without_contact", summary=needs)
        else:
            dispatcher.utter_message(response="utter_needs_noted_anonymous", summary=needs)
        events: list[EventType] = [SlotSet("slot_failures", None)]
        # A person asked for, or a hot lead (buying within the H or A horizon), goes to a
        # consultant now.
        level = intention_level(checks.clean_timeline(slots.get("purchase_timeline")))
        if asked_for_person(tracker):
            return events + await hand_off(self.services, dispatcher, tracker, "person")
        if saved and level in ("H", "A"):
            return events + await hand_off(self.services, dispatcher, tracker, "hot_lead")
        return events
