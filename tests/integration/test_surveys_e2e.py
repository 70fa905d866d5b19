"""Revisit surveys (回访) end to end: the trained model, the action server, the gateway with its
Telegram webhook against the fake Bot API, and the dealership database.

A customer leaves their number in a conversation; a delivery recorded for that number schedules
the surveys; the scheduler's job (``bot.jobs.surveys.send_survey``) is run here, in the test
process, as the gateway runs it, with a fixed clock and no quiet hours. The customer answers
over REST or Telegram; what they are told and the survey row are checked.

The fixed clock lies ahead of the machine's: the servers keep their own clocks (the action server
stamps answers, checks a link's expiry; the gateway's scheduler closes surveys not sent within a
week of falling due), and a moment ahead of theirs keeps a survey scheduled by the test from
being sent, expired or refused by them while the test runs.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.channels.rasa import RasaClient
from bot.channels.telegram.application import build_application
from bot.channels.telegram.runtime import Telegram
from bot.jobs import channels as job_channels
from bot.jobs import runtime as job_runtime
from bot.jobs import surveys as survey_jobs
from crm_bridge import deliveries
from crm_bridge.db import SessionFactory, build_engine, build_session_factory, transaction
from crm_bridge.models import (
    Conversation,
    Handoff,
    InboundUpdate,
    Notification,
    Survey,
    Ticket,
)
from crm_bridge.surveys import links
from crm_bridge.surveys.config import cached
from tests.conftest import POSTGRES_URL
from tests.integration.stack import Stack, running_stack, telegram_settings
from tests.telegram_fake import (
    TelegramFake,
    callback_update,
    post_webhook,
    running_telegram_fake,
    text_update,
    user,
)

pytestmark = pytest.mark.integration

DEALER = "测试奥迪中心"
DEALER_EN = "Test Audi Centre"
SECRET = "survey-webhook-secret"
CONSULTANT = "王磊"  # a consultant of the demo dealership's data
# The scheduler's "now": 10:00 on a Tuesday at the dealership (UTC+8), ahead of any test run.
NOW = datetime(2031, 3, 4, 2, 0, tzinfo=UTC)
DELIVERED = NOW - timedelta(days=1)  # so the first revisit (24 hours after) is due NOW
REMINDER_AFTER = timedelta(hours=48)  # config/surveys.yml: reminder_after_hours


class Env:
    """The stack, the fake Bot API, the dealership database and the gateway's webhook."""

    def __init__(self, stack: Stack, fake: TelegramFake, sessions: SessionFactory) -> None:
        self.stack = stack
        self.fake = fake
        self.sessions = sessions
        self.webhook = f"http://127.0.0.1:{stack.settings.gateway_port}/telegram/webhook"

    @contextmanager
    def db(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def survey(self, survey_id: int) -> Survey:
        with self.sessions() as session:
            found = session.get(Survey, survey_id)
            assert found is not None
            session.expunge(found)
            return found


@pytest.fixture(scope="module")
def database() -> Iterator[str | None]:
    """A PostgreSQL database of the module's own when TEST_DATABASE_URL is set, else None (the
    stack's SQLite file)."""
    if not POSTGRES_URL:
        yield None
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"da_surveys_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database: str | None) -> Iterator[Env]:
    with running_telegram_fake() as fake:
        settings = telegram_settings(
            tmp_path_factory.mktemp("surveys"),
            fake.base_url,
            fake.token,
            telegram_webhook_secret=SECRET,
            dealer_name=DEALER,
            dealer_name_en=DEALER_EN,
            **({"database_url": database} if database else {}),
        )
        with running_stack(settings, with_gateway=True) as stack:
            engine = build_engine(settings.effective_database_url)
            try:
                yield Env(stack, fake, build_session_factory(engine))
            finally:
                engine.dispose()


# --- the customer's side ------------------------------------------------------------------------


def say(env: Env, sender: str, words: str) -> list[dict[str, Any]]:
    """A REST customer's message; the assistant's replies (every turn must be answered)."""
    replies = env.stack.say(sender, words)
    assert replies, f"no answer to {words!r}:\n{env.stack.log_tail()}"
    return replies


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("text") or "") for r in replies)


