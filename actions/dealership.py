"""Questions about the dealership: offers, address and hours, financing, trade-in."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions.base import DatabaseAction, asked_models, language_of
from actions.handoff import hand_off, negotiating
from actions.next_step import lead_on
from crm_bridge.catalog import current_promotions, dealer
from crm_bridge.models import Dealer

DAYS = {
    "zh": {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五",
           "sat": "周六", "sun": "周日"},
    "en": {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri",
           "sat": "Sat", "sun": "Sun"},
}  # fmt: skip


def opening_hours(showroom: Dealer, language: str) -> str:
    """Consecutive days with the same hours grouped: "周一至周四 09:00–18:00"."""
    groups: list[tuple[list[str], str]] = []
    for day, (opens, closes) in showroom.opening_hours.items():
        hours = f"{opens}–{closes}"
        if groups and groups[-1][1] == hours:
            groups[-1][0].append(day)
        else:
            groups.append(([day], hours))
    names = DAYS[language]
    through = "–" if language == "en" else "至"
    return fmt.joined(
        (
            f"{names[days[0]]}{through}{names[days[-1]]} {hours}"
            if len(days) > 1
            else f"{names[days[0]]} {hours}"
            for days, hours in groups
        ),
        language,
    )


class ActionAnswerPromotions(DatabaseAction):
    """Offers valid today, for the models asked about or all of them."""

    def name(self) -> str:
        return "action_answer_promotions"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        codes = asked_models(tracker) or None
        today = self.services.today()
        titles = await self.services.in_transaction(
            lambda s: [
                fmt.promotion_title(p, language) for p in current_promotions(s, today, codes)
            ]
        )
        if titles:
            dispatcher.utter_message(
                response="utter_current_offers", offers=fmt.joined(titles, language)
            )
        else:
            dispatcher.utter_message(response="utter_no_offers")
        if negotiating(tracker.latest_message.get("text")):
            return await hand_off(self.services, dispatcher, tracker, "price")
        return lead_on(dispatcher, tracker)


class ActionAnswerDealerInfo(DatabaseAction):
    """Address, opening hours, phone, how to get there."""

    def name(self) -> str:
        return "action_answer_dealer_info"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)

        def answer(session: Session) -> dict[str, str] | None:
            showroom = dealer(session)
            if showroom is None:
                return None
            return {
                "address": showroom.address_en if language == "en" else showroom.address,
                "hours": opening_hours(showroom, language),
                "phone": showroom.phone,
                "transport": fmt.bilingual(showroom.transport, language),
                "parking": fmt.bilingual(showroom.parking, language),
            }

        values = await self.services.in_transaction(answer)
        if values is None:
            dispatcher.utter_message(response="utter_cannot_do_online_yet")
            return []
        dispatcher.utter_message(response="utter_dealer_info", **values)
        return lead_on(dispatcher, tracker)


class ActionAnswerFinancing(DatabaseAction):
    """Down payment, terms and leasing from the dealership's data."""

    def name(self) -> str:
        return "action_answer_financing"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        showroom = await self.services.in_transaction(dealer)
        financing = showroom.financing if showroom else {}
        if not financing:
            dispatcher.utter_message(response="utter_pricing_by_consultant")
            return lead_on(dispatcher, tracker)
        dispatcher.utter_message(
            response="utter_financing",
            down_payment=financing["min_down_payment_pct"],
            terms=fmt.joined((str(t) for t in financing["terms_months"]), language),
            notes=fmt.bilingual(financing.get("notes", ""), language),
        )
        if financing.get("lease_available"):
            dispatcher.utter_message(response="utter_lease_available")
        return lead_on(dispatcher, tracker)


class ActionAnswerTradeIn(DatabaseAction):
    """How trade-in works at this dealership."""

    def name(self) -> str:
        return "action_answer_trade_in"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        showroom = await self.services.in_transaction(dealer)
        notes = fmt.bilingual(showroom.trade_in_notes, language) if showroom else ""
        dispatcher.utter_message(response="utter_trade_in", notes=notes)
        return lead_on(dispatcher, tracker)
