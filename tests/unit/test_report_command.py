"""``/report`` in Telegram, against the fake Bot API: a manager gets the charts as one album with
the period and totals as its caption; consultants and strangers get no report."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from telegram import Update

from bot.channels.rasa import RasaClient
from bot.channels.telegram.application import build_application, register
from bot.channels.telegram.runtime import Telegram
from crm_bridge import staff
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.leads import log_event
from crm_bridge.models import Lead
from tests.conftest import make_settings
from tests.telegram_fake import (
    ApiError,
    Call,
    TelegramFake,
    Upload,
    _bad,
    running_telegram_fake,
    text_update,
    user,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=SHANGHAI)  # /report 7d: 11-24 .. 11-30
BOSS, WANG, STRANGER = user(5003, "赵经理"), user(5001, "王磊"), user(777, "路人")
BOSS_EN = user(5004, "Mary", "en")
PNG = b"\x89PNG\r\n\x1a\n"

Handle = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


def albums(fake: TelegramFake, plain: Handle, method: str, raw: dict[str, Any]) -> Any:
    """``sendMediaGroup`` as the Bot API takes it (photos uploaded as ``attach://`` parts),
    which the shared fake does not offer; every other method goes to the fake."""
    if method.lower() != "sendmediagroup":
        return plain(method, raw)
    started, media = time.time(), json.loads(raw.get("media") or "[]")
    try:
        if not 2 <= len(media) <= 10:
            raise _bad("wrong number of media: 2 to 10 are needed")
        sent = []
        for item in media:
            upload = raw.get(str(item.get("media", "")).removeprefix("attach://"))
            if item.get("type") != "photo" or not isinstance(upload, Upload):
                raise _bad("wrong file identifier/HTTP URL specified")
            photo = {"chat_id": raw["chat_id"], "photo": upload, "caption": item.get("caption"),
                     "parse_mode": item.get("parse_mode")}  # fmt: skip
            sent.append(fake._send_photo(photo))
        status, body = 200, {"ok": True, "result": sent}
    except ApiError as error:
        status, body = error.args[0], error.body()
    with fake._cond:
        fake.calls.append(Call("sendMediaGroup", raw | {"media": media}, started, status))
        fake._cond.notify_all()
    return status, body


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[TelegramFake]:
    with running_telegram_fake() as running:
        monkeypatch.setattr(running, "handle", partial(albums, running, running.handle))
        yield running


@pytest.fixture
def dealership(sessions: SessionFactory) -> SessionFactory:
    with transaction(sessions) as session:
        staff.add(session, staff.StaffEntry(5001, "王磊", "consultant"))
        staff.add(session, staff.StaffEntry(5003, "赵经理", "manager"))
        staff.add(session, staff.StaffEntry(5004, "Mary", "manager"))
        for days_ago, status in ((0, "won"), (3, "new"), (6, "new"), (7, "new"), (20, "lost")):
            lead = Lead(channel="telegram", status=status, created_at=NOW - timedelta(days_ago))
            session.add(lead)
            session.flush()
            if status != "new":
                log_event(session, lead, NOW, "test", "status", "status", "new", status)
    return sessions


@pytest.fixture
async def bot(
    tmp_path: Path, dealership: SessionFactory, fake: TelegramFake
) -> AsyncIterator[Callable[[dict[str, Any]], Any]]:
    """Hand an update to the registered handlers, as the gateway does."""
    settings = make_settings(
        tmp_path, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url
    )
    application = build_application(settings)
    async with httpx.AsyncClient() as client:
        rasa = RasaClient("http://127.0.0.1:9", "", "", client)
        register(Telegram(settings, dealership, rasa, application, clock=lambda: NOW))
        async with application:

            async def process(update: dict[str, Any]) -> None:
                await application.process_update(Update.de_json(update, application.bot))

            yield process


async def test_a_manager_gets_the_charts_as_one_album(bot: Any, fake: TelegramFake) -> None:
    await bot(text_update(BOSS, "/report"))
    [call] = fake.calls_of("sendMediaGroup")
    assert call.ok
    assert [item["type"] for item in call.params["media"]] == ["photo"] * 7
    photos = [m for m in fake.messages_to(BOSS["id"]) if "photo" in m]
    assert len(photos) == 7
    for item in call.params["media"]:
        upload = call.params[item["media"].removeprefix("attach://")]
        assert upload.content.startswith(PNG)
        assert len(upload.content) > 15_000
    caption = photos[0]["caption"]
    assert caption.startswith("📊 报表 2026-11-24 – 2026-11-30 (Asia/Shanghai)")
    # Created in the last 7 days: today's (won), 3 and 6 days ago; not 7 or 20 days ago.
    assert "新建线索 3 · 成交 1 · 战败 0" in caption
    assert "试驾到店率 —（0/0）" in caption
    assert all("caption" not in photo for photo in photos[1:])
    assert fake.calls_of("sendChatAction")[0].params["action"] == "upload_photo"


async def test_thirty_days_in_english(bot: Any, fake: TelegramFake) -> None:
    await bot(text_update(BOSS_EN, "/report 30d"))
    caption = fake.messages_to(BOSS_EN["id"])[0]["caption"]
    assert caption.startswith("📊 Report 2026-11-01 – 2026-11-30 (Asia/Shanghai)")
    assert "Leads 5 · won 1 · lost 1" in caption


async def test_no_report_for_consultants_strangers_or_unknown_periods(
    bot: Any, fake: TelegramFake
) -> None:
    await bot(text_update(WANG, "/report"))
    assert fake.texts_to(WANG["id"]) == ["此命令仅供经理使用。"]
    await bot(text_update(STRANGER, "/report 7d"))
    assert fake.texts_to(STRANGER["id"]) == ["此命令仅供本店销售团队使用。"]
    await bot(text_update(BOSS, "/report 90d"))
    assert fake.texts_to(BOSS["id"]) == ["用法：/report [7d|30d]（默认 7d，最近 7 天）"]
    assert fake.calls_of("sendMediaGroup") == []
