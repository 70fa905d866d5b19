"""Which models, recommendations by need (equipment and stock too), and prices per trim."""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions.base import Services, asked_models, entity_values, language_of
from actions.handoff import hand_off, negotiating
from actions.vehicles import wording
from actions.vehicles.base import VehicleAnswer
from actions.vehicles.context import Subject, subject_of
from crm_bridge.catalog import Need, active_models, current_promotions
from crm_bridge.vehicles import find_trim, recommend_with_equipment, trims_of

_ASKS_PRICE = re.compile(r"多少钱|价格|什么价|价位|落地|报价|how much|price|cost", re.IGNORECASE)
_SOON = (
    "现车",
    "现货",
    "有货",
    "马上提",
    "尽快提",
    "in stock",
    "available now",
    "right away",
    "asap",
)


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


def _criteria(need: Need, features: list[str], in_stock: bool, language: str) -> str:
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
    parts += [wording.feature(f, language) for f in features]
    if in_stock:
        parts.append("in stock" if language == "en" else "有现车")
    return fmt.joined(parts, language)


class ActionAnswerModels(VehicleAnswer):
    """Lists the range, or recommends models for a stated need ("7 seats under 80万", "要带座椅
    通风的，最好有现车"), equipment and stock included."""

    topic = "models"
    needs_model = False

    def name(self) -> str:
        return "action_answer_models"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, subject: Subject
    ) -> list[EventType]:
        language, need = language_of(tracker), _need(tracker)
        text = subject.text.lower()
        want_stock = any(word in text for word in _SOON)
        features = [f for f in entity_values(tracker, "feature") if isinstance(f, str)]

        def answer(session: Session) -> tuple[str, dict[str, str], list[str]]:
            if not need and not features and not want_stock:
                models = active_models(session)
                return (
                    "utter_models_list",
                    {"models": fmt.joined((m.code for m in models), language)},
                    [],
                )
            picks, exact = recommend_with_equipment(session, need, features, want_stock)
            lines = [
                fmt.model_summary(p.model, language)
                + (
                    (" – in stock" if language == "en" else "，有现车")
                    if want_stock and p.in_stock
                    else ""
                )
                for p in picks
            ]
            response = "utter_models_recommended" if exact else "utter_models_closest"
            criteria = _criteria(need, features, want_stock, language)
            return (
                response,
                {"models": fmt.joined(lines, language), "criteria": criteria},
                [p.model.code for p in picks],
            )

        response, values, codes = await self.services.in_transaction(answer)
        dispatcher.utter_message(response=response, **values)
        focus = Subject(subject.text, [codes[0]] if len(codes) == 1 else [], features)
        return await self.finish(dispatcher, tracker, focus, [], suggestions=codes or None)


class ActionAnswerPrice(VehicleAnswer):
    """Guide price ranges of the models asked about (or of one trim: "顶配多少钱"), with offers."""

    topic = "price"

    def name(self) -> str:
        return "action_answer_price"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # Bargaining without a model named ("能不能少点？") needs a consultant, not a question.
        if negotiating(tracker.latest_message.get("text")) and not subject_of(tracker).models:
            return await hand_off(self.services, dispatcher, tracker, "price")
        return await super().respond(dispatcher, tracker, domain)

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, subject: Subject
    ) -> list[EventType]:
        language = language_of(tracker)
        today = self.services.today()

        def answer(session: Session) -> tuple[list[tuple[str, str]], list[str]]:
            prices = []
            for model in active_models(session, subject.models):
                trim = find_trim(trims_of(session, model.code), subject.text)
                if trim is not None:
                    name = f"{model.code} {wording.trim(trim, language)}"
                    prices.append((name, fmt.money(trim.price_cny, language)))
                else:
                    prices.append((model.code, fmt.price_range(model, language)))
            offers = current_promotions(session, today, subject.models)
            return prices, [fmt.promotion_title(p, language) for p in offers]

        prices, offers = await self.services.in_transaction(answer)
        for model, price in prices:
            dispatcher.utter_message(response="utter_price", model=model, price=price)
        if offers:
            dispatcher.utter_message(
                response="utter_current_offers", offers=fmt.joined(offers, language)
            )
        if negotiating(tracker.latest_message.get("text")):
            return await hand_off(self.services, dispatcher, tracker, "price")
        dispatcher.utter_message(response="utter_quote_by_consultant")
        return await self.finish(dispatcher, tracker, subject, [])


async def price_asked_too(
    services: Services, dispatcher: CollectingDispatcher, tracker: Tracker
) -> None:
    """The guide price of the models named, when a message that does something else (books a
    test drive) also asks it."""
    text = tracker.latest_message.get("text") or ""
    codes = asked_models(tracker)
    if not codes or not _ASKS_PRICE.search(text):
        return
    language = language_of(tracker)
    models = await services.in_transaction(lambda s: active_models(s, codes))
    for model in models:
        dispatcher.utter_message(
            response="utter_price", model=model.code, price=fmt.price_range(model, language)
        )
