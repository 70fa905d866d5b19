"""Vehicle presentation (车辆展示): a model presented, and models or trims compared."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import formatting as fmt
from actions.base import language_of
from actions.vehicles import wording
from actions.vehicles.base import VehicleAnswer
from actions.vehicles.context import Subject, note_open_question
from crm_bridge.catalog import active_models, current_promotions
from crm_bridge.models import CatalogModel, Trim
from crm_bridge.vehicles import (
    FeatureAnswer,
    compare,
    find_trim,
    highlights,
    stock_of,
    trim_difference,
    trims_of,
)


def _intro(model: CatalogModel, language: str) -> str:
    """ "燃油SUV，5座，综合油耗约7.8升/百公里；中型豪华SUV，2.0T quattro" """
    body, power = fmt.BODY[language][model.body_type], fmt.POWER[language][model.powertrain]
    facts = [f"{power} {body}" if language == "en" else f"{power}{body}",
             f"{model.seats} seats" if language == "en" else f"{model.seats}座",
             fmt.efficiency(model, language),
             wording.size(model.length_mm, model.wheelbase_mm, language)]  # fmt: skip
    text = (
        fmt.joined((f for f in facts if f), language)
        if language == "en"
        else "，".join(f for f in facts if f)
    )
    return (
        f"{text}; {fmt.highlight(model, language)}"
        if language == "en"
        else (f"{text}；{fmt.highlight(model, language)}")
    )


def _highlight_line(trims: Sequence[Trim], wanted: Sequence[str], language: str) -> str:
    names = []
    for code in highlights(trims, wanted):
        answer = FeatureAnswer.of(trims[0].model_code, trims, code)
        first = answer.standard_from()
        name = wording.feature(code, language)
        if first is not None and first is not trims[0]:
            name += (f" (standard from the {first.name_en})" if language == "en"
                     else f"（{first.name}起标配）")  # fmt: skip
        elif first is None:
            name += " (optional)" if language == "en" else "（可选装）"
        names.append(name)
    if not names:
        return ""
    return (
        f"Highlights: {fmt.joined(names, 'en')}. "
        if language == "en"
        else (f"亮点：{fmt.joined(names, 'zh')}。")
    )


def _trims_line(trims: Sequence[Trim], language: str) -> str:
    if not trims:
        return ""
    listed = fmt.joined(
        (f"{wording.trim(t, language)} {fmt.money(t.price_cny, language)}" for t in trims),
        language,
    )
    return (
        f"{len(trims)} trims: {listed}. "
        if language == "en"
        else f"共{len(trims)}个配置：{listed}。"
    )


def _stock_line(code: str, trims: Sequence[Trim], language: str, today: date) -> str:
    stock = stock_of(code, trims)
    if stock.in_stock:
        names = dict.fromkeys(wording.trim(x.trim, language) for x in stock.in_stock)
        joined = fmt.joined(names, language)
        return f" In stock now: {joined}." if language == "en" else f"目前有现车（{joined}）。"
    if stock.arriving:
        return (
            " "
            + wording.stock(stock, language, today, limit=1)
            + ("." if language == "en" else "。")
        )
    if stock.to_order:
        weeks = max(1, round((stock.shortest_lead_days or 7) / 7))
        return (
            f" Built to order, about {weeks} weeks."
            if language == "en"
            else f"需订车，约{weeks}周。"
        )
    return ""


class ActionAnswerModelInfo(VehicleAnswer):
    """ "介绍一下Q5L": what the car is, highlights that fit what the buyer asked about, the trims
    and price range, the current offer and stock, then an invitation."""

    topic = "info"

    def name(self) -> str:
        return "action_answer_model_info"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, subject: Subject
    ) -> list[EventType]:
        language = language_of(tracker)
        today = self.services.today()
        wanted = [
            *subject.features,
            *((tracker.get_slot("last_question") or {}).get("features") or []),
        ]

        def answer(session: Session) -> list[dict[str, str]]:
            said = []
            for model in active_models(session, subject.models[:2]):
                trims = trims_of(session, model.code)
                offers = current_promotions(session, today, [model.code])
                offer_line = ""
                if offers:
                    titles = fmt.joined(
                        (fmt.promotion_title(p, language) for p in offers), language
                    )
                    offer_line = (
                        f" Current offer: {titles}."
                        if language == "en"
                        else f"当前优惠：{titles}。"
                    )
                said.append({
                    "model": model.code,
                    "intro": _intro(model, language),
                    "highlights": _highlight_line(trims, wanted, language),
                    "trims": _trims_line(trims, language),
                    "price": fmt.price_range(model, language),
                    "offers": offer_line,
                    "stock": _stock_line(model.code, trims, language, today),
                })  # fmt: skip
            return said

        for values in await self.services.in_transaction(answer):
            dispatcher.utter_message(response="utter_model_presentation", **values)
        return await self.finish(dispatcher, tracker, subject, [], just_presented=True)


class ActionCompareModels(VehicleAnswer):
    """Two models, two trims, or an Audi against a competitor (which the data does not hold)."""

    topic = "compare"
    needs_model = False

    def name(self) -> str:
        return "action_compare_models"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, subject: Subject
    ) -> list[EventType]:
        language = language_of(tracker)
        models = list(dict.fromkeys(subject.models))
        focus = tracker.get_slot("focus_model")
        if len(models) == 1 and focus and focus != models[0] and not subject.competitors:
            models = [focus, models[0]]  # "和A6L比呢" while the Q5L is in focus
        events: list[EventType] = []
        if len(models) >= 2:
            said = await self.services.in_transaction(lambda s: self._models(s, models, language))
            for values in said:
                dispatcher.utter_message(response="utter_compare_models", **values)
        elif models and subject.competitors:
            rival = subject.competitors[0]
            dispatcher.utter_message(
                response="utter_compare_competitor", model=models[0], competitor=rival
            )
            events += note_open_question(tracker, f"{models[0]} vs {rival}: comparison")
        elif models:
            trims = await self.services.in_transaction(
                lambda s: self._trims(s, models[0], subject.text, language)
            )
            if trims is None:
                dispatcher.utter_message(response="utter_ask_compare_with", model=models[0])
            else:
                dispatcher.utter_message(response="utter_compare_trims", **trims)
        elif subject.competitors:
            dispatcher.utter_message(
                response="utter_ask_compare_with_audi", competitor=subject.competitors[0]
            )
        else:
            dispatcher.utter_message(response="utter_ask_which_model")
        focused = Subject(subject.text, models[-1:] or subject.models, subject.features,
                          subject.color, subject.competitors)  # fmt: skip
        return await self.finish(dispatcher, tracker, focused, events)

    @staticmethod
    def _models(session: Session, codes: list[str], language: str) -> list[dict[str, str]]:
        found = compare(session, codes[0], codes[1])
        if found is None:
            return []
        a, b = found.first, found.second

        def only(features: list[str]) -> str:
            none = "—" if language == "zh" else "nothing notable"
            return wording.features(features[:3], language) or none

        return [{
            "first": a.code, "second": b.code,
            "first_facts": fmt.model_summary(a, language),
            "second_facts": fmt.model_summary(b, language),
            "first_size": wording.size(a.length_mm, a.wheelbase_mm, language),
            "second_size": wording.size(b.length_mm, b.wheelbase_mm, language),
            "only_first": only(found.only_first), "only_second": only(found.only_second),
        }]  # fmt: skip

    @staticmethod
    def _trims(session: Session, code: str, text: str, language: str) -> dict[str, str] | None:
        trims = trims_of(session, code)
        named = [t for t in trims if t.name in text or t.name_en.lower() in text.lower()]
        if len(named) < 2:
            top = find_trim(trims, text)
            if top is None or len(trims) < 2:
                return None
            named = [trims[0], top] if top is not trims[0] else [trims[0], trims[-1]]
        extra, adds = trim_difference(named[0], named[1])
        cheap, dear = sorted(named[:2], key=lambda t: t.price_cny)
        return {
            "model": code, "lower": wording.trim(cheap, language),
            "higher": wording.trim(dear, language),
            "difference": fmt.money(extra, language),
            "adds": wording.features(adds[:5], language) or ("—" if language == "zh" else "little"),
        }  # fmt: skip
