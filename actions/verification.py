"""Proving a number is the customer's own before anyone else's bookings or data are touched.

A conversation that asks about bookings made elsewhere, or to erase a record it does not speak
for, is sent a one-time code by SMS and types it back (``verify_phone_form``); the request then
goes on where it stopped. Without an SMS provider the request goes to a consultant, who calls the
number to confirm. Codes are never logged nor kept in a slot.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import DatabaseAction, Services, change_source, language_of
from crm_bridge import verification
from crm_bridge.sms import SmsError

FORM: Final = "verify_phone_form"
# What runs again once the number is verified, by the purpose the verification was started for.
RESUME: Final = {
    "cancel": "cancel_form",
    "reschedule": "reschedule_form",
    "erase": "action_erase_personal_data",
}
SMS_TEXT: Final = {
    "zh": "【{dealer}】您的验证码是 {code}，10分钟内有效。如非本人操作，请忽略本短信。",
    "en": "{dealer}: your verification code is {code}. It expires in 10 minutes. "
    "If you did not ask for it, ignore this message.",
}
# What the slot holds once the form is done (never the code itself).
VERIFIED, FAILED, STOPPED = "verified", "failed", "stopped"


def tail(phone: str) -> str:
    """The last four digits: enough for the customer to recognise the number, not to learn it."""
    return phone[-4:]


async def start_verification(
    services: Services,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    phone: str,
    purpose: str,
) -> list[EventType]:
    """Send a code to ``phone`` and ask for it back; without SMS, hand the request to a person."""
    now = services.clock()
    if services.sms is None:
        await services.in_transaction(
            lambda s: verification.hand_to_person(s, phone, purpose, change_source(tracker), now)
        )
        dispatcher.utter_message(response="utter_verify_by_person", tail=tail(phone))
        return []
    key = services.settings.effective_erasure_key()
    try:
        code = await services.in_transaction(
            lambda s: verification.issue_code(s, key, tracker.sender_id, phone, now)
        )
    except verification.TooManyCodes:
        dispatcher.utter_message(response="utter_verify_too_many", tail=tail(phone))
        return []
    language = language_of(tracker)
    dealer = services.settings.dealer_name_en if language == "en" else services.settings.dealer_name
    try:
        await services.sms.send(phone, SMS_TEXT[language].format(dealer=dealer, code=code))
    except SmsError:
        dispatcher.utter_message(response="utter_verify_sms_failed")
        return []
    dispatcher.utter_message(response="utter_verify_code_sent", tail=tail(phone))
    return [
        SlotSet("verify_purpose", purpose),
        SlotSet("verification_code", None),
        FollowupAction(FORM),
    ]


def digits_of(text: str) -> str:
    """The digits typed, in any script ("１２３４５６" too); spaces and dashes between ignored."""
    found = (unicodedata.digit(ch, None) for ch in text)
    return "".join(str(d) for d in found if d is not None)


class ValidateVerifyPhoneForm(FormValidationAction):
    """The code typed back: right verifies the number, wrong is asked again while tries are left;
    a message without digits ends the verification politely."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def name(self) -> str:
        return "validate_verify_phone_form"

    async def validate_verification_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        code = digits_of(str(value or ""))
        if not code:
            dispatcher.utter_message(response="utter_verify_stopped")
            return {"verification_code": STOPPED}
        if len(code) != verification.CODE_DIGITS:
            dispatcher.utter_message(response="utter_verify_code_format")
            return {"verification_code": None}
        key = self.services.settings.effective_erasure_key()
        now = self.services.clock()
        check = await self.services.in_transaction(
            lambda s: verification.check_code(s, key, tracker.sender_id, code, now)
        )
        if check.outcome == "verified":
            dispatcher.utter_message(response="utter_verified")
            return {"verification_code": VERIFIED}
        if check.outcome == "wrong":
            dispatcher.utter_message(response="utter_verify_code_wrong", left=check.left)
            return {"verification_code": None}
        dispatcher.utter_message(response="utter_verify_failed")
        return {"verification_code": FAILED}


class ActionSubmitVerifyPhone(DatabaseAction):
    """After the code: the request that needed it goes on, or the customer is told what next."""

    def name(self) -> str:
        return "action_submit_verify_phone"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        outcome = tracker.get_slot("verification_code")
        purpose = tracker.get_slot("verify_purpose")
        events: list[EventType] = [
            SlotSet("verification_code", None),
            SlotSet("verify_purpose", None),
        ]
        if outcome == VERIFIED and purpose in RESUME:
            if purpose in ("cancel", "reschedule"):
                events += [SlotSet("td_booking", None), SlotSet("td_confirmed", None)]
            events.append(FollowupAction(RESUME[purpose]))
        return events
