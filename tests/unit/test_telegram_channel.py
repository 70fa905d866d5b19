"""The Telegram channel's own logic: replies within Telegram's limits, button payloads within
64 bytes, shared contacts, updates recorded once, and polling mode against the fake Bot API."""

from __future__ import annotations

import asyncio
import html
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.channels.rasa import RasaClient
from bot.channels.telegram import render, updates
from bot.channels.telegram.application import ChatOrdered, build_application, register
from bot.channels.telegram.customers import own_number
from bot.channels.telegram.runtime import Telegram
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.models import InboundUpdate
from crm_bridge.types import utcnow
from tests.conftest import make_settings
from tests.telegram_fake import (
    TelegramFake,
    running_telegram_fake,
    sticker_update,
    text_update,
    user,
)


@given(st.text(min_size=0, max_size=12_000))
def test_split_keeps_every_character_within_the_limit(text: str) -> None:
    pieces = render.split(text)
    assert all(0 < len(piece) <= render.TEXT_LIMIT for piece in pieces)
    # Nothing lost but the whitespace at the cuts; no entity cut in half.
    joined = "".join(html.unescape(p) for p in pieces)
    assert "".join(joined.split()) == "".join(text.split())


def test_split_escapes_html_and_cuts_at_paragraphs() -> None:
    text = ("<b>Q5L</b> & A6L. " * 300 + "\n\n") * 2
    pieces = render.split(text)
    assert len(pieces) >= 2
    assert "<b>" not in "".join(pieces)
    assert all(p.count("&") == p.count("&amp;") + p.count("&lt;") + p.count("&gt;") for p in pieces)


def test_payloads_fit_telegrams_64_bytes() -> None:
    short = render.callback_data('/ask_model_info{"car_model": "Q4 e-tron"}', 0)
    assert short == 'p:/ask_model_info{"car_model":"Q4 e-tron"}'
    long = render.callback_data(
        '/request_test_drive{"car_model": "Q4 e-tron", "time": "2026-12-05T10:00:00+08:00"}', 3
    )
    assert long == "t:3"
    assert all(
        len(render.callback_data(f'/inform{{"time": "{"下周" * n}"}}', 1).encode()) <= 64
        for n in range(40)
    )


def test_a_pressed_button_sends_its_payload_or_its_title() -> None:
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("预约试驾 Q4 e-tron Sportback", callback_data="t:0")],
         [InlineKeyboardButton("看看价格", callback_data="p:/ask_price")]]
    )  # fmt: skip
    message = Message.de_json(
        {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"},
         "reply_markup": markup.to_dict()},
        None,
    )  # fmt: skip
    assert render.pressed("p:/ask_price", message) == "/ask_price"
    assert render.pressed("t:0", message) == "预约试驾 Q4 e-tron Sportback"
    assert render.pressed("t:9", message) is None
    assert render.pressed("claim:3", message) is None


@pytest.mark.parametrize(
    ("shared", "expected"),
    [("8613912345678", "+8613912345678"), ("+8613912345678", "+8613912345678"),
     ("12345", None), ("not a number", None)],
)  # fmt: skip
def test_a_shared_contact_number_in_e164(shared: str, expected: str | None) -> None:
    assert own_number(shared) == expected


def test_an_update_is_recorded_once(sessions: SessionFactory) -> None:
    update = text_update(user(42), "你好")
    with transaction(sessions) as session:
        assert updates.record(session, update, utcnow())
        assert not updates.record(session, update, utcnow())
        row = updates.state_of(session, update["update_id"])
        assert row is not None
        assert (row.chat_id, row.state) == (42, "received")
        updates.answered(session, update["update_id"], [{"text": "您好"}])
        updates.done(session, update["update_id"], utcnow())
        assert updates.pending(session) == []


@pytest.fixture
def fake() -> Iterator[TelegramFake]:
    with running_telegram_fake() as running:
        yield running


async def test_polling_mode_records_and_answers_updates(
    tmp_path: Path, sessions: SessionFactory, fake: TelegramFake
) -> None:
    settings = make_settings(
        tmp_path, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url
    )
    application = build_application(settings)
    assert application.updater is not None  # no webhook URL: polling
    buyer = user(77, "Tom", "en")
    fake.queue_update(sticker_update(buyer))
    async with httpx.AsyncClient() as client:
        telegram = Telegram(settings, sessions, RasaClient("http://127.0.0.1:9", "", "", client),
                            application)  # fmt: skip
        register(telegram)
        async with application:
            await application.start()
            await application.updater.start_polling(poll_interval=0.1, timeout=1)
            for _ in range(100):
                if fake.texts_to(77):
                    break
                await asyncio.sleep(0.1)
            await application.updater.stop()
            await application.stop()
    assert "Ask me about models" in fake.texts_to(77)[0]
    with sessions() as session:
        [state] = session.scalars(select(InboundUpdate.state)).all()
        assert state == "done"


async def test_one_chat_is_processed_in_order_while_chats_run_in_parallel() -> None:
    processor = ChatOrdered()
    done: dict[int, list[int]] = {}
    rng = random.Random(7)  # noqa: S311 - arrival times, not secrets

    async def work(chat: int, number: int, delay: float) -> None:
        await asyncio.sleep(delay)
        done.setdefault(chat, []).append(number)

    tasks = []
    sent: dict[int, list[int]] = {}
    for number in range(300):
        chat = rng.choice((1, 2, 3))
        sent.setdefault(chat, []).append(number)
        update = Update.de_json(text_update(user(chat), "hi", chat_id=chat), None)
        coroutine = work(chat, number, rng.random() / 200)
        tasks.append(asyncio.create_task(processor.process_update(update, coroutine)))
        await asyncio.sleep(rng.random() / 400)  # updates keep arriving while others run
    await asyncio.gather(*tasks)
    assert done == sent
    assert processor._locks == {}
