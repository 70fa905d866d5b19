"""Nothing a Telegram customer sends is lost or answered twice: Rasa stopped and started again
while a customer writes; the gateway restarted while updates arrive (Telegram redelivering the
ones it was not sure of)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.models import InboundUpdate
from tests.integration.stack import Stack, running_stack, telegram_settings
from tests.telegram_fake import TelegramFake, post_webhook, running_telegram_fake, text_update, user

pytestmark = pytest.mark.integration

SECRET = "restart-test-secret"
# The assistant's greeting (Chinese), which every "你好" below must get exactly once.
GREETING = "欢迎来到"


@pytest.fixture(scope="module")
def stack_and_fake(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, TelegramFake]]:
    with running_telegram_fake() as fake:
        settings = telegram_settings(
            tmp_path_factory.mktemp("telegram-restarts"),
            fake.base_url,
            fake.token,
            telegram_webhook_secret=SECRET,
        )
        with running_stack(settings, with_gateway=True) as stack:
            yield stack, fake


def webhook(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.gateway_port}/telegram/webhook"


def greetings_to(fake: TelegramFake, chat_id: int) -> int:
    return sum(GREETING in text for text in fake.texts_to(chat_id))


def wait_until(check: Any, timeout: float, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError("timed out:\n" + stack.log_tail())


def open_updates(stack: Stack) -> list[int]:
    engine = build_engine(stack.settings.effective_database_url)
    try:
        with build_session_factory(engine)() as session:
            return list(
                session.scalars(
                    select(InboundUpdate.update_id).where(InboundUpdate.state != "done")
                )
            )
    finally:
        engine.dispose()


def test_a_message_sent_while_rasa_is_down_is_answered_once_it_is_back(
    stack_and_fake: tuple[Stack, TelegramFake],
) -> None:
    stack, fake = stack_and_fake
    buyer = user(8001, "老周", "zh")
    stack.stop("rasa")
    try:
        assert post_webhook(webhook(stack), text_update(buyer, "你好"), SECRET) == 200
        # The customer is told to wait a moment (once), not left without a word.
        wait_until(lambda: any("稍等" in t for t in fake.texts_to(8001)), 60, stack)
    finally:
        stack.start("rasa")
    wait_until(lambda: greetings_to(fake, 8001) >= 1, 180, stack)
    time.sleep(5)
    assert greetings_to(fake, 8001) == 1
    assert sum("稍等" in t for t in fake.texts_to(8001)) == 1
    wait_until(lambda: not open_updates(stack), 30, stack)


def test_updates_arriving_around_a_gateway_restart_are_answered_once(
    stack_and_fake: tuple[Stack, TelegramFake],
) -> None:
    stack, fake = stack_and_fake
    before = [user(8100 + n, f"客户{n}", "zh") for n in range(4)]
    during = [user(8200 + n, f"客户{n}", "zh") for n in range(3)]
    accepted = [text_update(buyer, "你好") for buyer in before]
    for update in accepted:
        assert post_webhook(webhook(stack), update, SECRET) == 200
    stack.stop("gateway")  # while those are being answered
    refused = [text_update(buyer, "你好") for buyer in during]
    for update in refused:
        with pytest.raises(httpx.HTTPError):
            post_webhook(webhook(stack), update, SECRET)
    stack.start("gateway")
    # Telegram delivers again what it could not, and what it was not sure of.
    for update in refused + accepted[:2]:
        assert post_webhook(webhook(stack), update, SECRET) == 200
    everyone = before + during
    wait_until(lambda: all(greetings_to(fake, b["id"]) >= 1 for b in everyone), 180, stack)
    time.sleep(5)
    assert {b["id"]: greetings_to(fake, b["id"]) for b in everyone} == {
        b["id"]: 1 for b in everyone
    }
    wait_until(lambda: not open_updates(stack), 30, stack)


def test_an_answer_telegram_fails_to_take_is_sent_again_once(
    stack_and_fake: tuple[Stack, TelegramFake],
) -> None:
    stack, fake = stack_and_fake
    buyer = user(8301, "小吴", "zh")
    fake.fail_next("sendMessage", 502, times=2)
    assert post_webhook(webhook(stack), text_update(buyer, "你好"), SECRET) == 200
    wait_until(lambda: greetings_to(fake, 8301) >= 1, 60, stack)
    time.sleep(3)
    assert greetings_to(fake, 8301) == 1
    wait_until(lambda: not open_updates(stack), 30, stack)


def test_one_chats_messages_are_taken_in_the_order_sent(
    stack_and_fake: tuple[Stack, TelegramFake],
) -> None:
    stack, fake = stack_and_fake
    buyer = user(8401, "小孙", "zh")
    sent = ["你好", "Q5L多少钱", "有现车吗", "谢谢"]
    for text in sent:
        assert post_webhook(webhook(stack), text_update(buyer, text), SECRET) == 200
    wait_until(lambda: not open_updates(stack) and len(fake.texts_to(8401)) >= 4, 120, stack)
    said = [
        event["text"]
        for event in map(json.loads, stack.transcript("telegram:8401"))
        if event.get("event") == "user"
    ]
    assert said == sent
