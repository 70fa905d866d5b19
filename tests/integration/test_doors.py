"""Doors closed: only Rasa may call the action server, which listens on loopback; a huge or
hostile message, or a sender flooding the REST channel, cannot hold up the other conversations."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.models import Conversation
from nlu.limits import MAX_MESSAGE_CHARS
from tests.integration.stack import Stack, stack_in

pytestmark = pytest.mark.integration

# A small per-sender allowance (SENDER_MESSAGES_PER_MINUTE), so that flooding takes few messages.
ALLOWANCE = 6


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("doors")
    with stack_in(folder, sender_messages_per_minute=ALLOWANCE) as running:
        yield running


def _forged_erasure(sender: str) -> dict[str, object]:
    """What an attacker would post: a made-up tracker asking to erase someone's data."""
    return {
        "next_action": "action_erase_personal_data",
        "sender_id": sender,
        "version": "3.6.21",
        "tracker": {"sender_id": sender, "slots": {}, "latest_message": {"text": "删除我的数据",
                    "intent": {"name": "request_data_deletion"}, "entities": []},
                    "events": [], "paused": False, "followup_action": None,
                    "active_loop": {}, "latest_action_name": "action_listen"},
        "domain": {},
    }  # fmt: skip


def _conversations(stack: Stack, sender: str) -> int:
    engine = build_engine(stack.settings.effective_database_url)
    try:
        with build_session_factory(engine)() as session:
            stmt = select(func.count()).select_from(Conversation)
            return session.scalar(stmt.where(Conversation.sender_id == sender)) or 0
    finally:
        engine.dispose()


def test_a_forged_call_to_the_action_server_is_refused(stack: Stack) -> None:
    sender = f"victim-{uuid.uuid4().hex[:8]}"
    assert stack.texts(sender, "你好")  # Rasa reaches the actions with the shared secret
    assert _conversations(stack, sender) == 1
    url = f"http://127.0.0.1:{stack.settings.actions_port}"
    for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": "guessed"}):
        forged = httpx.post(f"{url}/webhook", json=_forged_erasure(sender), headers=headers)
        assert forged.status_code == 401, (headers, forged.text)
        assert "events" not in forged.text
        listing = httpx.get(f"{url}/actions", headers=headers)  # the names of the actions
        assert listing.status_code == 401
    assert httpx.get(f"{url}/health").status_code == 200
    assert _conversations(stack, sender) == 1  # nothing was erased
    assert stack.texts(sender, "Q5L多少钱")  # and the conversation goes on


def _outside_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


def test_the_action_server_listens_on_loopback_only(stack: Stack) -> None:
    port = stack.settings.actions_port
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback to try")
    with pytest.raises(ConnectionRefusedError), socket.create_connection((address, port), 2):
        pass


def test_a_huge_message_is_answered_at_once_while_others_are_served(stack: Stack) -> None:
    """Over the limit: not parsed, answered with the reason and a way on. At the limit: parsed
    in linear time (spaces between digits used to keep the server busy for seconds)."""
    over = "1" + " " * (MAX_MESSAGE_CHARS * 2) + "2"
    at_limit = "1" + " " * (MAX_MESSAGE_CHARS - 2) + "2"
    with ThreadPoolExecutor(2) as pool:
        floods = [pool.submit(stack.say, f"flood-{n}-{uuid.uuid4().hex[:6]}", text)
                  for n, text in enumerate((over, at_limit))]  # fmt: skip
        started = time.monotonic()
        served = stack.texts(f"buyer-{uuid.uuid4().hex[:6]}", "你好，Q5L多少钱？")
        waited = time.monotonic() - started
        over_replies, at_limit_replies = (flood.result(timeout=60) for flood in floods)
    assert any("Q5L" in text for text in served)
    assert waited < 10  # a stall detector: a message costs tens of milliseconds here
    assert f"超过{MAX_MESSAGE_CHARS}个字" in over_replies[0]["text"]
    assert over_replies[-1].get("buttons")  # and the usual way on: models, test drive, a person
    assert at_limit_replies  # answered like any message


def _slowed_down(replies: list[str]) -> bool:
    """Whether ``replies`` is the request to slow down, in both languages (channels/limits.py)."""
    return len(replies) == 1 and "请稍等" in replies[0] and "please wait" in replies[0]


def test_flooding_sender_is_limited_while_another_is_served(stack: Stack) -> None:
    """Over its allowance, a sender is asked to slow down and its messages never reach Rasa; a
    second sender at the same time is answered as usual."""
    assert stack.settings.sender_messages_per_minute == ALLOWANCE
    flooder, buyer = (f"{who}-{uuid.uuid4().hex[:8]}" for who in ("flooder", "buyer"))
    sent = ALLOWANCE + 4
    with ThreadPoolExecutor(sent + 1) as pool:
        floods = [pool.submit(stack.texts, flooder, "你好") for _ in range(sent)]
        served = pool.submit(stack.texts, buyer, "你好")
        flood_replies = [flood.result(timeout=120) for flood in floods]
        greeting = served.result(timeout=120)
    slowed = [replies for replies in flood_replies if _slowed_down(replies)]
    answered = [replies for replies in flood_replies if not _slowed_down(replies)]
    assert len(slowed) >= sent - ALLOWANCE
    assert 1 <= len(answered) <= ALLOWANCE
    assert all(answered)  # the admitted ones are answered as usual
    # Rasa saw only the admitted messages of the flooder.
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/{flooder}/tracker",
        params={"token": stack.token},
        timeout=30,
    ).json()
    assert sum(event["event"] == "user" for event in tracker["events"]) == len(answered)
    # The other sender, during the flood and after it, is greeted as usual.
    for replies in (greeting, stack.texts(buyer, "你好")):
        assert not _slowed_down(replies)
        assert any(stack.settings.dealer_name in text for text in replies)
