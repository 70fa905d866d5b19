"""The conversation side of the hand-off: bargaining is recognised, a complaint or a price
negotiation hands off with the right words, a second request does not open a second hand-off."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.base import Services
from actions.handoff import ActionHandOff, negotiating
from actions.vehicles import ActionAnswerPrice
from bot.channels.telegram.cards import card_data, card_text
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Handoff
from tests.conftest import make_services, make_settings
from tests.domain import load_domain
from tests.trackers import user_turn

# Wednesday 10:00 and 23:00 in Shanghai: the showroom is open, then closed.
OPEN = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
CLOSED = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def services_at(sessions: SessionFactory, tmp_path: Path, now: datetime) -> Services:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    return make_services(make_settings(tmp_path), sessions, lambda: now)


@pytest.mark.parametrize(
    "text",
    ["最低多少钱能拿下Q5L", "Q5L能便宜点吗", "能再优惠点吗", "A6L落地最低多少",
     "这个价格太贵了，能不能少点", "底价多少", "can you give me a discount on the Q5L?",
     "what's your best price for the A6L",
     "is the price negotiable?", "any chance of a better deal on the Q7"],
)  # fmt: skip
def test_bargaining_is_recognised(text: str) -> None:
    assert negotiating(text)


@pytest.mark.parametrize(
    "text",
    ["Q5L多少钱", "有什么优惠活动", "现在有优惠吗", "A6L的指导价是多少", "how much is the Q5L",
     "any offers this month?", "what does the A6L cost"],
)  # fmt: skip
def test_asking_the_price_or_the_offers_is_not_bargaining(text: str) -> None:
    assert not negotiating(text)


async def test_a_complaint_hands_off_at_once(sessions: SessionFactory, tmp_path: Path) -> None:
    services = services_at(sessions, tmp_path, OPEN)
    dispatcher = CollectingDispatcher()
    tracker = user_turn("你们的销售态度太差了，我要投诉", "complain", sender="web-1")
    await ActionHandOff(services).run(dispatcher, tracker, load_domain())
    said = [m["response"] for m in dispatcher.messages]
    assert said == ["utter_complaint_registered", "utter_handoff_now"]  # with a ticket
    again = CollectingDispatcher()
    await ActionHandOff(services).run(again, tracker, load_domain())
    assert [m["response"] for m in again.messages] == [
        "utter_complaint_noted",
        "utter_handoff_already",
    ]
    with sessions() as session:
        [handoff] = session.scalars(select(Handoff)).all()
        assert (handoff.sender_id, handoff.reason, handoff.state) == (
            "web-1",
            "complaint",
            "waiting",
        )
        assert handoff.excerpt == [{"who": "customer", "text": "你们的销售态度太差了，我要投诉"}]


async def test_after_hours_the_customer_hears_when_a_consultant_takes_over(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    services = services_at(sessions, tmp_path, CLOSED)
    dispatcher = CollectingDispatcher()
    tracker = user_turn("I want to speak to a real person", "request_human", sender="rest-2")
    await ActionHandOff(services).run(dispatcher, tracker, load_domain())
    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff_at_opening"
    assert message["opening"] == "12月3日（周四） 09:00"


async def test_bargaining_gets_the_guide_price_then_a_consultant(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    services = services_at(sessions, tmp_path, OPEN)
    dispatcher = CollectingDispatcher()
    tracker = user_turn("Q5L最低多少能拿下", "ask_price", [("car_model", "Q5L")], sender="tg-3")
    await ActionAnswerPrice(services).run(dispatcher, tracker, load_domain())
    said = [m["response"] for m in dispatcher.messages]
    assert said[0] == "utter_price"
    assert said[-2:] == ["utter_handoff_price", "utter_handoff_now"]
    without_model = CollectingDispatcher()
    await ActionAnswerPrice(services).run(
        without_model, user_turn("能不能再少点", "ask_price", sender="tg-4"), load_domain()
    )
    assert [m["response"] for m in without_model.messages] == [
        "utter_handoff_price",
        "utter_handoff_now",
    ]
    with sessions() as session:
        reasons = session.scalars(select(Handoff.reason).order_by(Handoff.id)).all()
        assert reasons == ["price", "price"]


CALLER = "+8613912345678"


def phone_turn(text: str, intent: str) -> Tracker:
    return user_turn(
        text, intent, sender=f"phone:{CALLER}", channel="phone",
        metadata={"language": "zh", "caller": CALLER},
    )  # fmt: skip


async def test_by_phone_an_open_showroom_takes_the_call(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    services = services_at(sessions, tmp_path, OPEN)
    dispatcher = CollectingDispatcher()
    await ActionHandOff(services).run(dispatcher, phone_turn("我要投诉", "complain"), load_domain())
    showroom = load_dealer_data().dealer.phone
    assert [m.get("response") or m.get("custom") for m in dispatcher.messages] == [
        "utter_complaint_registered",
        "utter_handoff_transfer",
        {"dial": showroom},
    ]
    with sessions() as session:
        [handoff] = session.scalars(select(Handoff)).all()
        assert (handoff.sender_id, handoff.channel) == (f"phone:{CALLER}", "phone")
        # The consultant's card says whom to call back, should the transfer not be answered.
        card = card_text(card_data(session, handoff), "zh")
    assert f"📞 请回电: {CALLER}" in card


async def test_by_phone_after_hours_a_consultant_calls_back_when_the_showroom_opens(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    services = services_at(sessions, tmp_path, CLOSED)
    dispatcher = CollectingDispatcher()
    tracker = phone_turn("帮我找个销售", "request_human")
    await ActionHandOff(services).run(dispatcher, tracker, load_domain())
    [said] = dispatcher.messages
    assert said["response"] == "utter_handoff_callback_at_opening"
    assert "9" in said["opening"]  # the next opening, in words
    assert not any(m.get("custom") for m in dispatcher.messages)
