"""Telegram end to end: the real gateway (webhook mode) against a local fake of the Bot API, the
trained model, the action server and the database. Customers chat in both languages; a lead is
handed off, two consultants race to claim it, messages are relayed both ways, staff commands
answer staff only, forged webhooks are refused."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import socketio
from sqlalchemy import select

from crm_bridge import handoff, leads, staff
from crm_bridge.db import build_engine, build_session_factory, transaction
from crm_bridge.models import (
    Delivery,
    Handoff,
    InboundUpdate,
    Lead,
    LeadEvent,
    Staff,
    VerifiedPhone,
)
from tests.integration.stack import Stack, cli, export, running_stack, telegram_settings
from tests.telegram_fake import (
    TelegramFake,
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

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-for-tests"
SALES_CHAT = -1001234567
WANG = user(5001, "王磊", "zh")
LI = user(5002, "Li Na", "en")
BOSS = user(5003, "赵经理", "zh")


class TelegramStack:
    """The stack with its fake Bot API and the gateway's webhook."""

    def __init__(self, stack: Stack, fake: TelegramFake) -> None:
        self.stack = stack
        self.fake = fake
        self.url = f"http://127.0.0.1:{stack.settings.gateway_port}/telegram/webhook"

    def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        return post_webhook(self.url, update, secret)

    def db(self) -> Any:
        engine = build_engine(self.stack.settings.effective_database_url)
        return build_session_factory(engine)()

    def replies_after(
        self, chat_id: int, since: float, count: int = 1, timeout: float = 60
    ) -> list[dict[str, Any]]:
        """The bot's messages to a chat sent after ``since`` (waiting for ``count`` of them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = [
                c
                for c in self.fake.calls
                if c.method in ("sendMessage", "sendPhoto")
                and c.ok
                and c.at > since
                and str(c.params.get("chat_id")) == str(chat_id)
            ]
            if len(calls) >= count:
                time.sleep(1.0)  # the rest of the turn
                return [
                    c.params
                    for c in self.fake.calls
                    if c.method in ("sendMessage", "sendPhoto")
                    and c.ok
                    and c.at > since
                    and str(c.params.get("chat_id")) == str(chat_id)
                ]
            time.sleep(0.1)
        raise AssertionError(f"no reply to {chat_id}:\n{self.stack.log_tail()}")

    def wait_done(self, update_id: int, timeout: float = 90) -> None:
        """Until the gateway has finished the update (every reply sent)."""
        deadline = time.monotonic() + timeout
        with self.db() as session:
            while time.monotonic() < deadline:
                row = session.get(InboundUpdate, update_id, populate_existing=True)
                if row is not None and row.state == "done":
                    return
                session.rollback()
                time.sleep(0.2)
        raise AssertionError(f"update {update_id} not finished:\n{self.stack.log_tail()}")

    def say(self, who: dict[str, Any], text: str) -> list[dict[str, Any]]:
        since = time.time()
        update = text_update(who, text)
        assert self.post(update) == 200
        self.wait_done(update["update_id"])
        return self.replies_after(who["id"], since)


@pytest.fixture(scope="module")
def tg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelegramStack]:
    with running_telegram_fake() as fake:
        settings = telegram_settings(
            tmp_path_factory.mktemp("telegram"),
            fake.base_url,
            fake.token,
            telegram_webhook_secret=SECRET,
            telegram_sales_chat_id=SALES_CHAT,
        )
        with running_stack(settings, with_gateway=True) as stack:
            running = TelegramStack(stack, fake)
            for who, role in ((WANG, "consultant"), (LI, "consultant"), (BOSS, "manager")):
                result = cli(
                    stack,
                    "staff",
                    "add",
                    "--telegram-id",
                    str(who["id"]),
                    "--name",
                    who["first_name"],
                    "--role",
                    role,
                )
                assert result.returncode == 0, result.stderr
            yield running


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("text") or r.get("caption") or "") for r in replies)


def test_the_webhook_is_set_with_its_secret(tg: TelegramStack) -> None:
    call = tg.fake.wait_for("setWebhook")
    assert call.params["url"] == "https://dealer.example/telegram/webhook"
    assert call.params["secret_token"] == SECRET


def test_a_forged_or_unsigned_update_is_refused_and_not_processed(tg: TelegramStack) -> None:
    stranger = user(9101, "Mallory", "en")
    forged, unsigned = text_update(stranger, "hello"), text_update(stranger, "hello")
    assert tg.post(forged, secret="not-the-secret") == 403
    assert tg.post(unsigned, secret=None) == 403
    time.sleep(2)
    assert tg.fake.texts_to(stranger["id"]) == []
    with tg.db() as session:
        ids = {forged["update_id"], unsigned["update_id"]}
        assert (
            session.scalars(select(InboundUpdate).where(InboundUpdate.update_id.in_(ids))).all()
            == []
        )


def test_a_chinese_customer_chats_with_buttons(tg: TelegramStack) -> None:
    buyer = user(7001, "小张", "zh")
    greeting = tg.say(buyer, "你好")
    assert "您好" in texts(greeting)
    assert all(r.get("parse_mode") == "HTML" for r in greeting if "text" in r)
    tg.fake.wait_for("sendChatAction", lambda c: str(c.params["chat_id"]) == "7001")
    info = tg.say(buyer, "介绍一下Q5L")
    with_buttons = [r for r in info if r.get("reply_markup")]
    assert with_buttons, info
    [message] = [m for m in tg.fake.messages_to(7001) if m.get("reply_markup")][-1:]
    first = message["reply_markup"]["inline_keyboard"][0][0]
    since = time.time()
    press = callback_update(buyer, first["callback_data"], message)
    assert tg.post(press) == 200
    tg.wait_done(press["update_id"])
    answered = tg.fake.wait_for("answerCallbackQuery")
    assert answered.params["callback_query_id"] == press["callback_query"]["id"]
    after = tg.replies_after(7001, since)
    assert texts(after)


def test_non_text_updates_get_an_answer_in_the_customers_language(tg: TelegramStack) -> None:
    zh, en = user(7002, "小李", "zh"), user(7003, "Tom", "en")
    since = time.time()
    tg.post(sticker_update(zh))
    assert "车型" in texts(tg.replies_after(7002, since))
    since = time.time()
    tg.post(voice_update(en))
    assert "type" in texts(tg.replies_after(7003, since))
    since = time.time()
    tg.post(edited_text_update(en, "actually the Q7"))
    assert "edit" in texts(tg.replies_after(7003, since))
    since = time.time()
    tg.post(photo_update(en))
    assert "pictures" in texts(tg.replies_after(7003, since))
    since = time.time()
    tg.post(location_update(zh))
    assert "地址" in texts(tg.replies_after(7002, since))
    since = time.time()
    tg.post(group_text_update(en, -555, "hi bot"))
    assert "message me directly" in texts(tg.replies_after(-555, since))
    since = time.time()
    tg.post(my_chat_member_update(zh, -556))
    assert "请私聊我" in texts(tg.replies_after(-556, since))


def test_someone_elses_contact_is_not_taken(tg: TelegramStack) -> None:
    buyer = user(7004, "Amy", "en")
    since = time.time()
    tg.post(contact_update(buyer, "8613912340000", contact_user_id=999))
    assert "someone else" in texts(tg.replies_after(7004, since))
    with tg.db() as session:
        assert (
            session.scalars(
                select(VerifiedPhone).where(VerifiedPhone.sender_id == "telegram:7004")
            ).all()
            == []
        )


def _claim_race(tg: TelegramStack, card: dict[str, Any]) -> None:
    data = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    presses = [callback_update(WANG, data, card), callback_update(LI, data, card)]
    threads = [threading.Thread(target=tg.post, args=(p,)) for p in presses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_an_english_lead_is_handed_off_claimed_once_and_relayed(tg: TelegramStack) -> None:
    buyer = user(7005, "Michael", "en")
    tg.say(buyer, "Hi there")
    for turn in (
        "Could a sales consultant call me back about the Q7?",
        "around 800k",
        "within a month",
        "lease",
        "no",
        "yes, that's fine",
    ):
        tg.say(buyer, turn)
    asked = tg.say(buyer, "Michael Chen")
    keyboard = asked[-1].get("reply_markup") or {}
    assert keyboard.get("keyboard", [[{}]])[0][0].get("request_contact") is True, asked
    # The customer shares their own number: it fills the phone and counts as verified.
    since = time.time()
    tg.post(contact_update(buyer, "8613912345678", contact_user_id=buyer["id"]))
    done = tg.replies_after(7005, since, count=2)
    assert "+8613912345678" in texts(done)
    assert "consultant" in texts(done)
    with tg.db() as session:
        [proof] = session.scalars(
            select(VerifiedPhone).where(VerifiedPhone.sender_id == "telegram:7005")
        ).all()
        assert (proof.phone, proof.via) == ("+8613912345678", "telegram_contact")
    # The lead card reaches the sales chat with a Claim button; two consultants race for it.
    card_call = tg.fake.wait_for(
        "sendMessage", lambda c: str(c.params["chat_id"]) == str(SALES_CHAT), timeout=30
    )
    assert "Michael Chen" in card_call.params["text"]
    [card] = [m for m in tg.fake.messages_to(SALES_CHAT) if m.get("reply_markup")][-1:]
    _claim_race(tg, card)
    with tg.db() as session:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            [handoff] = session.scalars(
                select(Handoff).where(Handoff.sender_id == "telegram:7005")
            ).all()
            if handoff.state == "claimed":
                break
            session.expire_all()
            time.sleep(0.2)
        assert handoff.state == "claimed"
        owner = handoff.owner.telegram_user_id
        lead = session.get(Lead, handoff.lead_id)
        assert lead is not None
        assert lead.status == "handed_off"
    # Exactly one claim won; the other consultant was told who has the lead.
    time.sleep(2)
    answers = tg.fake.calls_of("answerCallbackQuery")[-2:]
    alerts = sorted(str(a.params.get("show_alert")).lower() for a in answers)
    assert alerts == ["false", "true"], answers
    [lost] = [a for a in answers if str(a.params.get("show_alert")).lower() == "true"]
    loser = LI if owner == WANG["id"] else WANG
    winner = WANG if owner == WANG["id"] else LI
    assert winner["first_name"] in lost.params["text"]
    edited = tg.fake.messages_to(SALES_CHAT)[-1]
    assert winner["first_name"] in edited["text"]
    # While the consultant handles the chat the assistant is quiet and the customer's words
    # reach the consultant, tagged with the lead.
    since = time.time()
    tg.post(text_update(buyer, "Do you have the Q7 in white?"))
    relayed = tg.replies_after(owner, since)
    assert "Do you have the Q7 in white?" in texts(relayed)
    assert f"#{handoff.lead_id}" in texts(relayed)
    assert tg.fake.texts_to(loser["id"]) == [] or "white" not in " ".join(
        tg.fake.texts_to(loser["id"])
    )
    # What the consultant writes reaches the customer.
    since = time.time()
    tg.post(text_update(winner, "Yes, one Glacier White Q7 is in stock."))
    to_customer = tg.replies_after(7005, since)
    assert "Glacier White" in texts(to_customer)
    assert winner["first_name"] in texts(to_customer)
    [record] = [r for r in export(tg.stack, "leads") if r["phone"] == "+8613912345678"]
    assert (record["status"], record["consultant"]) == ("contacted", winner["first_name"])
    # A photo of the car and the showroom's location go through as they are.
    photo = photo_update(winner, file_id="AgACcarPhoto01", caption="This one")
    tg.post(photo)
    sent_photo = tg.fake.wait_for(
        "sendPhoto", lambda c: str(c.params["chat_id"]) == "7005", timeout=30
    )
    assert sent_photo.params["photo"] == "AgACcarPhoto01"
    assert "This one" in sent_photo.params["caption"]
    tg.post(location_update(winner, 31.2304, 121.4737))
    spot = tg.fake.wait_for(
        "sendLocation", lambda c: str(c.params["chat_id"]) == "7005", timeout=30
    )
    assert (spot.params["latitude"], spot.params["longitude"]) == (31.2304, 121.4737)
    # The customer's photo reaches the consultant too.
    tg.post(photo_update(buyer, caption="my current car"))
    tg.fake.wait_for("sendPhoto", lambda c: str(c.params["chat_id"]) == str(owner), timeout=30)
    assert "my current car" in texts(tg.replies_after(owner, time.time() - 5))
    # /done hands the customer back; the assistant greets them again.
    since = time.time()
    tg.post(text_update(winner, "/done"))
    back = tg.replies_after(7005, since)
    assert "assistant" in texts(back).lower()
    with tg.db() as session:
        assert session.get(Handoff, handoff.id).state == "done"


def test_staff_commands_answer_staff_only(tg: TelegramStack) -> None:
    since = time.time()
    tg.post(text_update(BOSS, "/help"))
    assert "/unclaimed" in texts(tg.replies_after(BOSS["id"], since))
    stranger = user(9102, "Eve", "en")
    for command in ("/leads", "/unclaimed", "/lead 1", "/today"):
        since = time.time()
        tg.post(text_update(stranger, command))
        [answer] = tg.replies_after(stranger["id"], since)
        assert answer["text"] == "This command is for the dealership's sales team."


class WebChat:
    """A web chat visitor: Rasa's socket.io channel, as the rasa-webchat widget speaks it."""

    def __init__(self, rasa_url: str) -> None:
        self.session_id = ""
        self.said: list[str] = []
        confirmed = threading.Event()

        def _confirmed(session_id: str) -> None:
            self.session_id = session_id
            confirmed.set()

        self.client = socketio.Client()
        self.client.on("bot_uttered", self._heard)
        self.client.on("session_confirm", _confirmed)
        self.client.connect(rasa_url, socketio_path="/socket.io", transports=["websocket"])
        # Rasa accepts only session ids the gateway signed: asked for none, it confirms one.
        self.client.emit("session_request", {"session_id": None})
        assert confirmed.wait(10), "no session_confirm"

    def _heard(self, data: dict[str, Any]) -> None:
        self.said.append(str(data.get("text") or ""))

    def say(self, text: str) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def wait_for(self, contains: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.said:
                if contains in line:
                    return line
            time.sleep(0.1)
        raise AssertionError(f"{contains!r} not said; heard {self.said}")


def test_a_web_chat_complaint_is_relayed_both_ways(tg: TelegramStack) -> None:
    web = WebChat(tg.stack.rasa_url)
    try:
        web.say("我要投诉，你们销售的服务态度太差了")
        web.wait_for("抱歉")
        with tg.db() as session:
            deadline = time.monotonic() + 20
            while (
                not (
                    found := session.scalars(
                        select(Handoff).where(Handoff.sender_id == web.session_id)
                    ).all()
                )
                and time.monotonic() < deadline
            ):
                time.sleep(0.3)
            [handoff] = found
            assert (handoff.reason, handoff.channel) == ("complaint", "web")
        card = tg.fake.wait_for(
            "sendMessage",
            # The lead card (with its Claim button), not the complaint ticket's alert, which also
            # says 投诉 and may come first.
            lambda c: (
                str(c.params["chat_id"]) == str(SALES_CHAT)
                and "投诉" in c.params["text"]
                and bool(c.params.get("reply_markup"))
            ),
            timeout=30,
        )
        message = next(
            m for m in tg.fake.messages_to(SALES_CHAT) if m["message_id"] == card_id(tg, card)
        )
        data = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        claimed_at = time.time()
        tg.post(callback_update(WANG, data, message))
        assert "线索已归您" in texts(tg.replies_after(WANG["id"], claimed_at, count=2))
        # The visitor's next words reach the consultant, and the assistant stays quiet.
        heard_before = len(web.said)
        since = time.time()
        web.say("有人在吗？")
        assert "有人在吗？" in texts(tg.replies_after(WANG["id"], since))
        time.sleep(2)
        assert len(web.said) == heard_before
        # The consultant answers in Telegram; the visitor reads it in the web chat.
        tg.post(text_update(WANG, "您好，我是王磊，非常抱歉，我马上帮您处理。"))
        assert "王磊" in web.wait_for("马上帮您处理")
    finally:
        web.client.disconnect()


def card_id(tg: TelegramStack, call: Any) -> int:
    """The message id the fake gave a sendMessage call's message."""
    sent = [m for m in tg.fake.messages_to(SALES_CHAT) if m.get("text") and m.get("reply_markup")]
    return int(sent[-1]["message_id"])


def a_handed_off_rest_lead(tg: TelegramStack, phone: str, owner_telegram_id: int) -> int:
    """A REST customer's lead, handed off and claimed (written as the action server would)."""
    now = datetime.now(UTC)
    update = leads.LeadUpdate(
        consent=True,
        channel="rest",
        language="zh",
        name="周杰",
        phone=phone,
        model_interest=["A6L"],
        purchase_timeline_days=20,
    )
    engine = build_engine(tg.stack.settings.effective_database_url)
    try:
        with transaction(build_session_factory(engine)) as session:
            sender = f"rest-{phone}"
            lead = leads.record_lead(session, sender, update, "test", now)
            assert lead is not None
            opened = handoff.request(
                session,
                sender_id=sender,
                reason="person",
                at=now,
                zone="Asia/Shanghai",
                claim_minutes=10,
                channel="rest",
            )
            owner = staff.by_telegram(session, owner_telegram_id)
            assert owner is not None
            assert handoff.claim(session, opened["handoff_id"], owner, now, 10).won
            return lead.id
    finally:
        engine.dispose()


def command(tg: TelegramStack, who: dict[str, Any], text: str) -> str:
    since = time.time()
    assert tg.post(text_update(who, text)) == 200
    return texts(tg.replies_after(who["id"], since))


def test_staff_commands_work_on_the_leads_staff_may_see(tg: TelegramStack) -> None:
    lead_id = a_handed_off_rest_lead(tg, "+8613700001111", WANG["id"])
    assert f"#{lead_id}" in command(tg, WANG, "/leads")
    assert "周杰" in command(tg, WANG, f"/lead {lead_id}")
    # Another consultant's lead is as unknown as one that does not exist.
    assert "Not found" in command(tg, LI, f"/lead {lead_id}")
    assert "周杰" not in command(tg, LI, "/leads")
    # A REST customer cannot be written to: the reply becomes a call-back task on the lead.
    assert "回电任务" in command(tg, WANG, f"/reply {lead_id} 明天上午十点给您回电")
    assert "明天上午十点给您回电" in command(tg, WANG, f"/lead {lead_id}")  # what was relayed
    assert "已记录" in command(tg, WANG, f"/status {lead_id} visited level A")
    assert "用法" in command(tg, WANG, f"/status {lead_id} maybe")
    assert "已记录交车" in command(tg, WANG, f"/delivered {lead_id} A6L LFV3A28W0N3012345")
    assert "找不到" in command(tg, WANG, "/testdrive 999999 completed")
    today = command(tg, WANG, "/today")
    assert today == "暂无。" or re.match(r"\d+ \d\d:\d\d ", today), today
    [record] = [r for r in export(tg.stack, "leads") if r["phone"] == "+8613700001111"]
    assert (record["status"], record["level"], record["consultant"]) == ("won", "A", "王磊")
    with tg.db() as session:
        kinds = set(session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id)))
        assert {"handoff", "claimed", "callback", "visited", "status"} <= kinds
        assert session.scalar(select(Delivery.vin).where(Delivery.lead_id == lead_id)) == (
            "LFV3A28W0N3012345"
        )


