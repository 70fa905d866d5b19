"""The phone channel (channels/phone.py) on the real stack (Rasa, the action server, the gateway
and the database): Twilio Voice webhooks, signed by the ``twilio`` package's own validator,
answered in TwiML; whole calls in both languages; the calls the dealership places, through a
local stub of the provider's Calls API.

Rasa believes it is reached at ``PUBLIC`` (``PHONE_PUBLIC_URL``, as behind a proxy), so every
request is signed over that URL, not over the loopback address it is actually posted to.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.channels.phone.line import PhoneLine
from bot.jobs import runtime as job_runtime
from bot.jobs import surveys as survey_jobs
from bot.jobs.channels import LoggedNotices, RasaConversations
from crm_bridge import deliveries, identity, phone_calls
from crm_bridge.conversations import start_conversation
from crm_bridge.db import build_engine, build_session_factory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Booking, Handoff, Notification, Survey
from crm_bridge.opening import OpeningHours
from crm_bridge.surveys.config import cached
from tests.integration.stack import Stack, export, stack_in
from tests.sms_stub import ACCOUNT_SID, FROM_NUMBER, SmsStub, running_sms_stub

pytestmark = pytest.mark.integration

TOKEN = "phone-test-auth-token"
PUBLIC = "https://dealer.example.com"
WEBHOOK = "/webhooks/phone/webhook"
STATUS = "/webhooks/phone/status"
DEALER_LINE = "+862150001234"


@pytest.fixture(scope="module")
def provider() -> Iterator[SmsStub]:
    """The provider's REST API (calls placed by the dealership), as a local stub."""
    with running_sms_stub() as stub:
        stub.auth_token = TOKEN
        yield stub


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, provider: SmsStub) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("phone")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PUBLIC_BASE_URL", raising=False)  # the children copy the environment
        patch.delenv("PHONE_LANGUAGE", raising=False)  # the dealer's default: Chinese
        with stack_in(
            folder, with_gateway=True, twilio_auth_token=TOKEN, phone_public_url=PUBLIC,
            twilio_account_sid=ACCOUNT_SID, twilio_from_number=FROM_NUMBER,
            twilio_api_base_url=provider.base_url,
        ) as running:  # fmt: skip
            yield running


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """The signature Twilio would send, computed by the ``twilio`` package itself."""
    return str(RequestValidator(token).compute_signature(url, params))


def post(
    stack: Stack, path: str, params: dict[str, str], signature: str | None = "sign"
) -> httpx.Response:
    """POST form-encoded like Twilio; ``signature``: "sign" (the right one), None (none), or a
    given header value."""
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = twilio_signature(TOKEN, PUBLIC + path, params)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return httpx.post(stack.rasa_url + path, data=params, headers=headers, timeout=90)


@dataclass
class Call:
    """One phone call: each request goes where the previous TwiML's ``<Gather action>`` said."""

    stack: Stack
    caller: str = field(default_factory=lambda: f"+86139{uuid.uuid4().int % 10**8:08d}")
    sid: str = field(default_factory=lambda: f"CA{uuid.uuid4().hex}")
    next_path: str = WEBHOOK
    sent: list[dict[str, str]] = field(default_factory=list)
    placed: bool = False  # the dealership called the customer (``caller``), not they it

    def params(self, **fields: str) -> dict[str, str]:
        ends = {"Direction": "outbound-api", "From": FROM_NUMBER, "To": self.caller}
        if not self.placed:
            ends = {"Direction": "inbound", "From": self.caller, "To": DEALER_LINE}
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": "in-progress" if self.sent or self.placed else "ringing",
            **ends,
            **fields,
        }

    def send(self, **fields: str) -> ET.Element:
        params = self.params(**fields)
        response = post(self.stack, self.next_path, params)
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("text/xml")
        self.sent.append(params)
        twiml = ET.fromstring(response.text)  # noqa: S314 - our own server's answer
        assert twiml.tag == "Response"
        gather = twiml.find("Gather")
        if gather is not None:
            action = gather.attrib["action"]
            assert action.startswith(PUBLIC + WEBHOOK + "?n="), action
            self.next_path = action.removeprefix(PUBLIC)
        return twiml

    def say(self, text: str) -> ET.Element:
        return self.send(SpeechResult=text, Confidence="0.92")

    def press(self, keys: str) -> ET.Element:
        return self.send(Digits=keys)

    def ended(self, status: str = "completed", duration: str = "95") -> None:
        """The provider's status callback at the end of the call."""
        params = {**self.params(), "CallStatus": status, "CallDuration": duration}
        assert post(self.stack, STATUS, params).status_code == 204


