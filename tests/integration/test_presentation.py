"""Vehicle presentation and the assistant leading, over the REST channel with the trained model,
the action server and the dealership database: openings with greetings, follow-ups in context,
two requests in one message, junk around a request, a name answered with a bare word."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.stack import Stack, stack_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack_in(tmp_path_factory.mktemp("presentation")) as running:
        yield running


def sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def said(stack: Stack, who: str, text: str) -> tuple[str, list[dict[str, Any]]]:
    """All the text of the replies to ``text``, and the buttons of the last reply."""
    replies = stack.say(who, text)
    assert replies, f"no answer to {text!r}:\n{stack.log_tail()}"
    return "\n".join(r.get("text", "") for r in replies), replies[-1].get("buttons") or []


def test_a_chinese_buyer_is_presented_the_car_and_led_to_a_test_drive(stack: Stack) -> None:
    me = sender("zh")
    text, buttons = said(stack, me, "你好，我想了解一下Q5L")
    assert "Q5L：" in text
    assert "指导价39.28–51.38万元" in text
    assert "共3个配置" in text
    assert "目前有现车" in text
    assert "试驾" in text.splitlines()[-1]  # the invitation
    assert buttons[0]["payload"] == '/request_test_drive{"car_model": "Q5L"}'
    text, _ = said(stack, me, "它有座椅通风吗")
    assert "豪华动感型起标配，时尚动感型可选装" in text
    text, _ = said(stack, me, "白色的有现车吗")
    assert "白色现车4台" in text
    text, buttons = said(stack, me, "好的")  # yes to the test drive just offered
    assert len(buttons) == 4  # the next free slots of the Q5L
    assert "试驾" in text


def test_an_english_buyer_asking_with_greetings_and_follow_ups(stack: Stack) -> None:
    me = sender("en")
    text, buttons = said(stack, me, "hi, tell me about the Q5")
    assert "The Q5L:" in text
    assert "Guide price CNY 392,800–513,800" in text
    assert buttons
    text, _ = said(stack, me, "does it have adaptive cruise?")
    assert "On the Q5L, adaptive cruise control: all trims have it as standard." in text
    text, _ = said(stack, me, "and the Q7?")
    assert "On the Q7, adaptive cruise control:" in text  # the same question, the car in context
    text, _ = said(stack, me, "hello, where is your showroom?")
    assert "1888 Hongmei South Road" in text


def test_greetings_competitors_and_junk_do_not_hide_the_request(stack: Stack) -> None:
    greeting = stack.parse("Good morning, any offers on the Q3?")
    assert greeting["intent"]["name"] == "ask_promotion"
    assert {e["entity"] for e in greeting["entities"]} == {"car_model"}  # no 09:00 test drive
    rival = stack.parse("Q5L和宝马X3比哪个好")
    assert rival["intent"]["name"] == "compare_models"
    assert sorted((e["entity"], e["value"]) for e in rival["entities"]) == [
        ("car_model", "Q5L"), ("competitor", "BMW X3"),
    ]  # fmt: skip
    me = sender("junk")
    text, buttons = said(stack, me, "<b>想试驾Q5L</b> 😀")
    assert "<b>" not in text
    assert len(buttons) == 4


def test_two_requests_in_one_message_are_both_served(stack: Stack) -> None:
    me = sender("two")
    text, buttons = said(stack, me, "Q5L多少钱，能试驾吗")
    assert "39.28–51.38万元" in text  # the price first
    assert len(buttons) == 4  # then the booking, with free slots


def test_a_bare_name_answers_the_name_question(stack: Stack) -> None:
    me = sender("name")
    said(stack, me, "can a consultant call me about the Q5?")
    answers = iter(["400k", "next month", "cash", "no trade-in", "yes, I agree"])
    text = ""
    for _ in range(6):  # the needs analysis, until the name is asked
        text, _ = said(stack, me, next(answers, "ok"))
        if "how may i address you" in text.lower():
            break
    assert "how may i address you" in text.lower(), text
    text, _ = said(stack, me, "Ann")
    assert "mobile number" in text.lower().splitlines()[-1]  # the next question, not the name
