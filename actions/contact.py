"""The contact number question of the needs analysis and the test-drive booking.

By phone the number the customer is calling from is offered first ("the number you are calling
from, ending 5678?", key 1 yes, key 2 another); a signed call's number is the caller's own, so
taking it also proves it (``verified_phones``, via ``caller_id``). A "no" is asked the plain
question, never the offer twice in a row.

Needs in the domain: the responses ``utter_ask_phone`` and ``utter_ask_phone_caller`` (with
``{tail}``), the intents ``affirm`` and ``deny``, and the phone channel's ``caller`` metadata.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import exc

from actions import slots as checks
from actions.base import Services, language_of, message_metadata
from crm_bridge import identity

logger = logging.getLogger(__name__)

OFFER: Final = "utter_ask_phone_caller"
CHOICES: Final = {
    "zh": ({"title": "就用这个号码", "payload": "/affirm"},
           {"title": "换一个号码", "payload": "/deny"}),
    "en": ({"title": "Yes, this number", "payload": "/affirm"},
           {"title": "Another number", "payload": "/deny"}),
}  # fmt: skip


def caller_number(tracker: Tracker) -> str | None:
    """The number a phone customer is calling from (a signed call's ``From``), if known.

    Only Rasa's phone channel (input channel "phone", which checks the provider's signature)
    vouches for it: metadata a REST client sends naming a channel and a caller proves nothing."""
    if tracker.get_latest_input_channel() != "phone":
        return None
    return checks.clean_phone(message_metadata(tracker).get("caller"))


def caller_offered(tracker: Tracker) -> bool:
    """Whether the assistant's last question offered the caller's number."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            return (event.get("metadata") or {}).get("utter_action") == OFFER
    return False


def intent_of(tracker: Tracker) -> str | None:
    name = (tracker.latest_message.get("intent") or {}).get("name")
    return str(name) if name else None


def answer_to_offer(tracker: Tracker) -> dict[str, Any]:
    """The phone slot from a yes or no to the offer: the caller's number, or nothing yet (the
    plain question follows); {} when the customer said something else."""
    if tracker.get_slot("requested_slot") != "phone" or tracker.get_slot("phone") is not None:
        return {}
    if not caller_offered(tracker):
        return {}
    if intent_of(tracker) == "affirm":
        caller = caller_number(tracker)
        return {"phone": caller} if caller else {}
    if intent_of(tracker) == "deny":
        return {"phone": None}
    return {}


async def prove_caller(services: Services, tracker: Tracker, phone: str | None) -> None:
    """A signed call's own number given as the contact phone counts as verified."""
    if phone is None or phone != caller_number(tracker):
        return
    now = services.clock()
    try:
        await services.in_transaction(
            lambda s: identity.verify_phone(s, tracker.sender_id, phone, "caller_id", now)
        )
    except exc.SQLAlchemyError as error:  # the number is still taken; only the proof waits
        logger.warning("caller id not recorded as verified: %s", type(error).__name__)


class AskPhone(Action):
    """ "Which number can we reach you on?": by phone, the caller's own number is offered."""

    form: ClassVar[str]

    def name(self) -> str:
        return f"action_ask_{self.form}_phone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        caller = caller_number(tracker)
        if caller is None or caller_offered(tracker):
            dispatcher.utter_message(response="utter_ask_phone")
            return []
        language = language_of(tracker)
        dispatcher.utter_message(response=OFFER, tail=caller[-4:], buttons=list(CHOICES[language]))
        return []


class ActionAskQualificationFormPhone(AskPhone):
    form = "qualification_form"


class ActionAskTestDriveFormPhone(AskPhone):
    form = "test_drive_form"