def spoken(twiml: ET.Element) -> str:
    return " ".join((say.text or "") for say in twiml.iter("Say"))


def assert_speaks_plainly(twiml: ET.Element) -> None:
    text = spoken(twiml)
    assert text.strip()
    for markup in ("**", "<", "](", "http", "/ask_", "/request_"):
        assert markup not in text, text


def test_only_signed_first_seen_requests_reach_rasa(stack: Stack) -> None:
    call = Call(stack)
    params = call.params()
    # Unsigned, signed with another token, signed over the loopback URL, a made-up header.
    local_signature = twilio_signature(TOKEN, stack.rasa_url + WEBHOOK, params)
    for signature in (
        None,
        twilio_signature("guessed-token", PUBLIC + WEBHOOK, params),
        local_signature,
        "bm90IGEgc2lnbmF0dXJl",
    ):
        refused = post(stack, WEBHOOK, params, signature)
        assert refused.status_code == 403, (signature, refused.text)
        assert "<Response" not in refused.text
    # Parameters changed after signing (another caller).
    signature = twilio_signature(TOKEN, PUBLIC + WEBHOOK, params)
    tampered = {**params, "From": "+8613000000000"}
    assert post(stack, WEBHOOK, tampered, signature).status_code == 403
    assert stack.transcript(f"phone:{call.caller}", "phone:+8613000000000") == []

    answered = post(stack, WEBHOOK, params)
    assert answered.status_code == 200
    assert "<Gather" in answered.text
    replayed = post(stack, WEBHOOK, params)
    assert replayed.status_code == 403
    # The greeting reached Rasa once, with the caller's number and language as metadata.
    greetings = [
        event
        for event in map(json.loads, stack.transcript(f"phone:{call.caller}"))
        if event.get("event") == "user"
    ]
    assert len(greetings) == 1
    assert greetings[0]["input_channel"] == "phone"
    metadata = greetings[0]["metadata"]
    assert {k: metadata.get(k) for k in ("language", "caller")} == {
        "language": "zh",
        "caller": call.caller,
    }


def test_status_callbacks_are_signed_too(stack: Stack) -> None:
    params = {"CallSid": f"CA{uuid.uuid4().hex}", "CallStatus": "completed", "CallDuration": "42"}
    assert post(stack, STATUS, params, None).status_code == 403
    assert post(stack, STATUS, params).status_code == 204
    assert post(stack, STATUS, params).status_code == 403  # replayed
    for status in ("busy", "no-answer", "failed"):
        assert post(stack, STATUS, {**params, "CallStatus": status}).status_code == 204


def test_a_short_chinese_call(stack: Stack) -> None:
    call = Call(stack)
    greeting = call.send()
    gather = greeting.find("Gather")
    assert gather is not None
    assert gather.attrib["input"] == "speech dtmf"
    assert gather.attrib["language"] == "zh-CN"
    says = list(gather.iter("Say"))
    assert "这里是" in (says[0].text or "")
    assert says[0].attrib["language"] == "zh-CN"
    assert says[-1].text == "For English, press 9."  # the language key, offered in English
    assert says[-1].attrib["language"] == "en-US"

    answer = call.say("我想了解一下Q5L")
    gather = answer.find("Gather")
    assert gather is not None, ET.tostring(answer, encoding="unicode")
    assert gather.attrib["language"] == "zh-CN"
    assert answer.find("Hangup") is None
    assert_speaks_plainly(answer)
    assert "Q5L" in spoken(answer)

    goodbye = call.say("好的，再见")
    assert goodbye.find("Gather") is None
    assert goodbye.find("Hangup") is not None
    assert "再见" in spoken(goodbye)


