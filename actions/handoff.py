"""Handing the conversation to a sales consultant, relaying what they write, taking it back.

The hand-off itself (one per conversation, the first claim wins, escalation) is
``crm_bridge.handoff``; the gateway posts the lead card and relays while a consultant answers.
Here the customer is told who takes over and when, in their language, and the consultant's
messages queued for a web chat are said (``action_relay_messages``, run by the gateway). A
complaint also opens a ticket for the managers (``crm_bridge.tickets``); the customer hears its
number and when a manager gets back to them.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import partial
from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import exc
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions.base import DatabaseAction, Services, conversation_channel, language_of
from actions.next_step import lead_on
from crm_bridge import catalog, handoff, tickets
from crm_bridge.models import RelayMessage, Staff
from crm_bridge.outbox import unreachable
from crm_bridge.types import utcnow

logger = logging.getLogger(__name__)

# Bargaining, as opposed to asking the guide price or the current offers: the final price is a
# consultant's to agree (playbook: the assistant never negotiates).
NEGOTIATION: Final = re.compile(
    r"(便宜(一?点|些|多少)|(再|能)便宜|少(一?点|点儿|多少)|优惠(多少|一?点|些)|能优惠|最低(价|多少|能)|"
    r"底价|砍价|讲价|议价|还价|打(个)?折|折扣多少|让(点|利)|团购价|落地最低|最(好|优惠)的价|成交价|"
    r"太贵|贵了)"
    r"|\b(discount|cheaper|best price|lowest price|bargain|negotia\w*|knock\w* off|"
    r"better (price|deal)|final price|out[- ]the[- ]door)\b",
    re.IGNORECASE,
)
INTENT_REASONS: Final = {"complain": "complaint", "request_human": "person",
                         "request_callback": "person"}  # fmt: skip
INTROS: Final = {"complaint": "utter_handoff_complaint", "price": "utter_handoff_price"}


def negotiating(text: str | None) -> bool:
    """Whether the message bargains over the price ("最低多少能拿下", "any discount on that?")."""
    return bool(text) and NEGOTIATION.search(text or "") is not None


def asked_for_person(tracker: Tracker) -> bool:
    """Whether the customer asked for a person (or a call back) in this session."""
    return any(
        event.get("event") == "user"
        and (event.get("parse_data") or {}).get("intent", {}).get("name")
        in ("request_human", "request_callback")
        for event in tracker.events
    )


def excerpt(tracker: Tracker) -> list[dict[str, str]]:
    """The conversation's last turns, for the consultant's lead card."""
    turns: list[tuple[str, str]] = []
    for event in tracker.events:
        text = event.get("text")
        if not isinstance(text, str) or event.get("event") not in ("user", "bot"):
            continue
        if event.get("event") == "user" and text.startswith("/"):
            continue  # a button press: its title was shown, the payload says nothing more
        turns.append(("customer" if event.get("event") == "user" else "assistant", text))
    return handoff.cut_excerpt(turns)


async def hand_off(
    services: Services,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    ticket_id: int | None = None,
) -> list[EventType]:
    """Hand the conversation to the sales team and tell the customer who takes over and when.
    A complaint opens (or adds to) its ticket here, unless the caller opened it already and
    told the customer (``ticket_id``: a low survey score), which is then linked to the hand-off."""
    language = language_of(tracker)
    now = services.clock()
    result: dict[str, Any] | None = await services.write(
        "handoff.open",
        {
            "sender_id": tracker.sender_id,
            "reason": reason,
            "at": now.isoformat(),
            "zone": services.settings.dealer_timezone,
            "claim_minutes": services.settings.handoff_claim_minutes,
            "channel": conversation_channel(tracker),
            "language": language,
            "excerpt": excerpt(tracker),
        },
    )
    ticket = None
    if ticket_id is not None:
        await services.in_transaction(
            partial(tickets.link_handoff, ticket_id=ticket_id, sender_id=tracker.sender_id)
        )
    elif reason == "complaint":
        ticket = await complaint_ticket(services, tracker, now)
    if ticket is not None:  # the complaint's number and when a manager gets back to them
        registered = "utter_complaint_registered" if ticket["created"] else "utter_complaint_noted"
        hours = services.settings.ticket_escalate_hours
        dispatcher.utter_message(response=registered, ticket=ticket["ticket_id"], hours=hours)
    elif ticket_id is None and (intro := INTROS.get(reason)):
        dispatcher.utter_message(response=intro)
    if result is not None and not result["created"]:
        dispatcher.utter_message(response="utter_handoff_already")
        return []
    starts = result.get("starts_at") if result else None
    starts_at = datetime.fromisoformat(starts) if starts else None
    if conversation_channel(tracker) == "phone":
        await phone_handoff(services, dispatcher, tracker, starts_at, now)
    elif starts_at is None or starts_at <= now:
        dispatcher.utter_message(response="utter_handoff_now")
    else:
        words = fmt.when(starts_at.astimezone(services.settings.timezone), language)
        dispatcher.utter_message(response="utter_handoff_at_opening", opening=words)
    return []


async def phone_handoff(
    services: Services,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    starts_at: datetime | None,
    now: datetime,
) -> None:
    """By phone: while the showroom is open the call is put through to it (``<Dial>``); the
    lead card asks a consultant to call back all the same, in case nobody picks up. Outside
    opening hours (or with no showroom number) a consultant calls back when it opens."""
    showroom = await services.in_transaction(lambda s: catalog.dealer(s))
    number = showroom.phone if showroom is not None else None
    if (starts_at is None or starts_at <= now) and number:
        dispatcher.utter_message(response="utter_handoff_transfer")
        dispatcher.utter_message(json_message={"dial": number})
    elif starts_at is None or starts_at <= now:
        dispatcher.utter_message(response="utter_handoff_callback")
    else:
        words = fmt.when(starts_at.astimezone(services.settings.timezone), language_of(tracker))
        dispatcher.utter_message(response="utter_handoff_callback_at_opening", opening=words)


async def complaint_ticket(
    services: Services, tracker: Tracker, now: datetime
) -> dict[str, Any] | None:
    """The complaint's ticket (``{"ticket_id", "created"}``: a second complaint adds to the open
    one); None when the database cannot be reached (the hand-off waits in the outbox)."""
    text = tracker.latest_message.get("text")
    words = text.strip() if isinstance(text, str) and not text.startswith("/") else None
    work = partial(
        tickets.complaint, sender_id=tracker.sender_id, at=now, words=words or None,
        excerpt=excerpt(tracker), channel=conversation_channel(tracker),
        language=language_of(tracker),
    )  # fmt: skip
    try:
        found: dict[str, Any] = await services.in_transaction(work)
    except exc.SQLAlchemyError as error:
        if not unreachable(error):
            raise
        logger.warning("complaint ticket not opened: database unreachable")
        return None
    return found


class ActionHandOff(DatabaseAction):
    """A person is needed now (a complaint, a request while a form runs): hand off."""

    def name(self) -> str:
        return "action_hand_off"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = INTENT_REASONS.get(str(intent), "person")
        if reason == "person" and negotiating(tracker.latest_message.get("text")):
            reason = "price"
        return await hand_off(self.services, dispatcher, tracker, reason)


class ActionRelayMessages(DatabaseAction):
    """Say what the consultant handling the conversation wrote (run by the gateway)."""

    def name(self) -> str:
        return "action_relay_messages"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        public = self.services.settings.effective_gateway_url

        def take(session: Session) -> list[dict[str, Any]]:
            messages = handoff.undelivered(session, "to_customer", tracker.sender_id)
            said = []
            for message in messages:
                name = message_author(session, message)
                said.append(
                    {"kind": message.kind, "body": message.body, "media": message.media,
                     "author": name}
                )  # fmt: skip
                message.delivered_at = utcnow()
            return said

        for message in await self.services.in_transaction(take):
            author = f"【{message['author']}】" if message["author"] else ""
            if message["kind"] == "photo" and message["media"]:
                dispatcher.utter_message(
                    text=f"{author}{message['body'] or ''}".strip() or None,
                    image=f"{public}/media/{message['media']}",
                )
            elif message["kind"] == "location" and message["body"]:
                latitude, _, longitude = message["body"].partition(",")
                dispatcher.utter_message(text=f"{author}📍 {map_link(latitude, longitude)}")
            else:
                dispatcher.utter_message(text=f"{author}{message['body'] or ''}")
        return []


def message_author(session: Session, message: RelayMessage) -> str | None:
    staff = session.get(Staff, message.staff_id) if message.staff_id else None
    return staff.name if staff is not None else None


def map_link(latitude: str, longitude: str) -> str:
    """A map link anyone can open (OpenStreetMap) for a relayed location."""
    return (
        f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}"
        f"#map=17/{latitude}/{longitude}"
    )


class ActionHandBack(DatabaseAction):
    """The consultant is done: the assistant greets the customer again and offers help."""

    def name(self) -> str:
        return "action_hand_back"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_hand_back")
        return lead_on(dispatcher, tracker) if tracker.get_slot("focus_model") else []
