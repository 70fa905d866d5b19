"""Test drives end to end: booked, moved and cancelled in conversation over the REST channel (the
trained model, the action server, the dealership database), checked through the CLI exports."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from lxml import etree

from bot.jobs import channels as job_channels
from bot.jobs import reminders
from bot.jobs import runtime as job_runtime
from crm_bridge.db import build_engine, build_session_factory
from tests.conftest import make_settings
from tests.integration.stack import Stack, free_port, running_stack

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "dealer-assistant")
BOOKING_FIELDS = {
    "id", "lead_id", "model", "start", "end", "status", "consultant", "customer_name", "phone",
}  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = make_settings(
        tmp_path_factory.mktemp("test-drive"),
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
        dealer_name="测试奥迪中心",
        dealer_name_en="Test Audi Centre",
    )
    with running_stack(settings) as running:
        yield running


def cli(stack: Stack, *args: str) -> str:
    result = subprocess.run(
        [CLI, *args],
        env={**os.environ, "DATABASE_URL": stack.settings.effective_database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def booking_of(stack: Stack, phone: str) -> dict[str, Any]:
    records: list[dict[str, Any]] = json.loads(cli(stack, "bookings", "export", "--format", "json"))
    [record] = [r for r in records if r["phone"] == phone]
    assert set(record) == BOOKING_FIELDS
    return record


def lead_of(stack: Stack, phone: str) -> dict[str, Any]:
    records: list[dict[str, Any]] = json.loads(cli(stack, "leads", "export", "--format", "json"))
    [record] = [r for r in records if r["phone"] == phone]
    return record


def chat(stack: Stack, sender: str, *turns: str) -> list[list[str]]:
    replies = []
    for text in turns:
        said = stack.texts(sender, text)
        assert said, f"no answer to {text!r}:\n{stack.log_tail()}"
        replies.append(said)
    return replies


def buttons(stack: Stack, sender: str, text: str) -> list[dict[str, str]]:
    """The buttons of the last reply to ``text``."""
    replies = stack.say(sender, text)
    assert replies, f"no answer to {text!r}:\n{stack.log_tail()}"
    found: list[dict[str, str]] = replies[-1].get("buttons") or []
    return found


def local(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    assert moment.utcoffset() == timedelta(hours=8)  # the dealer's zone, with its offset
    return moment


async def remind(stack: Stack, booking_id: int, now: datetime) -> None:
    """What the gateway's scheduler does when a reminder job fires."""
    engine = build_engine(stack.settings.effective_database_url)
    try:
        async with httpx.AsyncClient() as client:
            job_runtime.configure(
                job_runtime.Runtime(
                    build_session_factory(engine),
                    stack.settings.timezone,
                    BackgroundScheduler(),
                    customers=job_channels.RasaConversations(stack.rasa_url, stack.token, client),
                    consultants=job_channels.LoggedNotices(),
                    clock=lambda: now,
                )
            )
            await reminders.send_reminder(booking_id, "reminder_24h")
    finally:
        job_runtime.configure(None)
        engine.dispose()


def bot_texts(stack: Stack, conversation: str) -> list[str]:
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/{conversation}/tracker",
        params={"token": stack.token},
        timeout=30,
    ).json()
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "bot"]


def sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_chinese_booking_moving_and_cancelling(stack: Stack) -> None:
    me = sender("zh")
    # "明天" is the dealer's tomorrow, whatever the machine's zone or the hour the test runs at.
    tomorrow = datetime.now(stack.settings.timezone).date() + timedelta(days=1)
    chat(stack, me, "你好")
    offered = buttons(stack, me, "我想预约试驾Q5L")
    assert len(offered) == 4  # the next free slots, as buttons
    time_reply, consent, name, phone, licence = chat(
        stack, me, "明天下午三点", "同意", "张伟", "13800138000", "有驾照"
    )
    assert "隐私说明" in time_reply[-1]
    assert consent[-1] == "请问您怎么称呼？"
    assert "手机号" in name[-1]
    assert "驾照" in phone[-1]
    assert "确认预约吗" in licence[-1]
    assert f"{tomorrow.month}月{tomorrow.day}日" in licence[-1]
    assert "15:00" in licence[-1]
    [booked] = chat(stack, me, "确认")
    assert "预约成功" in booked[-1]
    record = booking_of(stack, "+8613800138000")
    start = local(record["start"])
    assert (start.date(), start.hour, start.minute) == (tomorrow, 15, 0)
    assert local(record["end"]) - start == timedelta(hours=1)
    assert (record["model"], record["status"], record["customer_name"]) == ("Q5L", "booked", "张伟")
    assert record["consultant"]
    assert record["consultant"] in booked[-1]
    lead = lead_of(stack, "+8613800138000")
    assert (lead["id"], lead["status"]) == (record["lead_id"], "test_drive_booked")
    assert lead["consultant"] == record["consultant"]
    adf = etree.fromstring(cli(stack, "leads", "export", "--format", "adf").encode())
    assert adf.xpath('//vehicle[@interest="test-drive"]/model/text()') == ["Q5L"]

    # Moved in one sentence: the booking is found from the conversation.
    day_after = tomorrow + timedelta(days=1)
    [moved] = chat(stack, me, "试驾改到后天上午十点")
    assert "已为您改好" in moved[-1]
    assert "10:00" in moved[-1]
    record = booking_of(stack, "+8613800138000")
    assert (local(record["start"]).date(), local(record["start"]).hour) == (day_after, 10)
    assert record["status"] == "rescheduled"

    # Cancelled after a confirmation.
    confirm, cancelled = chat(stack, me, "我要取消试驾", "确定")
    assert "确定要取消" in confirm[-1]
    assert "已为您取消" in cancelled[-1]
    assert booking_of(stack, "+8613800138000")["status"] == "cancelled"
    assert lead_of(stack, "+8613800138000")["status"] == "qualified"