def test_key_nine_switches_to_english(stack: Stack) -> None:
    call = Call(stack)
    call.send()
    english = call.send(Digits="9")
    gather = english.find("Gather")
    assert gather is not None
    assert gather.attrib["language"] == "en-US"
    says = list(gather.iter("Say"))
    assert "this is" in (says[0].text or "").lower()
    assert all(say.attrib["language"] == "en-US" for say in says[:-1])
    assert says[-1].attrib["language"] == "zh-CN"  # and back to Chinese by 9 again

    answer = call.say("How much is the Q5L?")
    gather = answer.find("Gather")
    assert gather is not None
    assert gather.attrib["language"] == "en-US"
    assert_speaks_plainly(answer)
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in spoken(answer))
    metadata = [
        event.get("metadata")
        for event in map(json.loads, stack.transcript(f"phone:{call.caller}"))
        if event.get("event") == "user"
    ]
    assert metadata[-1]["language"] == "en"
    assert metadata[-1]["caller"] == call.caller


def test_an_english_speaker_is_answered_in_english(stack: Stack) -> None:
    call = Call(stack)
    call.send()
    answer = call.say("Hi, what models do you have?")
    gather = answer.find("Gather")
    assert gather is not None
    assert gather.attrib["language"] == "en-US"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in spoken(answer))


def test_two_silences_end_the_call_politely(stack: Stack) -> None:
    call = Call(stack)
    call.send()
    before = len(stack.transcript(f"phone:{call.caller}"))
    reprompt = call.send()  # the Gather came back empty
    gather = reprompt.find("Gather")
    assert gather is not None
    assert "没有听到" in spoken(reprompt)
    assert reprompt.find("Hangup") is None
    goodbye = call.send()  # silent again, at the next turn's URL (not a replay)
    assert goodbye.find("Gather") is None
    assert goodbye.find("Hangup") is not None
    assert "再见" in spoken(goodbye)
    # Silence is the channel's business: nothing reached Rasa.
    assert len(stack.transcript(f"phone:{call.caller}")) == before


def test_a_key_chooses_a_spoken_option(stack: Stack) -> None:
    call = Call(stack)
    call.send()
    # Something the assistant does not understand gets its menu of choices, spoken with keys.
    menu = call.say("嗯那个就是随便问问天气怎么样")
    text = spoken(menu)
    assert "按1，" in text, text
    gather = menu.find("Gather")
    assert gather is not None
    assert gather.attrib.get("numDigits") == "1"
    reprompt = call.send()  # silence: the options are still open, and said again
    assert "没有听到" in spoken(reprompt)
    assert "按1，" in spoken(reprompt)
    chosen = call.send(Digits="1")
    assert_speaks_plainly(chosen)
    users = [
        event
        for event in map(json.loads, stack.transcript(f"phone:{call.caller}"))
        if event.get("event") == "user"
    ]
    assert users[-1]["text"].startswith("/"), users[-1]["text"]  # the first button's payload


# --- whole calls: booking, needs analysis, hand-off, surveys by keypad ---------------------------


def fresh_number() -> str:
    return f"+86137{uuid.uuid4().int % 10**8:08d}"


