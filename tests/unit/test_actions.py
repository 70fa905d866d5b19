"""Actions with trackers built in code, the real domain and a real database."""

from datetime import UTC, datetime
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.base import Services, channel_of
from actions.conversation import ValidateSlotMappings
from actions.registry import build_actions
from actions.session import ActionSessionStart
from crm_bridge.db import SessionFactory
from crm_bridge.models import Conversation
from tests.conftest import make_services, make_settings
from tests.domain import load_domain, response_text
from tests.trackers import user_turn

NOW = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)


@pytest.fixture
def services(sessions: SessionFactory, tmp_path: Any) -> Services:
    settings = make_settings(tmp_path, dealer_name="测试<b>奥迪</b>", dealer_name_en="Test Audi")
    return make_services(settings, sessions, lambda: NOW)


def tracker(
    sender: str = "c1",
    text: str | None = None,
    channel: str | None = "rest",
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"}]
    latest: dict[str, Any] = {}
    if text is not None:
        latest = {
            "text": text,
            "intent": {"name": "greet", "confidence": 0.99},
            "entities": [],
            "metadata": {},  # Rasa drops it from the parse data of payloads like "/greet"
        }
        events.append(
            {
                "event": "user",
                "text": text,
                "timestamp": NOW.timestamp() + 3,
                "input_channel": channel,
                "parse_data": latest,
                "metadata": metadata or {},
            }
        )
    return Tracker(
        sender_id=sender,
        slots={"language": None, "dealer_name": None, "dealer_name_en": None, **(slots or {})},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def conversations(sessions: SessionFactory) -> list[Conversation]:
    with sessions() as session:
        return list(session.scalars(select(Conversation).order_by(Conversation.id)))


async def test_every_domain_action_is_served(services: Services) -> None:
    domain = load_domain()
    served = {action.name() for action in build_actions(services)}
    assert served == set(domain["actions"])


async def test_session_start_sets_dealer_names_and_records_conversation(
    services: Services, sessions: SessionFactory
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart(services).run(dispatcher, tracker(), load_domain())
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    assert slot_events(events) == {"dealer_name": "测试<b>奥迪</b>", "dealer_name_en": "Test Audi"}
    assert dispatcher.messages == []
    [row] = conversations(sessions)
    # A first session starts before Rasa has logged the message, so the channel comes with it.
    assert (row.sender_id, row.channel, row.started_at) == ("c1", None, NOW)


async def test_session_start_carries_the_language_over(services: Services) -> None:
    events = await ActionSessionStart(services).run(
        CollectingDispatcher(), tracker(slots={"language": "en"}), load_domain()
    )
    assert slot_events(events)["language"] == "en"


@pytest.mark.parametrize(
    ("text", "before", "after"),
    [
        ("你好", None, "zh"),
        ("hello", None, "en"),
        ("hello", "zh", "en"),
        ("想book一个test drive", "en", "zh"),
        ("13800138000", "en", "en"),
    ],
)
async def test_reply_language_follows_the_customer(
    services: Services, sessions: SessionFactory, text: str, before: str | None, after: str
) -> None:
    events = await ValidateSlotMappings(services).run(
        CollectingDispatcher(), tracker(text=text, slots={"language": before}), load_domain()
    )
    assert slot_events(events).get("language", before) == after
    [row] = conversations(sessions)
    assert (row.language, row.channel, row.message_count) == (after, "rest", 1)
    assert row.last_message_at == datetime.fromtimestamp(NOW.timestamp() + 3, UTC)


async def test_widget_payload_uses_the_language_hint(services: Services) -> None:
    action = ValidateSlotMappings(services)
    events = await action.run(
        CollectingDispatcher(),
        tracker(text="/greet", channel="socketio", metadata={"language": "en"}),
        load_domain(),
    )
    assert slot_events(events) == {"language": "en"}
    events = await action.run(
        CollectingDispatcher(),
        tracker(text="/greet", channel="socketio", metadata={"language": "<script>"}),
        load_domain(),
    )
    assert slot_events(events) == {}


def test_channel_names() -> None:
    assert channel_of("socketio") == "web"
    assert channel_of("rest") == "rest"
    assert channel_of("rest", {"channel": "telegram"}) == "telegram"
    assert channel_of("rest", {"channel": "carrier-pigeon"}) == "rest"
    assert channel_of("cmdline") is None
    assert channel_of(None) is None


@pytest.mark.parametrize(
    ("text", "intent", "trade_in"),
    [("想买A6L，全款，没有旧车置换", "inform", False),
     ("I have no car to trade in, can I test drive the A6L?", "request_test_drive", False),
     ("有台旧车想置换，想试驾Q5L", "request_test_drive", True),
     ("Q5L多少钱", "ask_price", None)],
)  # fmt: skip
async def test_a_trade_in_said_in_passing_is_kept(
    services: Services, text: str, intent: str, trade_in: bool | None
) -> None:
    turn = user_turn(text, intent)
    events = await ValidateSlotMappings(services).run(CollectingDispatcher(), turn, load_domain())
    assert slot_events(events).get("trade_in") is trade_in


@pytest.mark.parametrize(
    ("language", "expected"), [("zh", "超过1000个字"), ("en", "over 1000 characters")]
)
async def test_a_message_too_long_to_parse_is_answered_with_the_reason(
    services: Services, sessions: SessionFactory, language: str, expected: str
) -> None:
    turn = user_turn("", "nlu_fallback", slots={"language": language})
    turn.latest_message["too_long"] = {"chars": 5000, "limit": 1000}  # as nlu/tokenizer.py notes it
    dispatcher = CollectingDispatcher()
    events = await ValidateSlotMappings(services).run(dispatcher, turn, load_domain())
    [notice] = dispatcher.messages
    assert notice["response"] == "utter_message_too_long"
    assert expected in response_text(notice["response"], language, limit=notice["limit"])
    assert "language" not in slot_events(events)  # nothing read from an unread message
    assert conversations(sessions)[0].message_count == 1  # still counted as a message


async def test_a_message_within_the_limit_gets_no_length_notice(services: Services) -> None:
    dispatcher = CollectingDispatcher()
    await ValidateSlotMappings(services).run(dispatcher, user_turn("你好", "greet"), load_domain())
    assert dispatcher.messages == []
