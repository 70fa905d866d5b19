"""Vehicle presentation, equipment per trim, comparisons, stock and the next step, answered from
the real demo data in a real database (SQLite and PostgreSQL), with the real domain."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.base import Services
from actions.next_step import ActionAcceptOffer, ActionDeclineOffer
from actions.qualification import ValidateQualificationForm
from actions.vehicles import (
    ActionAnswerFeature,
    ActionAnswerModelInfo,
    ActionAnswerModels,
    ActionAnswerPrice,
    ActionAnswerStock,
    ActionCompareModels,
)
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import LeadEvent
from tests.conftest import make_services, make_settings
from tests.domain import load_domain
from tests.trackers import user_turn

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # a Sunday in Shanghai, before the arrivals


@pytest.fixture
def services(sessions: SessionFactory, tmp_path: Path) -> Services:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    return make_services(make_settings(tmp_path), sessions, lambda: NOW)


async def run(action: Action, tracker: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What the action said, and the slots and follow-up it set."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, load_domain())
    outcome = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    followups = [e["name"] for e in events if e.get("event") == "followup"]
    outcome.update({"followup": followups[-1]} if followups else {})
    return dispatcher.messages, outcome


def names(messages: list[dict[str, Any]]) -> list[str]:
    return [m["response"] for m in messages]


async def test_presentation_fits_what_the_buyer_asked_and_invites(services: Services) -> None:
    turn = user_turn(
        "介绍一下Q5L",
        "ask_model_info",
        [("car_model", "Q5L")],
        slots={"last_question": {"topic": "feature", "features": ["seat_ventilation"]}},
    )
    said, slots = await run(ActionAnswerModelInfo(services), turn)
    assert names(said) == ["utter_model_presentation", "utter_next_test_drive"]
    shown = said[0]
    assert shown["highlights"].startswith("亮点：座椅通风（豪华动感型起标配）")
    assert (
        shown["trims"]
        == "共3个配置：时尚动感型 39.28万元、豪华动感型 44.18万元、臻选动感型 51.38万元。"
    )
    assert shown["price"] == "39.28–51.38万元"
    assert "Q5L 置换补贴最高2万元" in shown["offers"]
    assert shown["stock"] == "目前有现车（时尚动感型、豪华动感型）。"
    assert said[1]["buttons"][0]["payload"] == '/request_test_drive{"car_model": "Q5L"}'
    assert slots["presented_models"] == ["Q5L"]
    assert slots["focus_model"] == "Q5L"
    assert slots["pending_offer"] == {"step": "test_drive", "model": "Q5L"}


async def test_a_feature_is_answered_per_trim(services: Services) -> None:
    turn = user_turn(
        "Q5L有座椅通风吗", "ask_feature", [("car_model", "Q5L"), ("feature", "seat_ventilation")]
    )
    said, _ = await run(ActionAnswerFeature(services), turn)
    assert said[0]["availability"] == "豪华动感型起标配，时尚动感型可选装"
    english = user_turn(
        "does the A3 have seat heating",
        "ask_feature",
        [("car_model", "A3"), ("feature", "seat_heating")],
        slots={"language": "en"},
    )
    said, _ = await run(ActionAnswerFeature(services), english)
    assert said[0]["availability"] == ("standard from the Fashion up; optional on the Progressive")


async def test_follow_ups_use_the_car_and_question_in_context(services: Services) -> None:
    asked = {
        "focus_model": "Q5L",
        "last_question": {"topic": "feature", "features": ["seat_ventilation"]},
    }
    # "那Q7呢" read as a request to present the Q7 still continues the feature question.
    said, slots = await run(
        ActionAnswerModelInfo(services),
        user_turn("那Q7呢", "ask_model_info", [("car_model", "Q7")], asked),
    )
    assert (said[0]["response"], said[0]["model"]) == ("utter_feature_availability", "Q7")
    assert said[0]["availability"] == "尊贵型起标配，豪华型可选装"
    assert slots["focus_model"] == "Q7"
    # "它有空悬吗": the car in focus.
    said, _ = await run(
        ActionAnswerFeature(services),
        user_turn("它有空悬吗", "ask_feature", [("feature", "air_suspension")], asked),
    )
    assert (said[0]["model"], said[0]["availability"]) == (
        "Q5L",
        "臻选动感型起标配，豪华动感型可选装，时尚动感型不提供",
    )


async def test_unknown_equipment_is_honest_and_lands_on_the_lead(
    services: Services, sessions: SessionFactory
) -> None:
    known = {
        "consent": True,
        "name": "张伟",
        "phone": "+8613800138000",
        "car_models": ["Q5L"],
        "focus_model": "Q5L",
    }
    said, slots = await run(
        ActionAnswerFeature(services),
        user_turn("Q5L有香氛系统吗", "ask_feature", [("car_model", "Q5L")], known),
    )
    assert names(said)[0] == "utter_feature_unknown"
    assert slots["open_questions"] == ["Q5L: equipment not in the dealership data"]
    with transaction(sessions) as session:
        questions = session.scalars(select(LeadEvent.new_value).where(LeadEvent.kind == "question"))
        assert list(questions) == ["Q5L: equipment not in the dealership data"]


async def test_a_feature_without_a_model_names_the_models_that_have_it(services: Services) -> None:
    said, _ = await run(
        ActionAnswerFeature(services),
        user_turn("哪款有座椅按摩", "ask_feature", [("feature", "seat_massage")]),
    )
    assert said[0]["response"] == "utter_feature_models"
    assert said[0]["models"] == "A6L、A7L、A8L、Q5L、Q6、Q7、Q8"
    assert said[1]["response"] == "utter_next_choose_model"
    assert [b["title"] for b in said[1]["buttons"]] == ["介绍一下A6L", "介绍一下A7L", "介绍一下A8L"]


async def test_stock_by_colour_and_what_is_not_held(services: Services) -> None:
    said, _ = await run(
        ActionAnswerStock(services),
        user_turn("白色的Q5L有现车吗", "ask_stock", [("car_model", "Q5L"), ("color", "white")]),
    )
    assert said[0]["model"] == "白色的Q5L"
    assert said[0]["stock"] == "时尚动感型 白色现车4台；豪华动感型 白色预计12月10日到店"
    said, slots = await run(
        ActionAnswerStock(services),
        user_turn("有绿色的Q5L吗", "ask_stock", [("car_model", "Q5L"), ("color", "green")]),
    )
    assert said[0]["response"] == "utter_stock_to_confirm"
    assert said[0]["colors"] == "白色、黑色、灰色、蓝色"
    assert slots["open_questions"] == ["绿色的Q5L: availability"]


async def test_comparisons(services: Services) -> None:
    said, _ = await run(
        ActionCompareModels(services),
        user_turn("A4L和A6L差在哪", "compare_models", [("car_model", "A4L"), ("car_model", "A6L")]),
    )
    assert (said[0]["first"], said[0]["second"]) == ("A4L", "A6L")
    assert said[0]["only_second"] == "全速自适应巡航、全景天窗、手机无线充电"
    said, slots = await run(
        ActionCompareModels(services),
        user_turn(
            "Q5L和宝马X3哪个好", "compare_models", [("car_model", "Q5L"), ("competitor", "BMW X3")]
        ),
    )
    assert said[0]["response"] == "utter_compare_competitor"
    assert slots["open_questions"] == ["Q5L vs BMW X3: comparison"]
    said, _ = await run(
        ActionCompareModels(services),
        user_turn("Q5L低配和顶配差在哪", "compare_models", [("car_model", "Q5L")]),
    )
    assert (said[0]["lower"], said[0]["higher"], said[0]["difference"]) == (
        "时尚动感型",
        "臻选动感型",
        "12.1万元",
    )
    assert said[0]["adds"] == "自适应空气悬架、Matrix矩阵式LED大灯、座椅通风、座椅按摩、HUD抬头显示"


async def test_recommendation_by_equipment_and_stock(services: Services) -> None:
    turn = user_turn(
        "要SUV，带座椅通风的，最好有现车",
        "ask_models",
        [("body_type", "suv"), ("feature", "seat_ventilation")],
    )
    said, _ = await run(ActionAnswerModels(services), turn)
    assert said[0]["criteria"] == "SUV、座椅通风、有现车"
    # Fitting cars in stock first: the Q5L (ventilation from the Luxury Dynamic, in stock) before
    # the cheaper Q4 e-tron, whose only trim with it is still on its way.
    picks = said[0]["models"].split("、")
    assert picks[0] == "Q5L（燃油SUV，5座，39.28–51.38万元），有现车"
    assert "Q4 e-tron（纯电SUV，5座，29.99–39.99万元）" in picks[1:]


async def test_price_of_a_trim(services: Services) -> None:
    said, _ = await run(
        ActionAnswerPrice(services), user_turn("Q5L顶配多少钱", "ask_price", [("car_model", "Q5L")])
    )
    assert (said[0]["model"], said[0]["price"]) == ("Q5L 臻选动感型", "51.38万元")


async def test_the_same_next_step_is_never_offered_twice_in_a_row(services: Services) -> None:
    offered = {"pending_offer": {"step": "present", "model": "Q5L"}}
    said, slots = await run(
        ActionAnswerPrice(services),
        user_turn("Q5L多少钱", "ask_price", [("car_model", "Q5L")], offered),
    )
    assert said[-1]["response"] == "utter_next_test_drive"
    assert slots["pending_offer"] == {"step": "test_drive", "model": "Q5L"}


async def test_two_requests_in_one_message_are_both_served(services: Services) -> None:
    said, slots = await run(
        ActionAnswerPrice(services),
        user_turn("Q5L多少钱，能试驾吗", "ask_price", [("car_model", "Q5L")]),
    )
    assert names(said) == ["utter_price", "utter_current_offers", "utter_quote_by_consultant"]
    assert (slots["td_model"], slots["followup"]) == ("Q5L", "action_start_test_drive")


async def test_a_yes_does_what_was_offered_and_a_no_opens_other_ways() -> None:
    def answered(intent: str, offer: dict[str, Any] | None) -> Tracker:
        return user_turn(
            "好的" if intent == "affirm" else "不用", intent, [], {"pending_offer": offer}
        )

    _, slots = await run(
        ActionAcceptOffer(), answered("affirm", {"step": "test_drive", "model": "Q7"})
    )
    assert (slots["td_model"], slots["followup"]) == ("Q7", "action_start_test_drive")
    _, slots = await run(
        ActionAcceptOffer(), answered("affirm", {"step": "present", "model": "A6L"})
    )
    assert (slots["focus_model"], slots["followup"]) == ("A6L", "action_answer_model_info")
    said, slots = await run(
        ActionAcceptOffer(), answered("affirm", {"step": "quote", "model": "A6L"})
    )
    assert (names(said), slots["followup"]) == (["utter_handoff_intro"], "qualification_form")
    said, _ = await run(ActionAcceptOffer(), answered("affirm", None))
    assert names(said) == ["utter_ok_anything_else"]
    assert said[0]["buttons"]
    said, _ = await run(ActionDeclineOffer(), answered("deny", {"step": "quote", "model": "A6L"}))
    assert names(said) == ["utter_offer_declined"]
    assert len(said[0]["buttons"]) == 3


@pytest.mark.parametrize(
    ("text", "intent", "name"),
    [
        ("Ann", "greet", "Ann"),
        ("叫我小王", "request_human", "小王"),
        ("hello", "greet", None),
        ("能转人工吗", "request_human", None),
        ("Q5L多少钱", "ask_price", None),
    ],
)
async def test_a_short_reply_to_the_name_question_is_the_name(
    services: Services, text: str, intent: str, name: str | None
) -> None:
    turn = user_turn(text, intent, [], {"requested_slot": "name"}, "qualification_form")
    extracted = await ValidateQualificationForm(services).extract_name(
        CollectingDispatcher(), turn, load_domain()
    )
    assert extracted == ({"name": name} if name else {})


@pytest.mark.parametrize(
    ("text", "intent", "car"),
    [
        ("一台2016年的帕萨特", "ask_models", "2016年的帕萨特"),
        ("a 2018 corolla", "inform", "2018 corolla"),
        ("置换补贴有多少？", "ask_trade_in", None),
    ],
)
async def test_a_reply_to_which_car_is_the_trade_in_car(
    services: Services, text: str, intent: str, car: str | None
) -> None:
    turn = user_turn(text, intent, [], {"requested_slot": "trade_in_vehicle"}, "qualification_form")
    extracted = await ValidateQualificationForm(services).extract_trade_in_vehicle(
        CollectingDispatcher(), turn, load_domain()
    )
    assert extracted == ({"trade_in_vehicle": car} if car else {})


async def test_a_price_asked_with_a_test_drive_is_answered_before_the_booking(
    services: Services,
) -> None:
    from actions.test_drive import ActionStartTestDrive

    turn = user_turn("能试驾吗，Q5L多少钱", "request_test_drive", [("car_model", "Q5L")])
    said, _ = await run(ActionStartTestDrive(services), turn)
    assert names(said) == ["utter_price", "utter_test_drive_intro"]
    assert said[0]["price"] == "39.28–51.38万元"
    only_booking = user_turn("想试驾Q5L", "request_test_drive", [("car_model", "Q5L")])
    plain, _ = await run(ActionStartTestDrive(services), only_booking)
    assert names(plain) == ["utter_test_drive_intro"]


async def test_a_statement_follows_up_or_starts_the_needs_analysis(services: Services) -> None:
    from actions.vehicles import ActionRouteStatement

    asked = {"focus_model": "Q5L",
             "last_question": {"topic": "feature", "features": ["adaptive_cruise"]}}  # fmt: skip
    follow_up = user_turn("and the Q7?", "inform", [("car_model", "Q7")], asked)
    said, slots = await run(ActionRouteStatement(services), follow_up)
    assert (said[0]["response"], said[0]["model"]) == ("utter_feature_availability", "Q7")
    assert "followup" not in slots
    wish = user_turn("我想买Q7", "inform", [("car_model", "Q7")], asked)
    said, slots = await run(ActionRouteStatement(services), wish)
    assert (said, slots["followup"]) == ([], "qualification_form")


async def test_a_follow_up_the_nlu_was_unsure_of_is_still_answered(services: Services) -> None:
    """Short follow-ups sit near the fallback threshold; naming a car after a question about the
    cars, they continue it. Anything else unsure is asked to rephrase."""
    from actions.vehicles import ActionUnsure

    asked = {"focus_model": "Q5L",
             "last_question": {"topic": "feature", "features": ["adaptive_cruise"]}}  # fmt: skip
    unsure = user_turn("and the Q7?", "nlu_fallback", [("car_model", "Q7")], asked)
    said, _ = await run(ActionUnsure(services), unsure)
    assert (said[0]["response"], said[0]["model"]) == ("utter_feature_availability", "Q7")
    for text, entities, known in (
        ("嗯那个就是随便问问天气怎么样", [], asked),
        ("and the Q7?", [("car_model", "Q7")], {}),  # no question to continue
        (
            "my cousin has a Q7 and he says the seats are hard but whatever",
            [("car_model", "Q7")],
            asked,
        ),  # not a bare follow-up
    ):
        said, _ = await run(
            ActionUnsure(services), user_turn(text, "nlu_fallback", entities, known)
        )
        assert names(said) == ["utter_default"], text


async def test_a_statement_that_asks_for_a_test_drive_starts_the_booking(
    services: Services,
) -> None:
    """Everything at once, ending in a test-drive request: the booking starts with the car and
    the time said; the needs in it are kept by the global slot mappings."""
    from actions.vehicles import ActionRouteStatement

    text = ("Hi, I'm Michael Chen, 138 0013 8000. I want an A6L within a month, cash, no car to "
            "trade in. Can I test drive it tomorrow at 10am?")  # fmt: skip
    at_ten = "2026-11-24T10:00:00+08:00"
    said, slots = await run(
        ActionRouteStatement(services),
        user_turn(text, "inform", [("car_model", "A6L"), ("time", at_ten)]),
    )
    assert said == []
    assert slots == {"td_model": "A6L", "td_time": at_ten, "followup": "action_start_test_drive"}
    no_drive = user_turn(
        "I want an A6L, I don't need a test drive", "inform", [("car_model", "A6L")]
    )
    said, slots = await run(ActionRouteStatement(services), no_drive)
    assert slots == {"followup": "qualification_form"}