def titles(reply: dict[str, Any]) -> list[str]:
    return [str(b["title"]) for b in reply.get("buttons") or []]


def bot_messages(env: Env, sender: str) -> list[dict[str, Any]]:
    """Everything the assistant said in a conversation (texts and buttons), from its tracker:
    how a REST customer reads a message the scheduler sent between their turns."""
    tracker = httpx.get(
        f"{env.stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": env.stack.token},
        timeout=30,
    ).json()
    return [
        {"text": e.get("text") or "", "buttons": (e.get("data") or {}).get("buttons") or []}
        for e in tracker["events"]
        if e["event"] == "bot"
    ]


def new_sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def leaves_number_zh(env: Env, sender: str, name: str, phone: str) -> None:
    """A Chinese customer's first conversation: the needs analysis with their number."""
    say(env, sender, "你好")
    say(env, sender, f"我叫{name}，电话{phone}，想看Q5L，预算40万")
    say(env, sender, "同意")
    say(env, sender, "一年以后吧")
    say(env, sender, "全款")
    say(env, sender, "没有")
    assert_linked(env, sender)


def leaves_number_en(env: Env, sender: str, name: str, phone: str) -> None:
    """An English customer's first conversation: the needs analysis with their number."""
    say(env, sender, "hello")
    say(env, sender, f"I'm {name}, my number is {phone}, interested in the A6L, budget 500k")
    say(env, sender, "yes, I agree")
    say(env, sender, "in a year or so")
    say(env, sender, "cash")
    say(env, sender, "no")
    assert_linked(env, sender)


def assert_linked(env: Env, sender: str) -> None:
    """The conversation is known by its customer (what the survey is sent by)."""
    with env.sessions() as session:
        customers = session.scalars(
            select(Conversation.customer_id).where(Conversation.sender_id == sender)
        ).all()
    assert any(customers), f"{sender} is not linked to a customer:\n{env.stack.log_tail()}"


# --- the dealership's side ----------------------------------------------------------------------


def deliver(env: Env, phone: str, model: str = "Q5L") -> dict[str, int]:
    """A delivery recorded at the desk (`deliveries add`); its surveys' ids by stage."""
    settings = env.stack.settings
    entry = deliveries.NewDelivery(
        phone=phone, model=model, delivered_at=DELIVERED.isoformat(), consultant=CONSULTANT
    )
    with env.db() as session:
        delivery = deliveries.add(
            session,
            entry,
            zone=settings.timezone,
            now=NOW,
            surveys=cached(settings.survey_config_path),
        )
        rows = session.scalars(select(Survey).where(Survey.delivery_id == delivery.id)).all()
        return {str(row.stage): row.id for row in rows}


def send(env: Env, survey_id: int, step: str = "ask", at: datetime = NOW) -> None:
    """What the gateway's scheduler does when a survey job fires (quiet hours off, clock fixed)."""

    async def run() -> None:
        engine = build_engine(env.stack.settings.effective_database_url)
        application = build_application(env.stack.settings)
        await application.initialize()
        try:
            async with httpx.AsyncClient() as client:
                sessions = build_session_factory(engine)
                rasa = RasaClient(env.stack.rasa_url, env.stack.token, "", client)
                telegram = Telegram(env.stack.settings, sessions, rasa, application)
                job_runtime.configure(
                    job_runtime.Runtime(
                        sessions,
                        env.stack.settings.timezone,
                        BackgroundScheduler(),
                        customers=job_channels.RasaConversations(
                            env.stack.rasa_url, env.stack.token, client, telegram
                        ),
                        consultants=job_channels.LoggedNotices(),
                        clock=lambda: at,
                        quiet=None,
                    )
                )
                await survey_jobs.send_survey(survey_id, step)
        finally:
            job_runtime.configure(None)
            await application.shutdown()
            engine.dispose()

    asyncio.run(run())


