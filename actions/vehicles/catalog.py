"""Questions about the cars: which models, recommendations by need, prices, specs."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions.base import DatabaseAction, asked_models, entity_values, language_of
from actions.leads import note_interest
from crm_bridge.catalog import Need, active_models, current_promotions, recommend
from crm_bridge.models import CatalogModel


def _need(tracker: Tracker) -> Need:
    def first_int(name: str) -> int | None:
        values = [v for v in entity_values(tracker, name) if isinstance(v, int)]
        return values[0] if values else None

    def first_str(name: str) -> str | None:
        values = [v for v in entity_values(tracker, name) if isinstance(v, str)]
        return values[0] if values else None

    return Need(
        seats=first_int("seats"),
        budget_cny_max=first_int("budget"),
        body_type=first_str("body_type"),
        powertrain=first_str("powertrain"),
    )


def _criteria(need: Need, language: str) -> str:
    parts = []
    if need.seats:
        parts.append(f"{need.seats} seats" if language == "en" else f"{need.seats}座")
    if need.powertrain:
        parts.append(fmt.POWER[language][need.powertrain])
    if need.body_type:
        parts.append(fmt.BODY[language][need.body_type])
    if need.budget_cny_max:
        money = fmt.money(need.budget_cny_max, language)
        parts.append(f"up to {money}" if language == "en" else f"{money}以内")
    return fmt.joined(parts, language)


class ActionAnswerModels(DatabaseAction):
    """Lists the range, or recommends models for a stated need ("7 seats under 80万")."""

    def name(self) -> str:
        return "action_answer_models"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language, need = language_of(tracker), _need(tracker)

        def answer(session: Session) -> tuple[str, dict[str, Any]]:
            if not need:
                models = active_models(session)
                return "utter_models_list", {
                    "models": fmt.joined((m.code for m in models), language)
                }
            found, exact = recommend(session, need)
            lines = fmt.joined((fmt.model_summary(m, language) for m in found), language)
            response = "utter_models_recommended" if exact else "utter_models_closest"
            return response, {"models": lines, "criteria": _criteria(need, language)}

        response, values = await self.services.in_transaction(answer)
        dispatcher.utter_message(response=response, **values)
        return await note_interest(self.services, tracker)


def models_or_ask(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[str]:
    """The models the customer named; if none, ask which one and return nothing."""
    codes = asked_models(tracker)
    if not codes:
        dispatcher.utter_message(response="utter_ask_which_model")
    return codes


class ActionAnswerPrice(DatabaseAction):
    """Guide price ranges of the models asked about, with the current offers for them."""

    def name(self) -> str:
        return "action_answer_price"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        codes = models_or_ask(dispatcher, tracker)
        if not codes:
            return []
        today = self.services.today()

        def answer(session: Session) -> tuple[list[CatalogModel], list[str]]:
            models = active_models(session, codes)
            offers = current_promotions(session, today, codes)
            return models, [fmt.promotion_title(p, language) for p in offers]

        models, offers = await self.services.in_transaction(answer)
        for model in models:
            dispatcher.utter_message(
                response="utter_price", model=model.code, price=fmt.price_range(model, language)
            )
        if offers:
            dispatcher.utter_message(
                response="utter_current_offers", offers=fmt.joined(offers, language)
            )
        dispatcher.utter_message(response="utter_quote_by_consultant")
        return await note_interest(self.services, tracker)


class ActionAnswerModelInfo(DatabaseAction):
    """Key specs: body, seats, powertrain, range or consumption, highlights."""

    def name(self) -> str:
        return "action_answer_model_info"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = language_of(tracker)
        codes = models_or_ask(dispatcher, tracker)
        if not codes:
            return []
        models = await self.services.in_transaction(lambda s: active_models(s, codes))
        for model in models:
            dispatcher.utter_message(
                response="utter_model_info",
                model=model.code,
                body=fmt.BODY[language][model.body_type],
                seats=model.seats,
                powertrain=fmt.POWER[language][model.powertrain],
                efficiency=fmt.efficiency(model, language),
                highlights=fmt.highlight(model, language),
            )
        return await note_interest(self.services, tracker)