def test_managers_see_unclaimed_leads_and_reassign(tg: TelegramStack) -> None:
    lead_id = a_handed_off_rest_lead(tg, "+8613700002222", WANG["id"])
    assert "经理" in command(tg, WANG, "/unclaimed")  # for managers only
    command(tg, BOSS, "/unclaimed")
    since = time.time()
    assert "已记录" in command(tg, BOSS, f"/reassign {lead_id} Li Na")
    assert f"#{lead_id}" in texts(tg.replies_after(LI["id"], since))
    with tg.db() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.owner_id is not None
        assert session.get(Staff, lead.owner_id).name == "Li Na"


def test_a_stranger_pressing_claim_is_refused(tg: TelegramStack) -> None:
    cards = [m for m in tg.fake.messages_to(SALES_CHAT) if m.get("reply_markup")]
    card = (
        cards[-1]
        if cards
        else {
            "message_id": 1,
            "chat": {"id": SALES_CHAT, "type": "group"},
            "date": 0,
            "text": "card",
        }
    )
    press = callback_update(user(9103, "Trudy", "en"), "claim:1", card)
    assert tg.post(press) == 200
    answer = tg.fake.wait_for(
        "answerCallbackQuery",
        lambda c: c.params["callback_query_id"] == press["callback_query"]["id"],
    )
    assert answer.params["text"] == "Only the dealership's sales team can claim leads."
