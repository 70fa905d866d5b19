"""Answers from the dealership's data, with trackers built in code and a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Services
from actions.dealership import (
    ActionAnswerDealerInfo,
    ActionAnswerFinancing,
    ActionAnswerPromotions,
    ActionAnswerTradeIn,
)
from actions.vehicles import ActionAnswerModelInfo, ActionAnswerModels, ActionAnswerPrice
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from tests.conftest import make_services, make_settings
from tests.domain import load_domain

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture
def services(sessions: SessionFactory, tmp_path: Path) -> Services:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    return make_services(make_settings(tmp_path), sessions, lambda: NOW)


def tracker(intent: str, entities: list[tuple[str, Any]], language: str = "zh") -> Tracker:
    found = [{"entity": e, "value": v, "start": 0, "end": 1} for e, v in entities]
    return Tracker(
        sender_id="c1",
        slots={"language": language},
        latest_message={"text": "…", "intent": {"name": intent}, "entities": found},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


# What an answer may set: the interest it shows, and what lets the conversation go on from it.
ANSWER_SLOTS = {"car_models", "budget", "focus_model", "last_question", "presented_models",
                "open_questions", "pending_offer"}  # fmt: skip
NEXT_STEPS = {"utter_next_choose_model", "utter_next_present", "utter_next_test_drive",
              "utter_next_quote", "utter_ok_anything_else"}  # fmt: skip


async def said(action: Any, tracker: Tracker) -> list[dict[str, Any]]:
    """The answer's messages; every answer must end with exactly one next step, with buttons."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, load_domain())
    assert {e["name"] for e in events} <= ANSWER_SLOTS
    messages: list[dict[str, Any]] = dispatcher.messages
    *answer, step = messages
    assert step["response"] in NEXT_STEPS, messages
    assert step["buttons"], messages
    assert not any(m["response"] in NEXT_STEPS for m in answer)
    return answer


async def test_a_question_notes_interest(services: Services) -> None:
    events = await ActionAnswerPrice(services).run(
        CollectingDispatcher(), tracker("ask_price", [("car_model", "Q5L")]), load_domain()
    )
    values = {e["name"]: e["value"] for e in events}
    assert (values["car_models"], values["focus_model"]) == (["Q5L"], "Q5L")
    events = await ActionAnswerModels(services).run(
        CollectingDispatcher(),
        tracker("ask_models", [("seats", 7), ("budget", 800000)]),
        load_domain(),
    )
    assert {e["name"]: e["value"] for e in events}["budget"] == 800000


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m["response"] for m in messages]


async def test_every_response_named_by_the_actions_exists() -> None:
    domain = load_domain()
    for name in ("utter_models_list", "utter_models_recommended", "utter_models_closest",
                 "utter_price", "utter_current_offers", "utter_model_presentation",
                 "utter_dealer_info", "utter_financing", "utter_trade_in",
                 "utter_ask_which_model"):  # fmt: skip
        variations = domain["responses"][name]
        assert any(v.get("condition") for v in variations)
        assert any(not v.get("condition") for v in variations)


async def test_models_list_without_a_need(services: Services) -> None:
    [message] = await said(ActionAnswerModels(services), tracker("ask_models", []))
    assert message["response"] == "utter_models_list"
    assert message["models"].split("、")[:3] == ["A3", "A4L", "A6L"]
    assert "e-tron GT" in message["models"]


async def test_seven_seats_under_80_wan(services: Services) -> None:
    messages = await said(
        ActionAnswerModels(services), tracker("ask_models", [("seats", 7), ("budget", 800000)])
    )
    [message] = messages
    assert message["response"] == "utter_models_recommended"
    assert message["criteria"] == "7座、80万元以内"
    # Every 7-seater whose entry price is under 80万, cheapest first.
    assert [line.split("（")[0] for line in message["models"].split("、")] == [
        "Q5 e-tron", "Q6", "Q7",
    ]  # fmt: skip