@contextmanager
def database(stack: Stack) -> Iterator[Session]:
    engine = build_engine(stack.settings.effective_database_url)
    try:
        with transaction(build_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def test_a_chinese_caller_books_a_test_drive_on_the_number_they_call_from(stack: Stack) -> None:
    call = Call(stack, caller=fresh_number())
    opening = spoken(call.send())
    # The playbook's phone script: who speaks, which dealership, what it can do, then a question.
    assert opening.startswith(f"您好，这里是{stack.settings.dealer_name}"), opening
    assert "预约试驾" in opening
    assert "转接销售顾问" in opening
    assert "哪款车" in opening
    times = spoken(call.say("你好，我想预约试驾Q5L"))
    # Free times read as people say them ("12月3日周四 上午九点"), each with its key.
    assert re.search(
        r"按1，\d+月\d+日周.\s?(上午|中午|下午|晚上)[一二三四五六七八九十两]+点", times
    ), times
    assert "同意" in spoken(call.press("1"))
    assert "称呼" in spoken(call.press("1"))  # agreed
    offer = spoken(call.say("张伟"))
    assert f"尾号{call.caller[-4:]}" in offer
    assert "按1，就用这个号码；按2，换一个号码。" in offer
    assert "驾照" in spoken(call.press("1"))
    check = spoken(call.say("有"))
    assert "张伟" in check
    assert "幺三七" in check  # the number read back digit by digit
    assert "预约成功" in spoken(call.press("1"))
    call.ended()
    with database(stack) as session:
        [booking] = session.scalars(select(Booking).where(Booking.phone == call.caller)).all()
        assert (booking.customer_name, booking.model_code, booking.status) == (
            "张伟", "Q5L", "booked",
        )  # fmt: skip
        assert booking.sender_id == f"phone:{call.caller}"
        # A signed call's number is the caller's own: proved, as an SMS code would prove it.
        assert identity.verified_phones(session, f"phone:{call.caller}") == {call.caller}
        [record] = phone_calls.of_sender(session, f"phone:{call.caller}")
        assert (record.call_sid, record.direction, record.status, record.duration_seconds) == (
            call.sid, "inbound", "completed", 95,
        )  # fmt: skip


def test_an_english_caller_qualifies_and_leaves_another_number(stack: Stack) -> None:
    call = Call(stack, caller=fresh_number())
    call.send()
    assert "Which model" in spoken(call.press("9"))
    assert spoken(call.say("Hi there, I'm looking at the A6L, budget around 400k")).startswith(
        "When are you planning to buy?"
    )
    assert "How would you like to pay?" in spoken(call.press("2"))  # within a month
    assert "trade in" in spoken(call.press("2"))  # a loan
    assert "Do you agree?" in spoken(call.press("2"))  # no trade-in
    assert "Your name" in spoken(call.press("1"))  # agreed
    offer = spoken(call.say("Emma Watson"))
    assert f"ending {call.caller[-4:]}" in offer
    plain = spoken(call.press("2"))  # another number
    assert plain == "Which mobile number can our consultant reach you on?", plain
    other = fresh_number()
    done = spoken(call.say(f"it's {other[3:6]} {other[6:10]} {other[10:]}"))
    assert "contact you at plus 8 6 1 3 7" in done, done
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in done)
    [lead] = [row for row in export(stack, "leads") if row["phone"] == other]
    assert {k: lead[k] for k in ("channel", "language", "name", "model_interest", "payment")} == {
        "channel": "phone", "language": "en", "name": "Emma Watson", "model_interest": ["A6L"],
        "payment": "loan",
    }  # fmt: skip
    with database(stack) as session:
        assert identity.verified_phones(session, f"phone:{call.caller}") == set()  # not proved


def test_an_english_caller_books_a_test_drive(stack: Stack) -> None:
    call = Call(stack, caller=fresh_number())
    call.send()
    call.press("9")
    times = spoken(call.say("Hi, I would like to book a test drive of the A6L"))
    assert re.search(r"Press 1 for \w{3} \d+ \w{3}, \d+(:\d\d)? (AM|PM)\.", times), times
    assert "Do you agree?" in spoken(call.press("1"))
    assert "Your name" in spoken(call.press("1"))
    assert f"ending {call.caller[-4:]}" in spoken(call.say("John Smith"))
    assert "driving licence" in spoken(call.press("1"))
    check = spoken(call.say("yes I do"))
    assert "John Smith" in check
    assert "plus 8 6 1 3 7" in check
    booked = spoken(call.press("1"))
    assert booked.startswith("Booked!"), booked
    assert not re.search(r"[上下]午", booked)  # an English reply stays English
    with database(stack) as session:
        [booking] = session.scalars(select(Booking).where(Booking.phone == call.caller)).all()
        assert (booking.customer_name, booking.model_code) == ("John Smith", "A6L")