def sent(env: Env, sender: str, survey_id: int, step: str = "ask") -> list[dict[str, Any]]:
    """A survey step sent to a REST conversation when it falls due (the reminder two days after
    the survey); what the customer reads of it."""
    before = len(bot_messages(env, sender))
    send(env, survey_id, step, NOW if step == "ask" else NOW + REMINDER_AFTER)
    said = bot_messages(env, sender)[before:]
    assert said, f"survey {survey_id} ({step}) said nothing:\n{env.stack.log_tail()}"
    return said


# --- Telegram -----------------------------------------------------------------------------------


def post(env: Env, update: dict[str, Any]) -> None:
    assert post_webhook(env.webhook, update, SECRET) == 200
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with env.sessions() as session:
            row = session.get(InboundUpdate, update["update_id"])
            if row is not None and row.state == "done":
                return
        time.sleep(0.2)
    raise AssertionError(f"update {update['update_id']} not finished:\n{env.stack.log_tail()}")


def sends_to(env: Env, chat_id: int, since: float) -> list[dict[str, Any]]:
    """The bot's sendMessage calls to a chat after ``since``."""
    return [
        c.params
        for c in env.fake.calls_of("sendMessage")
        if c.ok and c.at > since and str(c.params.get("chat_id")) == str(chat_id)
    ]


def tg_say(env: Env, who: dict[str, Any], words: str) -> list[dict[str, Any]]:
    since = time.time()
    post(env, text_update(who, words))
    replies = sends_to(env, who["id"], since)
    assert replies, f"no answer to {words!r}:\n{env.stack.log_tail()}"
    return replies


def tg_texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("text") or "") for r in replies)