def test_english_booking_by_button(stack: Stack) -> None:
    me = sender("en")
    chat(stack, me, "hello")
    offered = buttons(stack, me, "I'd like to book a test drive of the A6L")
    assert offered
    choice = offered[1]
    replies = chat(
        stack, me, choice["payload"], "yes, I agree", "Michael Chen", "+86 139 1234 5678",
        "yes I have a licence",
    )  # fmt: skip
    assert "Shall I book it?" in replies[-1][-1]
    assert choice["title"] in replies[-1][-1]
    [booked] = chat(stack, me, "yes")
    assert booked[-1].startswith("Booked!")
    record = booking_of(stack, "+8613912345678")
    assert (record["model"], record["customer_name"], record["status"]) == (
        "A6L",
        "Michael Chen",
        "booked",
    )
    assert record["start"] == json.loads(choice["payload"].removeprefix("/inform"))["time"]

    # The 24-hour reminder reaches the conversation through Rasa, the way the scheduler sends it,
    # and the customer can go on talking afterwards.
    start = datetime.fromisoformat(record["start"])
    asyncio.run(remind(stack, record["id"], start - timedelta(hours=24)))
    said = bot_texts(stack, me)
    assert said[-1].startswith("Reminder from Test Audi Centre")
    assert "A6L" in said[-1]
    [welcome] = chat(stack, me, "thanks!")
    assert welcome[-1].startswith("You're welcome")

    # Another conversation with the number proves nothing: without an SMS provider for a code,
    # a consultant calls the number first, and nothing changes meanwhile.
    other = sender("en-other")
    chat(stack, other, "hi")
    [ask_phone] = chat(stack, other, "please cancel my test drive")
    assert "mobile number" in ask_phone[-1]
    [handed] = chat(stack, other, "13912345678")
    assert "a consultant will call the number ending 5678" in handed[-1]
    assert "A6L" not in " ".join(handed)
    assert booking_of(stack, "+8613912345678")["status"] == "booked"
    # The conversation that made it cancels it.
    confirm, cancelled = chat(stack, me, "please cancel my test drive", "yes")
    assert "Cancel your test drive of the A6L" in confirm[-1]
    assert "is cancelled" in cancelled[-1]
    assert booking_of(stack, "+8613912345678")["status"] == "cancelled"


def test_a_model_without_demo_car_and_impossible_dates(stack: Stack) -> None:
    me = sender("bad")
    chat(stack, me, "你好")
    [no_car] = chat(stack, me, "想试驾一下Q8")
    assert "没有试驾车" in " ".join(no_car)
    [impossible] = chat(stack, me, "试驾A4L")
    assert impossible  # asks for the time
    [bad_date] = chat(stack, me, "2月30日下午")
    assert "不存在" in bad_date[0]
    [past] = chat(stack, me, "昨天下午三点")
    assert "已经过去" in " ".join(past)
    assert "最近的空闲时段" in " ".join(past)
    # Nothing was booked for this conversation.
    records = json.loads(cli(stack, "bookings", "export", "--format", "json"))
    assert not [r for r in records if r["model"] in ("Q8", "A4L")]


def test_not_now_stops_the_booking(stack: Stack) -> None:
    """A "no" to "when would you like to come?" stops the booking; it is not asked again."""
    me = sender("notnow")
    [asked] = chat(stack, me, "想试驾A4L")
    assert "什么时候" in " ".join(asked)
    [stopped] = chat(stack, me, "现在不用了")
    assert "先不预约试驾了" in " ".join(stopped)
    assert "什么时候" not in " ".join(stopped)
    [after] = chat(stack, me, "A4L多少钱")
    assert "什么时候" not in " ".join(after)
    en = sender("notnow-en")
    chat(stack, en, "I'd like to test drive the Q5L")
    [stopped_en] = chat(stack, en, "not right now")
    assert "won't book a test drive" in " ".join(stopped_en)