async def test_an_electric_suv_in_english(services: Services) -> None:
    [message] = await said(
        ActionAnswerModels(services),
        tracker("ask_models", [("powertrain", "ev"), ("body_type", "suv")], "en"),
    )
    assert message["response"] == "utter_models_recommended"
    assert message["models"].startswith("Q4 e-tron (SUV, 5 seats, electric, CNY 299,900–399,900)")
    assert "Q5 e-tron" in message["models"]


async def test_no_exact_match_offers_the_closest(services: Services) -> None:
    [message] = await said(
        ActionAnswerModels(services),
        tracker("ask_models", [("seats", 7), ("budget", 200000), ("powertrain", "ev")]),
    )
    assert message["response"] == "utter_models_closest"
    assert message["models"].startswith("Q5 e-tron")


async def test_price_with_offers_and_the_consultant(services: Services) -> None:
    messages = await said(ActionAnswerPrice(services), tracker("ask_price", [("car_model", "Q5L")]))
    assert responses(messages) == [
        "utter_price",
        "utter_current_offers",
        "utter_quote_by_consultant",
    ]
    assert messages[0]["price"] == "39.28–51.38万元"
    assert "Q5L 置换补贴最高2万元" in messages[1]["offers"]
    assert "到店试驾赠精美礼品一份" in messages[1]["offers"]  # applies to every model


async def test_price_without_a_model_asks_which(services: Services) -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerPrice(services).run(dispatcher, tracker("ask_price", []), load_domain())
    [question] = dispatcher.messages
    assert question["response"] == "utter_next_choose_model"
    assert next(b["payload"] for b in question["buttons"]) == '/ask_model_info{"car_model": "Q5L"}'


async def test_model_info_presents_the_car(services: Services) -> None:
    [message] = await said(
        ActionAnswerModelInfo(services),
        tracker("ask_model_info", [("car_model", "e-tron GT")], "en"),
    )
    assert message["model"] == "e-tron GT"
    assert message["intro"].startswith("electric coupe, 4 seats, CLTC range up to 488 km")
    assert "electric four-door performance coupe" in message["intro"]
    assert message["highlights"].startswith("Highlights: quattro all-wheel drive")
    assert message["trims"].startswith("2 trims: e-tron GT quattro CNY 999,800")
    assert "Home charger" in message["offers"]


async def test_offers_expire(services: Services, sessions: SessionFactory, tmp_path: Path) -> None:
    later = make_services(services.settings, sessions, lambda: datetime(2027, 6, 1, tzinfo=UTC))
    messages = await said(ActionAnswerPromotions(later), tracker("ask_promotion", []))
    assert responses(messages) == ["utter_no_offers"]
    messages = await said(ActionAnswerPromotions(services), tracker("ask_promotion", []))
    assert responses(messages) == ["utter_current_offers"]


async def test_dealer_info_hours_grouped(services: Services) -> None:
    [message] = await said(ActionAnswerDealerInfo(services), tracker("ask_dealer_info", []))
    assert message["hours"] == "周一至周四 09:00–18:00、周五至周六 09:00–18:30、周日 09:30–18:00"
    assert message["phone"] == "+862168880000"
    [english] = await said(ActionAnswerDealerInfo(services), tracker("ask_dealer_info", [], "en"))
    assert english["address"].startswith("1888 Hongmei South Road")
    assert english["hours"].startswith("Mon–Thu 09:00–18:00")


async def test_financing_and_trade_in(services: Services) -> None:
    messages = await said(ActionAnswerFinancing(services), tracker("ask_financing", []))
    assert responses(messages) == ["utter_financing", "utter_lease_available"]
    assert (messages[0]["down_payment"], messages[0]["terms"]) == (20, "12、24、36、48、60")
    [trade] = await said(ActionAnswerTradeIn(services), tracker("ask_trade_in", [], "en"))
    assert trade["notes"].startswith("free valuation")
