"""The Telegram Bot API fake, driven by python-telegram-bot's own Bot over the wire, and its update
builders parsed by python-telegram-bot."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    CallbackQuery,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from tests.telegram_fake import (
    BOT_USERNAME,
    TINY_JPEG,
    TOKEN,
    TelegramFake,
    Upload,
    callback_update,
    contact_update,
    edited_text_update,
    group_text_update,
    location_update,
    my_chat_member_update,
    photo_update,
    post_webhook,
    running_telegram_fake,
    sticker_update,
    text_update,
    user,
    voice_update,
)

CHAT = 424242
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("预约试驾", callback_data="book:a6l")]])


@pytest.fixture
def fake() -> Iterator[TelegramFake]:
    with running_telegram_fake() as running:
        yield running


def make_bot(fake: TelegramFake, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot")


@asynccontextmanager
async def connected(fake: TelegramFake) -> AsyncIterator[Bot]:
    async with make_bot(fake) as bot:  # initialize() calls getMe
        yield bot


async def test_get_me_and_send_message_with_inline_keyboard(fake: TelegramFake) -> None:
    async with connected(fake) as bot:
        me = await bot.get_me()
        sent = await bot.send_message(CHAT, "您好，欢迎来到奥迪展厅", reply_markup=KEYBOARD)
        second = await bot.send_message(CHAT, "<b>A6L</b> 现车 &amp; 优惠", parse_mode="HTML")
    assert me.is_bot
    assert me.username == BOT_USERNAME
    assert me.id == 123456789
    assert sent.message_id == 1
    assert second.message_id == 2
    assert sent.chat.id == CHAT
    assert sent.chat.type == "private"
    assert sent.from_user is not None
    assert sent.from_user.username == BOT_USERNAME
    assert sent.reply_markup == KEYBOARD
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "book:a6l"
    call = fake.calls_of("sendMessage")[0]
    assert call.ok
    assert call.params["chat_id"] == CHAT
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "预约试驾", "callback_data": "book:a6l"}]]
    }
    assert fake.texts_to(CHAT) == ["您好，欢迎来到奥迪展厅", "A6L 现车 & 优惠"]
    assert fake.texts_to(str(CHAT)) == fake.texts_to(CHAT)
    assert [c.method for c in fake.calls] == ["getMe", "getMe", "sendMessage", "sendMessage"]


async def test_edits_update_the_stored_message(fake: TelegramFake) -> None:
    async with connected(fake) as bot:
        sent = await bot.send_message(CHAT, "请选择车型", reply_markup=KEYBOARD)
        edited = await bot.edit_message_text("已选择 A6L", chat_id=CHAT, message_id=sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("已选择 A6L", chat_id=CHAT, message_id=sent.message_id)
        restored = await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=KEYBOARD)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
        assert await bot.delete_message(CHAT, sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "已选择 A6L"
    assert edited.reply_markup is None
    assert edited.edit_date is not None
    assert not isinstance(restored, bool)
    assert restored.reply_markup == KEYBOARD
    assert fake.messages_to(CHAT) == []
    assert [c.status for c in fake.calls_of("editMessageText")] == [200, 400, 400]


async def test_callback_answer_chat_action_photo_location_and_file_download(
    fake: TelegramFake,
) -> None:
    async with connected(fake) as bot:
        assert await bot.answer_callback_query("cq-1", text="已预约", show_alert=True)
        assert await bot.send_chat_action(CHAT, ChatAction.TYPING)
        photo = await bot.send_photo(CHAT, photo=b"\xff\xd8 A6L photo", caption="外观 <i>图</i>")
        by_id = await bot.send_photo(CHAT, photo=photo.photo[-1].file_id)
        place = await bot.send_location(CHAT, latitude=31.2304, longitude=121.4737)
        contact = await bot.send_contact(CHAT, phone_number="+862168880000", first_name="展厅")
        recaptioned = await bot.edit_message_caption(CHAT, photo.message_id, caption="内饰")
        with pytest.raises(BadRequest, match=r"(?i)there is no text in the message to edit"):
            await bot.edit_message_text("不行", chat_id=CHAT, message_id=photo.message_id)
        file = await bot.get_file(photo.photo[-1].file_id)
        content = await file.download_as_bytearray()
        other = await (await bot.get_file("some-user-photo")).download_as_bytearray()
    answer = fake.calls_of("answerCallbackQuery")[0].params
    assert answer == {"callback_query_id": "cq-1", "text": "已预约", "show_alert": True}
    assert fake.calls_of("sendChatAction")[0].params["action"] == "typing"
    upload = fake.calls_of("sendPhoto")[0].params["photo"]
    assert isinstance(upload, Upload)
    assert upload.content == b"\xff\xd8 A6L photo"
    assert photo.caption == "外观 <i>图</i>"  # no parse_mode: kept as sent
    assert by_id.photo[-1].file_id == photo.photo[-1].file_id
    assert place.location is not None
    assert place.location.longitude == pytest.approx(121.4737)
    assert contact.contact is not None
    assert contact.contact.phone_number == "+862168880000"
    assert file.file_path is not None
    assert file.file_path.startswith(f"{fake.base_url}/file/bot")
    assert bytes(content) == b"\xff\xd8 A6L photo"
    assert bytes(other) == TINY_JPEG
    assert not isinstance(recaptioned, bool)
    assert recaptioned.caption == "内饰"
    assert fake.texts_to(CHAT) == ["内饰"]  # captions count, photos without do not


async def test_get_updates_offsets_and_long_poll(fake: TelegramFake) -> None:
    customer = user(7001, "李雷")
    first, second = text_update(customer, "/start"), text_update(customer, "我想试驾")
    fake.queue_update(first)
    fake.queue_update(second)
    async with connected(fake) as bot:
        updates = await bot.get_updates()
        assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
        assert updates[0].message is not None
        assert updates[0].message.text == "/start"
        offset = second["update_id"] + 1
        assert await bot.get_updates(offset=offset) == ()
        started = time.monotonic()
        assert await bot.get_updates(offset=offset, timeout=1) == ()
        assert time.monotonic() - started >= 0.9
        third = text_update(customer, "A6L 多少钱")
        asyncio.get_running_loop().call_later(0.3, fake.queue_update, third)
        started = time.monotonic()
        woken = await bot.get_updates(offset=offset, timeout=10)
        assert time.monotonic() - started < 5
        assert [u.update_id for u in woken] == [third["update_id"]]


async def test_webhook_settings_and_conflict_with_polling(fake: TelegramFake) -> None:
    fake.queue_update(text_update(user(7002), "你好"))
    async with connected(fake) as bot:
        assert await bot.set_webhook("https://bot.example.cn/telegram", secret_token="s3cr-et_")
        info = await bot.get_webhook_info()
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        with pytest.raises(BadRequest, match=r"(?i)secret token"):
            await bot.set_webhook("https://bot.example.cn/telegram", secret_token="no spaces")
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates() == ()
    assert info.url == "https://bot.example.cn/telegram"
    assert info.pending_update_count == 1
    assert fake.webhook_url == ""
    assert fake.webhook_secret is None


async def test_failures_on_demand(fake: TelegramFake) -> None:
    async with connected(fake) as bot:
        fake.fail_next("sendMessage", 429, retry_after=3)
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(CHAT, "限流")
        fake.fail_next("SENDMESSAGE", 502, times=2)
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(CHAT, "网关")
        fake.fail_next("sendMessage", 403)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(CHAT, "拉黑")
        await bot.send_message(CHAT, "恢复")
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(CHAT, "长" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(CHAT, "   ")
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("长", callback_data="预约" * 11)]])
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):  # 66 bytes of data
            await bot.send_message(CHAT, "按钮", reply_markup=too_long)
    assert "3" in str(retry.value)
    assert [c.status for c in fake.calls_of("sendMessage")] == [
        429,
        502,
        502,
        403,
        200,
        400,
        400,
        400,
    ]
    assert fake.texts_to(CHAT) == ["恢复"]


async def test_wrong_token_is_rejected(fake: TelegramFake) -> None:
    bot = make_bot(fake, token="987654321:" + "B" * 35)
    try:
        with pytest.raises(InvalidToken):
            await bot.initialize()
    finally:
        await bot.shutdown()
    assert fake.calls == []


def test_raw_wire_format(fake: TelegramFake) -> None:
    api = f"{fake.base_url}/bot{TOKEN}"
    wrong = httpx.post(f"{fake.base_url}/bot111:{'C' * 35}/getMe")
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    unknown = httpx.post(f"{api}/sendTelepathy", json={})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    markup = {"inline_keyboard": [[{"text": "看车", "url": "https://audi.example.cn"}]]}
    group = {"chat_id": -5, "text": "群消息", "reply_markup": markup}
    by_json = httpx.post(f"{api}/sendmessage", json=group)
    assert by_json.status_code == 200
    assert by_json.json()["ok"] is True
    result = by_json.json()["result"]
    assert result["chat"] == {"id": -5, "type": "group", "title": "试驾群"}
    assert result["reply_markup"] == markup
    assert isinstance(result["date"], int)
    by_get = httpx.get(f"{api}/SendMessage", params={"chat_id": "-1001234", "text": "超级群"})
    assert by_get.json()["result"]["chat"]["type"] == "group"
    assert by_get.json()["result"]["message_id"] == 1  # per chat
    no_chat = httpx.post(f"{api}/sendMessage", data={"text": "hi"})
    assert no_chat.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat_id is empty",
    }
    reply_keyboard = '{"keyboard": [[{"text": "分享手机号", "request_contact": true}]]}'
    form = {"chat_id": "9", "text": "请分享", "reply_markup": reply_keyboard}
    plain = httpx.post(f"{api}/sendMessage", data=form)
    assert "reply_markup" not in plain.json()["result"]  # only inline keyboards are echoed
    assert fake.calls_of("sendMessage")[-1].params["reply_markup"]["keyboard"][0][0]["text"]
    assert httpx.get(f"{fake.base_url}/file/bot{TOKEN}/photos/x.jpg").content == TINY_JPEG
    assert httpx.get(f"{fake.base_url}/file/bot{TOKEN}/secrets.txt").status_code == 404


def test_waiting_for_calls_and_texts(fake: TelegramFake) -> None:
    api = f"{fake.base_url}/bot{TOKEN}"

    def reply_later() -> None:
        time.sleep(0.2)
        httpx.post(
            f"{api}/sendMessage", json={"chat_id": CHAT, "text": "您的试驾已预约：周六 10:00"}
        )

    since = time.time()
    threading.Thread(target=reply_later).start()
    message = fake.wait_for_text(CHAT, "已预约", timeout=5)
    call = fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == CHAT, since=since)
    assert message["text"].endswith("10:00")
    assert call.params["text"] == message["text"]
    with pytest.raises(AssertionError, match="sendMessage"):
        fake.wait_for("deleteMessage", timeout=0.2)
    with pytest.raises(AssertionError, match="'x' to 424243"):
        fake.wait_for_text(CHAT + 1, "x", timeout=0.1)
    with pytest.raises(AssertionError):
        fake.wait_for("sendMessage", since=time.time() + 1, timeout=0.1)
    fake.reset()
    assert fake.calls == []
    assert fake.messages_to(CHAT) == []


def test_env_points_at_the_fake(fake: TelegramFake) -> None:
    assert fake.env() == {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url}
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert len(TOKEN.split(":")[1]) == 35


def test_post_webhook_sends_the_secret_header() -> None:
    received: list[tuple[str | None, bytes]] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
            self.send_response(200 if received[-1][0] == "s3cret" else 403)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/telegram"
        update = text_update(user(7003), "你好")
        assert post_webhook(url, update, "s3cret") == 200
        assert post_webhook(url, update) == 403
    finally:
        server.shutdown()
        server.server_close()
    assert received[0][0] == "s3cret"
    assert received[1][0] is None
    assert b'"update_id"' in received[0][1]


async def test_builders_parse_in_python_telegram_bot(fake: TelegramFake) -> None:
    customer = user(7004, "韩梅梅", username="meimei")
    async with connected(fake) as bot:
        sent = await bot.send_message(customer["id"], "选择门店", reply_markup=KEYBOARD)
        bot_message = fake.messages_to(customer["id"])[0]

        def parse(data: dict[str, Any]) -> Update:
            update = Update.de_json(data, bot)
            assert update.update_id == data["update_id"]
            return update

        start = parse(text_update(customer, "/start campaign", update_id=555))
        assert start.update_id == 555
        assert start.effective_chat is not None
        assert start.effective_chat.type == "private"
        assert start.effective_chat.id == 7004
        assert start.message is not None
        assert start.message.text == "/start campaign"
        assert start.message.entities[0].type == "bot_command"
        assert start.message.entities[0].length == len("/start")
        assert start.effective_user is not None
        assert start.effective_user.language_code == "zh"

        own = parse(contact_update(customer, "+8613800138000", customer["id"]))
        assert own.message is not None
        assert own.message.contact is not None
        assert own.message.contact.user_id == 7004
        other = parse(contact_update(customer, "+8613900139000", 8001, first_name="朋友"))
        assert other.message is not None
        assert other.message.contact is not None
        assert other.message.contact.user_id == 8001
        assert other.message.from_user is not None
        assert other.message.from_user.id == 7004
        stranger = parse(contact_update(customer, "+8613700137000", None))
        assert stranger.message is not None
        assert stranger.message.contact is not None
        assert stranger.message.contact.user_id is None

        press = parse(callback_update(customer, "book:a6l", bot_message))
        query = press.callback_query
        assert isinstance(query, CallbackQuery)
        assert query.data == "book:a6l"
        assert query.message is not None
        assert query.message.message_id == sent.message_id
        assert query.from_user.id == 7004

        sticker = parse(sticker_update(customer)).message
        assert sticker is not None
        assert sticker.sticker is not None
        photo = parse(photo_update(customer, file_id="user-photo-1", caption="车损")).message
        assert photo is not None
        assert photo.photo[-1].file_id == "user-photo-1"
        assert photo.caption == "车损"
        voice = parse(voice_update(customer)).message
        assert voice is not None
        assert voice.voice is not None
        assert voice.voice.duration == 3
        where = parse(location_update(customer)).message
        assert where is not None
        assert where.location is not None
        edited = parse(edited_text_update(customer, "改成周日", message_id=42)).edited_message
        assert edited is not None
        assert edited.message_id == 42
        assert edited.edit_date is not None
        group = parse(group_text_update(customer, -1001234567890, "/help@audi_demo_bot"))
        assert group.effective_chat is not None
        assert group.effective_chat.type == "supergroup"
        joined = parse(my_chat_member_update(customer, -5)).my_chat_member
        assert joined is not None
        assert isinstance(joined.new_chat_member, ChatMemberMember)
        assert joined.new_chat_member.user.username == BOT_USERNAME
        assert joined.chat.type == "group"