def inline_titles(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [str(button["text"]) for row in rows for button in row]


# --- the tests ----------------------------------------------------------------------------------


def test_a_chinese_customer_answers_the_revisit_in_their_own_words(env: Env) -> None:
    me = new_sender("zh")
    leaves_number_zh(env, me, "陈静", "13800138001")
    surveys = deliver(env, "+8613800138001")
    assert sorted(surveys) == ["d1", "d30", "d7"]
    first = env.survey(surveys["d1"])
    assert (first.sender_id, first.channel, first.language) == (me, "rest", "zh")
    assert (first.scheduled_for, first.sent_at) == (NOW, None)

    # The scheduler asks: the opening line, then the first question with its score buttons.
    intro, question = sent(env, me, surveys["d1"])
    assert intro["text"].startswith("您好，我是")
    assert "感谢您选择Q5L" in intro["text"]
    assert question["text"] == f"您对销售顾问{CONSULTANT}的服务满意吗？"
    assert titles(question) == ["5 非常满意", "4 满意", "3 一般", "2 不满意", "1 非常不满意"]
    assert env.survey(surveys["d1"]).sent_at == NOW
    with env.sessions() as session:
        [claim] = session.scalars(
            select(Notification).where(Notification.survey_id == surveys["d1"])
        ).all()
        assert (claim.ref, claim.kind, claim.status) == (
            f"survey:{first.delivery_id}:d1", "survey_ask", "sent"
        )  # fmt: skip
    # The job run again (a second scheduler, a restart) sends nothing more.
    before = len(bot_messages(env, me))
    send(env, surveys["d1"])
    assert len(bot_messages(env, me)) == before

    [delivery_question] = say(env, me, "非常满意")
    assert delivery_question["text"] == "您对这次交车的过程满意吗？"
    # An answer that says nothing is asked again, once, with the buttons.
    unclear, again = say(env, me, "嗯……让我想想")
    assert "没太理解" in unclear["text"]
    assert again["text"] == "您对这次交车的过程满意吗？"
    assert len(titles(again)) == 5
    [recommend] = say(env, me, "还行吧")
    assert "推荐给亲友" in recommend["text"]
    assert titles(recommend) == [str(n) for n in range(10, -1, -1)]
    [comment] = say(env, me, "8分")
    assert "还有什么想对我们说的" in comment["text"]
    remark = "一般般吧，交车那天等了快一个小时"
    [thanks] = say(env, me, remark)
    assert "感谢您的评价" in thanks["text"]

    done = env.survey(surveys["d1"])
    assert done.answers == {"consultant": 5, "delivery": 3, "recommend": 8, "comment": remark}
    assert done.completed_at is not None
    assert not done.complaint
    assert done.retries == 0

    # A week later the next revisit asks about the car: "一般般" is a middle score, "没有" skips
    # the comment.
    [car] = [m for m in sent(env, me, surveys["d7"]) if m["buttons"]]
    assert car["text"] == "用车这段时间，您对您的Q5L满意吗？"
    say(env, me, "一般般")
    [thanks] = say(env, me, "没有")
    assert "感谢您的评价" in thanks["text"]
    week = env.survey(surveys["d7"])
    assert week.answers == {"car": 3, "comment": None}
    assert week.completed_at is not None


HANDOVER = "How satisfied are you with the handover of your car?"


def english_survey_answered_once_then_paused(env: Env, me: str, phone: str) -> int:
    """An English customer's revisit: the first question answered, a question in the middle,
    then "not now". The survey's id."""
    leaves_number_en(env, me, "Tom Baker", phone)
    surveys = deliver(env, f"+86{phone}")
    intro, question = sent(env, me, surveys["d1"])
    assert "Thank you for choosing the Q5L" in intro["text"]
    assert question["text"] == (
        f"How satisfied are you with the service of your consultant {CONSULTANT}?"
    )
    assert titles(question)[0] == "5 Very satisfied"
    [asked] = say(env, me, "very happy")
    assert asked["text"] == HANDOVER

    # A question in the middle is answered, then the survey's question comes again.
    price = say(env, me, "how much is the Q5L?")
    assert price[0]["text"].startswith("The Q5L is listed at")
    assert price[-1]["text"] == HANDOVER
    assert env.survey(surveys["d1"]).answers == {"consultant": 5}

    # "Not now" pauses it; what was answered is kept.
    paused = say(env, me, "not now")
    assert "finish it another time" in texts(paused)
    assert HANDOVER not in texts(paused)
    row = env.survey(surveys["d1"])
    assert (row.answers, row.completed_at, row.retries) == ({"consultant": 5}, None, 0)
    return surveys["d1"]


def test_an_english_survey_paused_goes_on_with_the_reminder(env: Env) -> None:
    me = new_sender("en")
    survey = english_survey_answered_once_then_paused(env, me, "13912340001")

    # The scheduler's one reminder goes on from the next unanswered question, not the first.
    reminder = sent(env, me, survey, "reminder")
    assert reminder[0]["text"].startswith("Hello again!")
    assert reminder[-1]["text"] == HANDOVER
    assert "consultant" not in texts(reminder)
    assert env.survey(survey).reminded_at == NOW + REMINDER_AFTER
    [recommend] = say(env, me, "meh")  # a middle score
    assert "recommend us" in recommend["text"]
    assert env.survey(survey).answers == {"consultant": 5, "delivery": 3}
    [comment] = say(env, me, "9")
    assert "anything you'd like to tell us" in comment["text"]
    [thanks] = say(env, me, "no")
    assert thanks["text"].startswith("Thank you, that's everything!")
    row = env.survey(survey)
    assert row.answers == {"consultant": 5, "delivery": 3, "recommend": 9, "comment": None}
    assert row.completed_at is not None
    assert not row.complaint


def test_an_english_survey_paused_goes_on_when_the_customer_asks(env: Env) -> None:
    me = new_sender("en-resume")
    survey = english_survey_answered_once_then_paused(env, me, "13912340002")
    resumed = say(env, me, "I'd like to finish the survey now")
    assert resumed[0]["text"] == "Let's pick up the survey where we left off."
    # The next unanswered question, once; the request itself is no answer to it.
    assert [r["text"] for r in resumed[1:]] == [HANDOVER]
    assert "didn't quite get that" not in texts(resumed)
    assert env.survey(survey).retries == 0
    [recommend] = say(env, me, "meh")
    assert "recommend us" in recommend["text"]
    assert env.survey(survey).answers == {"consultant": 5, "delivery": 3}


@dataclass(frozen=True)
class LowScore:
    sender: str
    survey_id: int
    remark: str
    finished: list[dict[str, Any]]  # what the customer was told after the last answer


@pytest.fixture(scope="module")
def low_score(env: Env) -> LowScore:
    """A Chinese customer's revisit with a 2 (by button) for the consultant, to the end."""
    me = new_sender("low")
    leaves_number_zh(env, me, "孙丽", "13800138002")
    surveys = deliver(env, "+8613800138002")
    sent(env, me, surveys["d1"])
    say(env, me, '/inform{"rating": 2}')  # the "2 不满意" button
    say(env, me, "满意")
    say(env, me, "7分")
    remark = "顾问一直催我加装饰，很不舒服"
    return LowScore(me, surveys["d1"], remark, say(env, me, remark))


def test_a_low_score_opens_a_complaint_and_hands_the_customer_over(
    env: Env, low_score: LowScore
) -> None:
    me, said = low_score.sender, texts(low_score.finished)
    with env.sessions() as session:
        [ticket] = session.scalars(
            select(Ticket).where(Ticket.survey_id == low_score.survey_id)
        ).all()
        assert (ticket.source, ticket.state, ticket.cause) == ("survey", "open", "consultant")
        assert (ticket.sender_id, ticket.channel, ticket.language) == (me, "rest", "zh")
        assert ticket.summary == low_score.remark
        assert ticket.answers == {
            "consultant": 2, "delivery": 4, "recommend": 7, "comment": low_score.remark,
        }  # fmt: skip
        [handoff] = session.scalars(select(Handoff).where(Handoff.sender_id == me)).all()
        assert handoff.reason == "complaint"
        assert [t.id for t in session.scalars(select(Ticket).where(Ticket.sender_id == me))] == [
            ticket.id
        ]
    assert low_score.finished[0]["text"].startswith("非常抱歉没能让您满意")
    assert f"已为您登记投诉（编号 {ticket.id}）" in said
    assert "感谢您的评价" not in said
    assert "销售顾问" in said  # who takes over, and when
    row = env.survey(low_score.survey_id)
    assert row.complaint
    assert row.answers == ticket.answers
    assert row.completed_at is not None


def test_a_low_score_complaint_is_announced_once(env: Env, low_score: LowScore) -> None:
    said = texts(low_score.finished)
    assert said.count("投诉") == 1, said
    with env.sessions() as session:
        [ticket] = session.scalars(
            select(Ticket).where(Ticket.survey_id == low_score.survey_id)
        ).all()
        assert [event.kind for event in ticket.events] == ["opened"]


def test_a_telegram_customer_answers_by_button_and_by_text(env: Env) -> None:
    buyer = user(7101, "刘洋", "zh")
    chat = buyer["id"]
    tg_say(env, buyer, "你好")
    tg_say(env, buyer, "我叫刘洋，电话13700137001，想看Q5L，预算40万")
    tg_say(env, buyer, "同意")
    tg_say(env, buyer, "一年以后吧")
    tg_say(env, buyer, "全款")
    tg_say(env, buyer, "没有")
    assert_linked(env, f"telegram:{chat}")
    surveys = deliver(env, "+8613700137001")
    row = env.survey(surveys["d1"])
    assert (row.sender_id, row.channel) == (f"telegram:{chat}", "telegram")

    since = time.time()
    send(env, surveys["d1"])
    assert env.survey(surveys["d1"]).sent_at == NOW
    messages = sends_to(env, chat, since)
    assert "感谢您选择Q5L" in tg_texts(messages)
    assert messages[-1]["text"] == f"您对销售顾问{CONSULTANT}的服务满意吗？"
    [shown] = [m for m in env.fake.messages_to(chat) if m.get("reply_markup")][-1:]
    assert inline_titles(shown) == ["5 非常满意", "4 满意", "3 一般", "2 不满意", "1 非常不满意"]

    # Pressing "4 满意" records a 4; the query is answered and the buttons go.
    data = shown["reply_markup"]["inline_keyboard"][1][0]["callback_data"]
    press = callback_update(buyer, data, shown)
    since = time.time()
    post(env, press)
    env.fake.wait_for(
        "answerCallbackQuery",
        lambda c: c.params["callback_query_id"] == press["callback_query"]["id"],
    )
    assert tg_texts(sends_to(env, chat, since)) == "您对这次交车的过程满意吗？"
    [pressed] = [m for m in env.fake.messages_to(chat) if m["message_id"] == shown["message_id"]]
    assert not pressed.get("reply_markup")
    assert env.survey(surveys["d1"]).answers == {"consultant": 4}

    # Typing answers the next one.
    asked = tg_say(env, buyer, "满意")
    assert "推荐给亲友" in asked[-1]["text"]
    assert inline_titles(asked[-1])[0] == "10"
    assert env.survey(surveys["d1"]).answers == {"consultant": 4, "delivery": 4}
    tg_say(env, buyer, "10分")
    assert "感谢您的评价" in tg_texts(tg_say(env, buyer, "没有"))
    row = env.survey(surveys["d1"])
    assert row.answers == {"consultant": 4, "delivery": 4, "recommend": 10, "comment": None}
    assert row.completed_at is not None


def test_a_personal_link_opens_the_survey_once(env: Env) -> None:
    # A customer who never chatted: the delivery's surveys have no conversation to go to.
    surveys = deliver(env, "+8613600136001")
    assert env.survey(surveys["d1"]).sender_id is None
    with env.db() as session:
        key = env.stack.settings.effective_survey_link_key()
        issued = links.issue(session, key, NOW, timedelta(days=14))
    [link] = [found for found in issued if found.survey_id == surveys["d1"]]

    owner = user(7201, "周敏", "zh")
    opened = tg_say(env, owner, f"/start survey-{link.token}")
    assert "感谢您选择Q5L" in tg_texts(opened)
    assert opened[-1]["text"] == f"您对销售顾问{CONSULTANT}的服务满意吗？"
    assert len(inline_titles(opened[-1])) == 5
    row = env.survey(surveys["d1"])
    assert (row.sender_id, row.channel) == ("telegram:7201", "telegram")
    assert row.token_used_at is not None
    asked = tg_say(env, owner, "非常满意")
    assert asked[-1]["text"] == "您对这次交车的过程满意吗？"
    assert env.survey(surveys["d1"]).answers == {"consultant": 5}

    # The link forwarded to someone else is refused, plainly, and asks nothing.
    other = user(7202, "吴刚", "zh")
    refused = tg_say(env, other, f"/start survey-{link.token}")
    assert "这个回访链接已经使用过了" in tg_texts(refused)
    assert not any(r.get("reply_markup") for r in refused)
    row = env.survey(surveys["d1"])
    assert (row.sender_id, row.answers) == ("telegram:7201", {"consultant": 5})


def test_the_survey_introduces_the_assistant_by_the_configured_dealer_name(env: Env) -> None:
    # A web link (<gateway>/?survey=<token>): the page's first message opens the survey.
    surveys = deliver(env, "+8613600136002")
    with env.db() as session:
        key = env.stack.settings.effective_survey_link_key()
        issued = links.issue(session, key, NOW, timedelta(days=14))
    [link] = [found for found in issued if found.survey_id == surveys["d1"]]
    me = new_sender("web-link")
    opened = say(env, me, "/start_survey" + json.dumps({"survey_token": link.token}))
    assert opened[-1]["text"] == f"您对销售顾问{CONSULTANT}的服务满意吗？"
    greeting = texts(say(env, new_sender("hello"), "你好"))
    assert DEALER in greeting  # how the assistant introduces itself everywhere else
    assert opened[0]["text"].startswith(f"您好，我是{DEALER}的智能助理。")
