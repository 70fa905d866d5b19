"""The survey as a conversation: free-text answers in both languages map to scores (checked on a
held-out set written without seeing the mapper), an answer that fits nothing is asked again once,
partial answers are kept and the survey resumes where it stopped, a question in the middle steps
aside, and a low score opens a complaint ticket and hands the customer over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.events import ActionExecuted, ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.base import Services
from actions.surveys import (
    ActionAskSurveyAnswer,
    ActionPauseSurvey,
    ActionStartSurvey,
    ActionSurveyDone,
    ValidateSurveyForm,
    read_answer,
)
from crm_bridge import deliveries
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.conversations import start_conversation
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Handoff, Survey, Ticket
from crm_bridge.surveys import links, scores
from crm_bridge.surveys.config import cached
from tests.conftest import make_services, make_settings
from tests.domain import load_domain
from tests.trackers import user_turn

# Wednesday 2 December 2026, 10:00 in Shanghai: the showroom is open.
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
SENDER = "web-survey"
HELD_OUT = Path(__file__).parents[1] / "data" / "survey_answers_heldout.yml"


# Free text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("非常满意", "satisfaction", 5), ("满意", "satisfaction", 4), ("还行", "satisfaction", 3),
        ("一般般", "satisfaction", 3), ("不太满意", "satisfaction", 2),
        ("太差了", "satisfaction", 1), ("五颗星", "satisfaction", 5),
        ("十分满意", "satisfaction", 5),  # 十分 is "very" here, not ten points
        ("8分", "satisfaction", 4),  # ten-point answers on the five-point scale are halved
        ("8分", "recommend", 8), ("九分吧", "recommend", 9), ("10/10", "recommend", 10),
        ("肯定会推荐", "recommend", 10), ("绝对不会推荐", "recommend", 0),
        ("very happy", "satisfaction", 5), ("meh", "satisfaction", 3),
        ("not bad", "satisfaction", 4), ("terrible", "satisfaction", 1),
        # Not answers: a time, a price question, nothing.
        ("明天下午3点", "satisfaction", None), ("Q5L多少钱", "satisfaction", None),
        ("", "satisfaction", None),
    ],
)  # fmt: skip
def test_free_text_answers_map_to_scores(text: str, scale: str, expected: int | None) -> None:
    assert scores.score(text, scale) == expected


def test_held_out_answers_map_well_in_both_languages() -> None:
    """264 answers written by someone who never saw the mapper (bench/survey_answers.py prints
    the breakdown; docs/benchmarks.md has the figures)."""
    items = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))["items"]
    assert len(items) >= 250

    def right(item: dict[str, Any]) -> bool:
        wanted = item["expected"] if isinstance(item["expected"], list) else [item["expected"]]
        return scores.score(item["text"], item["scale"]) in wanted

    for language, chinese in (("zh", True), ("en", False)):
        mine = [i for i in items if any("\u4e00" <= c <= "\u9fff" for c in i["text"]) == chinese]
        accuracy = sum(map(right, mine)) / len(mine)
        assert accuracy >= 0.87, (language, accuracy)


@pytest.mark.parametrize(
    ("text", "scale", "rating", "intent", "expected"),
    [
        ('/inform{"rating": 4}', "satisfaction", 4, "inform", "score:4"),  # a button
        ("还行吧", "satisfaction", None, "affirm", "score:3"),
        ("Q5L多少钱", "satisfaction", None, "ask_price", None),  # steps aside for the answer
        ("以后再说吧", "satisfaction", None, "deny", None),
        ("asdfgh", "satisfaction", None, "nlu_fallback", "unclear"),
        ("没有了", "text", None, "deny", "skip"),
        ("提车很顺利，谢谢小王", "text", None, "thank", "text:提车很顺利，谢谢小王"),
        ("how much is the A6L?", "text", None, "ask_price", None),
        ("\x00\x01\x02", "satisfaction", None, "nlu_fallback", "unclear"),
    ],
)  # fmt: skip
def test_what_a_message_answers(
    text: str, scale: str, rating: int | None, intent: str, expected: str | None
) -> None:
    assert read_answer(text, scale, rating, intent) == expected


# The conversation ---------------------------------------------------------------------------


@pytest.fixture
def services(sessions: SessionFactory, tmp_path: Path) -> Services:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    return make_services(make_settings(tmp_path), sessions, lambda: NOW)


def sent_survey(services: Services, language: str = "zh") -> int:
    """The +24h revisit of a delivery, sent to ``SENDER``; its id."""
    config = cached(services.settings.survey_config_path)
    with transaction(services.sessions) as session:
        delivered = NOW - timedelta(days=1, hours=1)
        delivery = deliveries.add(
            session, deliveries.NewDelivery(phone="13800138000", model="Q5L",
                                            delivered_at=delivered.isoformat()),
            zone=services.settings.timezone, now=delivered, surveys=config,
        )  # fmt: skip
        conversation = start_conversation(session, SENDER, delivered, "web")
        conversation.customer_id = delivery.customer_id
        conversation.language = language
        survey = session.scalars(
            select(Survey).where(Survey.delivery_id == delivery.id, Survey.stage == "d1")
        ).one()
        survey.sender_id, survey.channel, survey.language = SENDER, "web", language
        survey.sent_at = NOW
        session.flush()
        return survey.id


def form_turn(text: str, intent: str, survey_id: int, language: str = "zh", **kw: Any) -> Any:
    return user_turn(
        text, intent, sender=SENDER, active_loop="survey_form",
        slots={"requested_slot": "survey_answer", "survey_id": str(survey_id),
               "language": language},
        **kw,
    )  # fmt: skip


async def answer(services: Services, survey_id: int, text: str, intent: str = "inform",
                 language: str = "zh", **kw: Any) -> CollectingDispatcher:  # fmt: skip
    """One customer message in the survey form, as Rasa runs it: the validation, then (while
    the form goes on) the question."""
    dispatcher = CollectingDispatcher()
    tracker = form_turn(text, intent, survey_id, language, **kw)
    events = await ValidateSurveyForm(services).run(dispatcher, tracker, load_domain())
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    if values.get("survey_answer") is None:
        asked = form_turn(text, intent, survey_id, language)
        await ActionAskSurveyAnswer(services).run(dispatcher, asked, load_domain())
    return dispatcher


def answers_of(services: Services, survey_id: int) -> dict[str, Any]:
    with services.sessions() as session:
        return dict(session.get_one(Survey, survey_id).answers or {})


async def test_the_scheduler_opens_the_survey_with_its_first_question(services: Services) -> None:
    survey_id = sent_survey(services)
    dispatcher = CollectingDispatcher()
    tracker = user_turn(
        "/start", "greet", sender=SENDER,
        slots={"survey_id": str(survey_id), "proactive_ref": "survey:1:d1"},
    )  # fmt: skip
    events = await ActionStartSurvey(services).run(dispatcher, tracker, load_domain())
    intro, question = dispatcher.messages
    assert "Q5L" in intro["text"]
    assert len(question["buttons"]) == 5
    assert question["buttons"][0]["payload"] == '/inform{"rating": 5}'
    assert ActiveLoop("survey_form") in events
    assert SlotSet("proactive_done", "survey:1:d1") in events  # the mark the retry looks for
    assert events[-1] == ActionExecuted("action_listen")


async def test_a_chinese_survey_in_free_text_to_the_end(services: Services) -> None:
    survey_id = sent_survey(services)
    await answer(services, survey_id, "非常满意，小王很专业")
    said = await answer(services, survey_id, "还行吧")
    assert said.messages[-1]["buttons"][0]["title"] == "10"  # now the 0–10 question
    await answer(services, survey_id, "8分")
    await answer(services, survey_id, "提车很顺利，谢谢", intent="thank")
    assert answers_of(services, survey_id) == {
        "consultant": 5, "delivery": 3, "recommend": 8, "comment": "提车很顺利，谢谢",
    }  # fmt: skip
    with services.sessions() as session:
        assert session.get_one(Survey, survey_id).completed_at == NOW
    done = CollectingDispatcher()
    finish = user_turn("谢谢", "thank", sender=SENDER, slots={"survey_id": str(survey_id)})
    await ActionSurveyDone(services).run(done, finish, load_domain())
    assert [m["response"] for m in done.messages] == ["utter_survey_thanks"]


async def test_an_answer_that_fits_nothing_is_asked_again_once_then_skipped(
    services: Services,
) -> None:
    survey_id = sent_survey(services, "en")
    said = await answer(services, survey_id, "purple", intent="nlu_fallback", language="en")
    responses = [m.get("response") for m in said.messages]
    assert responses[0] == "utter_survey_unclear"
    assert len(said.messages[-1]["buttons"]) == 5  # the same question, with the buttons
    assert answers_of(services, survey_id) == {}
    await answer(services, survey_id, "banana", intent="nlu_fallback", language="en")
    assert answers_of(services, survey_id) == {"consultant": None}  # skipped, the survey goes on
    await answer(services, survey_id, "meh", language="en")
    assert answers_of(services, survey_id) == {"consultant": None, "delivery": 3}


async def test_a_partial_survey_is_kept_and_resumes_where_it_stopped(services: Services) -> None:
    survey_id = sent_survey(services, "en")
    await answer(services, survey_id, "very happy", language="en")
    # "later": the form steps aside and the pause keeps what was said.
    later = form_turn("not now, later", "deny", survey_id, "en")
    assert await ValidateSurveyForm(services).extract_survey_answer(
        CollectingDispatcher(), later, load_domain()
    ) == {}  # fmt: skip
    paused = CollectingDispatcher()
    await ActionPauseSurvey(services).run(paused, later, load_domain())
    assert [m["response"] for m in paused.messages] == ["utter_survey_paused"]
    # Next day the customer asks to go on: the resume line, then the second question.
    dispatcher = CollectingDispatcher()
    # The scheduler's ref is still in the conversation, marked done: this turn is the customer's.
    sent = {"proactive_ref": "survey:1:d1", "proactive_done": "survey:1:d1"}
    again = user_turn("let's finish the survey", "start_survey", sender=SENDER,
                      slots={"language": "en", **sent})  # fmt: skip
    events = await ActionStartSurvey(services).run(dispatcher, again, load_domain())
    assert [m.get("response") for m in dispatcher.messages] == ["utter_survey_resume"]
    assert SlotSet("survey_id", str(survey_id)) in events
    asked = CollectingDispatcher()
    await ActionAskSurveyAnswer(services).run(
        asked, form_turn("", "start_survey", survey_id, "en"), load_domain()
    )
    assert "handover" in asked.messages[0]["text"]
    assert answers_of(services, survey_id) == {"consultant": 5}


async def test_a_low_score_opens_a_ticket_and_hands_over(services: Services) -> None:
    survey_id = sent_survey(services)
    for text in ("非常不满意，销售态度很差", "一般", "3分", "等了两个小时才交车"):
        await answer(services, survey_id, text)
    done = CollectingDispatcher()
    finish = user_turn("好", "affirm", sender=SENDER, slots={"survey_id": str(survey_id)})
    events = await ActionSurveyDone(services).run(done, finish, load_domain())
    responses = [m["response"] for m in done.messages]
    assert responses[0] == "utter_survey_complaint"
    assert "utter_handoff_now" in responses
    assert "utter_complaint_noted" not in responses  # announced once, not as a repeat
    with services.sessions() as session:
        [ticket] = session.scalars(select(Ticket)).all()
        assert (ticket.source, ticket.survey_id, ticket.cause) == (
            "survey",
            survey_id,
            "consultant",
        )
        assert ticket.answers == {
            "consultant": 1, "delivery": 3, "recommend": 3, "comment": "等了两个小时才交车",
        }  # fmt: skip
        [handoff] = session.scalars(select(Handoff)).all()
        assert (handoff.sender_id, handoff.reason) == (SENDER, "complaint")
        assert ticket.handoff_id == handoff.id
        assert [e.kind for e in ticket.events if e.kind == "repeated"] == []
    assert done.messages[0]["ticket"] == ticket.id
    assert SlotSet("survey_id", None) in events


async def test_a_personal_link_opens_the_survey_once(services: Services) -> None:
    survey_id = sent_survey(services)
    with transaction(services.sessions) as session:
        survey = session.get_one(Survey, survey_id)
        survey.sender_id = survey.sent_at = None
        survey.token_hash = None
    key = services.settings.effective_survey_link_key()
    with transaction(services.sessions) as session:
        issued = links.issue(session, key, NOW, timedelta(days=14))
    [token] = [link.token for link in issued if link.survey_id == survey_id]
    for expected in (None, "utter_survey_link_used"):
        dispatcher = CollectingDispatcher()
        opened = user_turn(
            f'/start_survey{{"survey_token": "{token}"}}', "start_survey",
            entities=[("survey_token", token)], sender="tg-42",
        )  # fmt: skip
        events = await ActionStartSurvey(services).run(dispatcher, opened, load_domain())
        if expected is None:
            assert SlotSet("survey_id", str(survey_id)) in events
        else:
            assert [m["response"] for m in dispatcher.messages] == [expected]
    with services.sessions() as session:
        assert session.get_one(Survey, survey_id).sender_id == "tg-42"
