"""The first bilingual conversation over the REST channel, against the real trained model, the real
action server and the dealership database; on the embedded default and on the production profile
(PostgreSQL tracker store and database, Redis lock store, RabbitMQ event broker)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.models import Conversation
from crm_bridge.settings import Settings
from tests.conftest import POSTGRES_URL, RABBITMQ_URL, REDIS_URL, make_settings
from tests.integration.stack import Stack, free_port, running_stack

pytestmark = pytest.mark.integration

DEALER = "测试奥迪中心"
DEALER_EN = "Test Audi Centre"
REDIS_DB = 7


def _profile_settings(profile: str, tmp: Path, request: pytest.FixtureRequest) -> Settings:
    common = {
        "rasa_port": free_port(),
        "actions_port": free_port(),
        "gateway_port": free_port(),
        "dealer_name": DEALER,
        "dealer_name_en": DEALER_EN,
    }
    if profile == "embedded":
        return make_settings(tmp, **common)
    if not (POSTGRES_URL and REDIS_URL and RABBITMQ_URL):
        pytest.skip("TEST_DATABASE_URL, TEST_REDIS_URL and TEST_RABBITMQ_URL are not all set")
    database = request.getfixturevalue("postgres_database")
    redis_url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    return make_settings(
        tmp,
        database_url=database,
        tracker_store_url=database,
        redis_url=redis_url,
        rabbitmq_url=RABBITMQ_URL,
        **common,
    )


@pytest.fixture(scope="module", params=["embedded", "production"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(request.param)
    settings = _profile_settings(request.param, tmp, request)
    with running_stack(settings) as stack:
        yield stack


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """One PostgreSQL database for the whole production-profile module."""
    assert POSTGRES_URL
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"da_it_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def conversations_of(stack: Stack, sender: str) -> list[Conversation]:
    engine = build_engine(stack.settings.effective_database_url)
    try:
        with build_session_factory(engine)() as session:
            stmt = select(Conversation).where(Conversation.sender_id == sender)
            return list(session.scalars(stmt.order_by(Conversation.id)))
    finally:
        engine.dispose()


def sender() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


def test_chinese_greeting_is_answered_in_chinese_with_the_dealer_name(stack: Stack) -> None:
    [reply] = stack.texts(sender(), "你好")
    assert DEALER in reply
    assert "您好" in reply
    assert DEALER_EN not in reply


def test_english_greeting_is_answered_in_english(stack: Stack) -> None:
    [reply] = stack.texts(sender(), "hello")
    assert DEALER_EN in reply
    assert reply.startswith("Hello")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in reply)


def test_replies_follow_a_language_switch_and_the_conversation_is_recorded(stack: Stack) -> None:
    who = sender()
    before = datetime.now(UTC) - timedelta(seconds=1)
    [greeting] = stack.texts(who, "hi there")
    assert DEALER_EN in greeting
    [welcome] = stack.texts(who, "谢谢")
    assert welcome == "不客气！还有什么可以帮您的吗？"
    [bye] = stack.texts(who, "ok bye")
    assert bye.startswith("Thank you for contacting")
    after = datetime.now(UTC) + timedelta(seconds=1)

    [row] = conversations_of(stack, who)
    assert row.channel == "rest"
    assert row.language == "en"  # the latest language the customer wrote in
    assert row.message_count == 3
    assert before <= row.started_at <= after
    assert row.last_message_at is not None
    assert row.started_at <= row.last_message_at <= after


def test_the_http_api_needs_the_token(stack: Stack) -> None:
    parse = f"{stack.rasa_url}/model/parse"
    assert httpx.post(parse, json={"text": "你好"}, timeout=30).status_code == 401
    assert httpx.post(f"{parse}?token=wrong", json={"text": "hi"}, timeout=30).status_code == 401
    ok = httpx.post(f"{parse}?token={stack.token}", json={"text": "你好"}, timeout=30)
    assert ok.status_code == 200
    assert ok.json()["intent"]["name"] == "greet"


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "好" * 10_000,
        "😀😀😀",
        "<script>alert(1)</script>",
        "'; DROP TABLE conversations;--",
    ],
    ids=["empty", "blank", "10k-chars", "emoji", "html", "sql"],
)
def test_odd_messages_get_an_answer_and_are_recorded(stack: Stack, message: str) -> None:
    who = sender()
    replies = stack.say(who, message)
    assert replies, f"no answer to {message[:20]!r}"
    assert all(reply.get("text") for reply in replies)
    [row] = conversations_of(stack, who)
    assert row.message_count == 1


@pytest.mark.parametrize("stack", ["production"], indirect=True)
def test_production_services_are_really_used(stack: Stack) -> None:
    import pika
    import redis

    who = sender()
    stack.texts(who, "你好")

    # Tracker events in PostgreSQL.
    engine = create_engine(stack.settings.effective_database_url)
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": who}
        ).scalar_one()
    engine.dispose()
    assert count >= 4

    # Events published to RabbitMQ.
    assert RABBITMQ_URL
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    seen = []
    for _ in range(10_000):
        method, _, body = channel.basic_get("dealer_assistant_events", auto_ack=True)
        if method is None:
            break
        event = json.loads(body)
        if event.get("sender_id") == who:
            seen.append(event["event"])
    connection.close()
    assert "user" in seen
    assert "bot" in seen

    # Rasa holds a connection to the Redis lock store database.
    assert REDIS_URL
    clients = redis.Redis.from_url(REDIS_URL).client_list()
    assert any(int(client.get("db", -1)) == REDIS_DB for client in clients)


def parse(stack: Stack, text: str) -> dict[str, object]:
    response = httpx.post(
        f"{stack.rasa_url}/model/parse?token={stack.token}", json={"text": text}, timeout=30
    )
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


def entity_values(result: dict[str, object]) -> dict[str, object]:
    entities = result["entities"]
    assert isinstance(entities, list)
    return {e["entity"]: e["value"] for e in entities}


def test_parse_returns_normalized_entities(stack: Stack) -> None:
    result = parse(stack, "我叫张伟，电话138 0013 8000，想看奥迪Q5，预算三十万左右")
    assert entity_values(result) == {
        "person_name": "张伟",
        "phone": "+8613800138000",
        "car_model": "Q5L",
        "budget": 300000,
    }


def test_parse_understands_code_switching_and_english(stack: Stack) -> None:
    mixed = parse(stack, "想book一个test drive, 试试Q7")
    assert mixed["intent"]["name"] == "request_test_drive"  # type: ignore[index]
    assert entity_values(mixed) == {"car_model": "Q7"}
    english = parse(stack, "how much is the a6 these days")
    assert english["intent"]["name"] == "ask_price"  # type: ignore[index]
    assert entity_values(english) == {"car_model": "A6L"}


def test_parse_times_are_iso_in_the_dealer_zone(stack: Stack) -> None:
    result = parse(stack, "明天下午三点可以去试驾吗")
    value = entity_values(result)["time"]
    assert isinstance(value, str)
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(hours=8)
    assert (moment.hour, moment.minute) == (15, 0)


UNCLEAR = {
    "en": ["hmm well you know the thing", "so what about it then", "and the other one?",
           "maybe, depends", "what about that blue thing", "that one from before",
           "well it kind of depends on stuff", "the thing we said", "uh huh and then",
           "whatever you think", "like the usual i guess", "so yeah about that",
           "hmm not sure what i mean", "the one with the thing"],
    "zh": ["呃呃呃 嗯哼 那个啥来着", "就那个嘛", "然后呢", "你懂的", "这个那个", "哎 怎么说呢",
           "就是之前说的那个", "反正就那样吧", "嗯 看情况", "差不多那种", "就那啥", "随便吧看着办",
           "额 我想想", "那个东西呢"],
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh", "en"])
def test_unclear_messages_get_a_rephrase_request_with_buttons(stack: Stack, language: str) -> None:
    # Whatever the model is unsure about (nlu_fallback in /model/parse) must be answered with a
    # request to rephrase and the main options as buttons, in the customer's language.
    def intent(message: str) -> object:
        return parse(stack, message)["intent"]["name"]  # type: ignore[index]

    unclear = [message for message in UNCLEAR[language] if intent(message) == "nlu_fallback"]
    assert unclear, f"none of {UNCLEAR[language]} is low-confidence for the model"
    for message in unclear:
        [reply] = stack.say(sender(), message)
        if language == "en":
            assert "another way" in reply["text"]
            assert [b["title"] for b in reply["buttons"]] == [
                "Our models", "Book a test drive", "Talk to a sales consultant",
            ]  # fmt: skip
        else:
            assert "换个说法" in reply["text"]
            assert [b["title"] for b in reply["buttons"]] == [
                "看看车型",
                "预约试驾",
                "联系销售顾问",
            ]
        assert [b["payload"] for b in reply["buttons"]] == [
            "/ask_models", "/request_test_drive", "/request_human",
        ]  # fmt: skip


def test_out_of_scope_gets_a_polite_redirect(stack: Stack) -> None:
    [reply] = stack.texts(sender(), "今天天气怎么样")
    assert reply.startswith("抱歉")
    assert "试驾" in reply
    [reply_en] = stack.texts(sender(), "can you tell me a joke")
    assert reply_en.startswith("Sorry")
    assert "test drive" in reply_en


def test_answers_come_from_the_dealership_data(stack: Stack) -> None:
    price = " ".join(stack.texts(sender(), "Q5L落地大概多少钱"))
    assert "39.28–51.38万元" in price
    assert "销售顾问" in price
    suvs = " ".join(stack.texts(sender(), "what electric SUVs do you have"))
    assert "Q4 e-tron (SUV, 5 seats, electric" in suvs
    hours = " ".join(stack.texts(sender(), "你们店在哪里 几点关门"))
    assert "虹梅南路1888号" in hours
    assert "周一至周四 09:00–18:00" in hours
