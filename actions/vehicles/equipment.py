"""Equipment per trim ("有座椅通风吗") and stock and delivery times ("有现车吗", "提车要多久")."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions.base import language_of
from actions.vehicles import wording
from actions.vehicles.base import VehicleAnswer
from actions.vehicles.context import Subject, note_open_question
from crm_bridge.vehicles import (
    FeatureAnswer,
    colors_available,
    find_trim,
    models_with,
    stock_of,
    trims_of,
)


class ActionAnswerFeature(VehicleAnswer):
    """Per trim: standard from which trim, optional on which, unavailable on which. Equipment the
    data does not know gets an honest "a consultant will confirm", noted on the lead."""

    topic = "feature"
    needs_model = False

    def name(self) -> str:
        return "action_answer_feature"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, subject: Subject
    ) -> list[EventType]:
        language = language_of(tracker)
        events: list[EventType] = []
        if not subject.features:
            dispatcher.utter_message(response="utter_feature_unknown")
            question = f"{subject.model or 'general'}: equipment not in the dealership data"
            events += note_open_question(tracker, question)
            return await self.finish(dispatcher, tracker, subject, events)
        if not subject.models:
            feature = subject.features[0]
            codes = await self.services.in_transaction(lambda s: models_with(s, feature))
            dispatcher.utter_message(
                response="utter_feature_models",
                feature=wording.feature(feature, language),
                models=fmt.joined(codes, language) if codes else "—",
            )
            return await self.finish(
                dispatcher, tracker, subject, events, suggestions=codes or None
            )

        def answer(session: Session) -> list[tuple[str, str, str | None]]:
            said: list[tuple[str, str, str | None]] = []
            for code in subject.models[:2]:
                trims = trims_of(session, code)
                trim = find_trim(trims, subject.text)
                for feature in subject.features[:3]:
                    found = FeatureAnswer.of(code, trims, feature)
                    if not found.known:
                        said.append((code, feature, None))
                    elif trim is not None:
                        state = trim.availability(feature)
                        said.append((f"{code} {wording.trim(trim, language)}", feature,
                                     _one_trim(state, language)))  # fmt: skip
                    else:
                        said.append((code, feature, wording.availability(found, language)))
            return said

        for model, feature, availability in await self.services.in_transaction(answer):
            if availability is None:
                dispatcher.utter_message(response="utter_feature_to_confirm", model=model,
                                         feature=wording.feature(feature, language))  # fmt: skip
                events += note_open_question(tracker, f"{model}: {feature}")
            else:
                dispatcher.utter_message(
                    response="utter_feature_availability", model=model,
                    feature=wording.feature(feature, language), availability=availability,
                )  # fmt: skip
        return await self.finish(dispatcher, tracker, subject, events)


def _one_trim(state: str | None, language: str) -> str:
    if state == "standard":
        return "standard" if language == "en" else "标配"
    if state == "optional":
        return "available as an option" if language == "en" else "可选装"
    return "not available" if language == "en" else "不提供"


class ActionAnswerStock(VehicleAnswer):
    """Cars in stock, arriving or to order, per trim and colour, from the stock data."""

    topic = "stock"

    def name(self) -> str:
        return "action_answer_stock"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, subject: Subject
    ) -> list[EventType]:
        language = language_of(tracker)
        today = self.services.today()
        events: list[EventType] = []

        def answer(session: Session) -> list[tuple[str, str, list[str]]]:
            said = []
            for code in subject.models[:2]:
                trims = trims_of(session, code)
                trim = find_trim(trims, subject.text)
                stock = stock_of(code, trims, subject.color, trim)
                label = f"{code} {wording.trim(trim, language)}" if trim else code
                if subject.color:
                    label = (f"{wording.color(subject.color, language)} {label}" if language == "en"
                             else f"{wording.color(subject.color, language)}的{label}")  # fmt: skip
                colors = [] if stock.anything else colors_available(trims)
                said.append((label, wording.stock(stock, language, today) if stock.anything else "",
                             colors))  # fmt: skip
            return said

        for label, lines, colors in await self.services.in_transaction(answer):
            if lines:
                dispatcher.utter_message(response="utter_stock", model=label, stock=lines)
            else:
                names = fmt.joined((wording.color(c, language) for c in colors), language)
                dispatcher.utter_message(
                    response="utter_stock_to_confirm", model=label, colors=names or "—"
                )
                events += note_open_question(tracker, f"{label}: availability")
        return await self.finish(dispatcher, tracker, subject, events)
