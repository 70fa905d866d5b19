"""The phone channel (channels/phone.py) on the real Rasa server: Twilio Voice webhooks, signed
as Twilio signs them, answered in TwiML.

Rasa believes it is reached at ``PUBLIC`` (``PHONE_PUBLIC_URL``, as behind a proxy), so every
request is signed over that URL, not over the loopback address it is actually posted to.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from channels.phone_guard import twilio_signature
from tests.integration.stack import Stack, stack_in

pytestmark = pytest.mark.integration

TOKEN = "phone-test-auth-token"
PUBLIC = "https://dealer.example.com"
WEBHOOK = "/webhooks/phone/webhook"
STATUS = "/webhooks/phone/status"
DEALER_LINE = "+862150001234"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("phone")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHONE_PUBLIC_URL", PUBLIC)  # the children copy the environment at start
        patch.delenv("PHONE_LANGUAGE", raising=False)
        patch.delenv("PUBLIC_BASE_URL", raising=False)
        with stack_in(folder, twilio_auth_token=TOKEN) as running:
            yield running


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

    def params(self, **fields: str) -> dict[str, str]:
        return {
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": "in-progress" if self.sent else "ringing",
            "Direction": "inbound",
            "From": self.caller,
            "To": DEALER_LINE,
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
    assert "欢迎" in (says[0].text or "")
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
    assert "welcome" in (says[0].text or "").lower()
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