def test_a_chinese_caller_gives_their_needs_and_the_number_they_call_from(stack: Stack) -> None:
    call = Call(stack, caller=fresh_number())
    call.send()
    timeline = spoken(call.say("喂你好，我想了解一下A6L，预算四十万左右"))
    assert "什么时候购车" in timeline
    assert "按1，" in timeline
    assert "付款方式" in spoken(call.say("大概半年内吧"))
    assert "置换" in spoken(call.say("贷款"))
    assert "同意" in spoken(call.say("没有旧车"))
    assert "称呼" in spoken(call.press("1"))
    assert f"尾号{call.caller[-4:]}" in spoken(call.say("我姓李，叫李娜"))
    done = spoken(call.say("可以，就打这个"))
    assert "销售顾问会尽快" in done, done
    [lead] = [row for row in export(stack, "leads") if row["phone"] == call.caller]
    assert {k: lead[k] for k in ("channel", "language", "model_interest", "budget_cny_max",
                                 "purchase_timeline_days", "payment", "trade_in")} == {
        "channel": "phone", "language": "zh", "model_interest": ["A6L"],
        "budget_cny_max": 400000, "purchase_timeline_days": 180, "payment": "loan",
        "trade_in": False,
    }  # fmt: skip
    with database(stack) as session:
        assert identity.verified_phones(session, f"phone:{call.caller}") == {call.caller}


def insisting_caller(stack: Stack) -> tuple[Call, ET.Element, bool]:
    """A caller who asks for a person twice; what they hear the second time, and whether the
    showroom was open all the while (the servers keep the real clock: a call across opening or
    closing time is made again)."""
    with database(stack) as session:
        hours = OpeningHours.of(session, stack.settings.timezone)
    for _ in range(2):
        call = Call(stack, caller=fresh_number())
        call.send()
        assert "销售顾问" in spoken(call.say("帮我转人工"))
        before = hours.is_open(datetime.now(UTC))
        second = call.say("我不想回答这些，直接帮我转人工")
        if hours.is_open(datetime.now(UTC)) == before:
            return call, second, before
    raise AssertionError("the showroom kept opening and closing during the call")


def test_a_caller_who_insists_on_a_person_is_put_through_or_called_back(stack: Stack) -> None:
    """Open: put through to the showroom (<Dial>). Closed: told when a consultant calls back."""
    call, second, open_now = insisting_caller(stack)
    if open_now:
        assert "转接" in spoken(second)
        dial = second.find("Dial")
        assert dial is not None, ET.tostring(second, encoding="unicode")
        assert dial.text == load_dealer_data(stack.settings.dealer_data).dealer.phone
        assert second.find("Gather") is None
    else:
        assert "回电" in spoken(second)
        assert second.find("Dial") is None
        assert second.find("Gather") is not None  # the caller may go on asking
    with database(stack) as session:
        [handoff] = session.scalars(
            select(Handoff).where(Handoff.sender_id == f"phone:{call.caller}")
        ).all()
        assert (handoff.channel, handoff.reason) == ("phone", "person")


# A moment ahead of the servers' clocks (see test_surveys_e2e.py): a Tuesday, 10:00 in Shanghai.
NOW = datetime(2031, 3, 4, 2, 0, tzinfo=UTC)


def survey_for_caller(stack: Stack, number: str) -> dict[str, int]:
    """A delivery to a customer known by their phone conversation; its surveys' ids by stage."""
    entry = deliveries.NewDelivery(
        phone=number, model="Q5L", delivered_at=(NOW - timedelta(days=1)).isoformat(),
        consultant="王磊",
    )  # fmt: skip
    with database(stack) as session:
        delivery = deliveries.add(
            session, entry, zone=stack.settings.timezone, now=NOW,
            surveys=cached(stack.settings.survey_config_path),
        )  # fmt: skip
        conversation = start_conversation(session, f"phone:{number}", NOW, "phone")
        conversation.customer_id = delivery.customer_id
        rows = session.scalars(select(Survey).where(Survey.delivery_id == delivery.id)).all()
        return {str(row.stage): row.id for row in rows}


def place_survey_call(stack: Stack, survey_id: int, at: datetime) -> None:
    """What the gateway's scheduler does when the survey falls due (clock fixed, no quiet hours):
    the customer's conversation is by phone, so a call is placed."""

    async def run() -> None:
        engine = build_engine(stack.settings.effective_database_url)
        sessions = build_session_factory(engine)
        line = PhoneLine.from_settings(
            stack.settings, functools.partial(job_runtime.in_thread, sessions), lambda: at
        )
        try:
            async with httpx.AsyncClient() as client:
                customers = RasaConversations(stack.rasa_url, stack.token, client, None, line)
                job_runtime.configure(
                    job_runtime.Runtime(
                        sessions, stack.settings.timezone, BackgroundScheduler(),
                        customers=customers, consultants=LoggedNotices(), clock=lambda: at,
                    )
                )  # fmt: skip
                await survey_jobs.send_survey(survey_id)
        finally:
            job_runtime.configure(None)
            engine.dispose()

    asyncio.run(run())


def answered(stack: Stack, provider: SmsStub, number: str) -> Call:
    """The provider's side of the call placed to ``number``: the customer picks up."""
    [placed] = [c for c in provider.calls if c["To"] == number]
    assert placed["StatusCallback"] == PUBLIC + STATUS
    assert placed["Url"].startswith(PUBLIC + WEBHOOK + "?")
    return Call(stack, caller=number, sid=placed["Sid"], placed=True,
                next_path=placed["Url"].removeprefix(PUBLIC))  # fmt: skip


def test_a_revisit_survey_is_a_call_answered_by_voice_and_keypad(
    stack: Stack, provider: SmsStub
) -> None:
    number = fresh_number()
    stages = survey_for_caller(stack, number)
    place_survey_call(stack, stages["d1"], NOW)
    call = answered(stack, provider, number)
    first = spoken(call.send())
    assert first.startswith(f"您好，我是{stack.settings.dealer_name}的智能助理"), first
    assert "王磊" in first
    assert "按5，非常满意；按4，满意" in first
    second = spoken(call.press("5"))
    assert "交车" in second
    third = call.press("4")
    assert "0到10" in spoken(third)
    gather = third.find("Gather")
    assert gather is not None
    assert gather.attrib.get("finishOnKey") == "#"
    assert "numDigits" not in gather.attrib
    assert "还有什么想对我们说" in spoken(call.press("10"))  # keyed in: 1, 0, #
    call.say("车很好开，王磊也很专业，就是交车那天等得有点久")
    call.ended()
    with database(stack) as session:
        survey = session.get_one(Survey, stages["d1"])
        assert survey.completed_at is not None
        assert {k: v for k, v in (survey.answers or {}).items() if k != "comment"} == {
            "consultant": 5, "delivery": 4, "recommend": 10,
        }  # fmt: skip
        assert "等得有点久" in str((survey.answers or {}).get("comment"))
        [record] = phone_calls.of_sender(session, f"phone:{number}")
        assert (record.direction, record.status) == ("outbound", "completed")
        notification = session.get_one(Notification, record.notification_id)
        assert notification.status == "sent"


def test_a_survey_call_nobody_answers_is_kept_for_another_try(
    stack: Stack, provider: SmsStub
) -> None:
    number = fresh_number()
    stages = survey_for_caller(stack, number)
    place_survey_call(stack, stages["d1"], NOW)
    call = answered(stack, provider, number)
    call.ended("no-answer", "0")  # it rang out: the provider reports, Rasa hands it over
    with database(stack) as session:
        [record] = phone_calls.of_sender(session, f"phone:{number}")
        assert record.status == "no-answer"
        notification = session.get_one(Notification, record.notification_id)
        assert notification.status == "pending"
        assert notification.next_attempt_at is not None  # the gateway calls again later
        assert session.get_one(Survey, stages["d1"]).answers in (None, {})
