"""The phone channel's pure parts (channels/phone_speech.py, channels/phone_guard.py), in the app
environment; and, through the Rasa environment's interpreter, the channel's doors
(channels/phone.py) checked against Twilio's own ``RequestValidator``."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from typing import Any

import pytest

from bot.runtime.paths import RASA_VENV
from channels.phone_guard import CallMemory, ReplayCache, twilio_signature
from channels.phone_speech import (
    Option,
    as_language,
    keyed_in,
    numbered_options,
    options_sentence,
    speakable,
    speech_language,
    spoken_turn,
    written_language,
)
from crm_bridge.settings import PROJECT_ROOT

# --- speech ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Q5L 现价350000元", "Q5L 现价三十五万元"),
        ("预算35万", "预算三十五万元"),
        ("指导价39.28–51.38万元", "指导价三十九点二八万到五十一点三八万元"),
        ("优惠后 389,800元", "优惠后 三十八万九千八百元"),
        ("价格 ¥350000", "价格 三十五万元"),
        ("价格 ¥35.98万", "价格 三十五点九八万元"),
        ("明天10:00到店", "明天上午十点到店"),
        ("营业时间 9:00-18:30", "营业时间 上午九点到晚上六点半"),
        ("12月5日（周六） 14:00", "12月5日周六 下午两点"),
        ("周六上午10:00", "周六上午十点"),
        ("下午14:05", "下午十四点零五分"),
        ("手机+8613812345678。", "手机幺三八幺二三四五六七八。"),
        ("电话 +862168880000", "电话 零二幺六八八八零零零零"),
        ("热线 400-820-8888", "热线 四零零八二零八八八八"),
        ("油耗7.8升/百公里", "油耗7.8升每百公里"),
        ("**亮点**：<b>quattro</b> 四驱 😀", "亮点：quattro 四驱"),
        ("详见[官网](https://www.audi.cn/q5l) 或 https://x.cn/a", "详见官网 或"),
        ("# 车型\n- A6L\n- Q5L", "车型A6LQ5L"),
        ("2024年 5座", "2024年 5座"),
    ],
)
def test_chinese_speech_reads_well(text: str, spoken: str) -> None:
    assert speakable(text, "zh") == spoken


def test_english_speech_keeps_its_numbers_and_spells_phone_numbers() -> None:
    assert speakable("From CNY 392,800 at 10:30.", "en") == "From CNY 392,800 at 10:30 AM."
    assert speakable("at 10:30 am", "en") == "at 10:30 am"
    assert speakable("Call **+8613812345678**", "en") == "Call plus 8 6 1 3 8 1 2 3 4 5 6 7 8"
    assert speakable("Hello\nthere", "en") == "Hello there"


def test_buttons_become_numbered_keypad_options() -> None:
    buttons = [
        {"title": "看看车型", "payload": "/ask_models"},
        {"title": "**预约试驾**", "payload": "/request_test_drive"},
        {"title": "no payload"},
    ]
    options = numbered_options(buttons, "zh")
    assert options == [
        Option("1", "看看车型", "/ask_models"),
        Option("2", "预约试驾", "/request_test_drive"),
    ]
    assert options_sentence(options, "zh") == "按1，看看车型；按2，预约试驾。"
    english = numbered_options([{"title": "Book a test drive", "payload": "/x"}], "en")
    assert options_sentence(english, "en") == "Press 1 for Book a test drive."


def test_nine_is_never_an_option_key() -> None:
    buttons = [{"title": f"选项{i}", "payload": f"/p{i}"} for i in range(12)]
    options = numbered_options(buttons, "zh")
    assert [o.key for o in options] == ["1", "2", "3", "4", "5", "6", "7", "8"]


def test_a_turn_speaks_texts_then_the_last_options() -> None:
    messages: list[dict[str, Any]] = [
        {"text": "Q5L 指导价 **39.28万元**起"},
        {"text": "要预约试驾吗？", "buttons": [{"title": "好的", "payload": "/affirm"}]},
    ]
    sentences, options = spoken_turn(messages, "zh")
    assert sentences == ["Q5L 指导价 三十九点二八万元起", "要预约试驾吗？", "按1，好的。"]
    assert options == [Option("1", "好的", "/affirm")]


@pytest.mark.parametrize(
    ("speech", "language"),
    [
        ("我想了解一下Q5L", "zh"),
        ("What models do you have?", "en"),
        ("How much is the Q5L", "en"),
        ("Q5L", None),
        ("A6", None),
        ("", None),
    ],
)
def test_latin_script_speech_is_english(speech: str, language: str | None) -> None:
    assert speech_language(speech) == language


def test_language_names() -> None:
    assert as_language("en") == "en"
    assert as_language("en-US") == "en"
    assert as_language("zh-CN") == "zh"
    assert as_language("fr") == "zh"
    assert as_language(None, "en") == "en"


# --- doors and memory --------------------------------------------------------------------------


def test_signature_is_twilios_documented_one() -> None:
    # Twilio's documentation example (TwilioDevEd/api-snippets, security/signature_validation).
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "GvWf1cFY/Q7PnoempGyD5oXAezc="


def test_replays_are_recognised_until_they_expire() -> None:
    now = [0.0]
    cache = ReplayCache(ttl=60, clock=lambda: now[0])
    params = {"CallSid": "CA1", "From": "+8613800000000"}
    assert cache.first_time("sig", "https://x/webhook?n=a", params)
    assert not cache.first_time("sig", "https://x/webhook?n=a", params)
    assert cache.first_time("sig", "https://x/webhook?n=b", params)  # the next turn's URL
    assert cache.first_time("sig", "https://x/webhook?n=a", {**params, "Digits": "1"})
    now[0] = 61
    assert cache.first_time("sig", "https://x/webhook?n=a", params)


def test_the_replay_cache_is_bounded() -> None:
    cache = ReplayCache(ttl=60, clock=lambda: 0.0, limit=3)
    for n in range(10):
        cache.first_time("sig", f"https://x/{n}", {})
    assert len(cache) == 3


def test_calls_are_remembered_and_forgotten() -> None:
    now = [0.0]
    calls = CallMemory(ttl=100, clock=lambda: now[0])
    call = calls.start("CA1", "zh")
    call.options = [Option("1", "好的", "/affirm")]
    assert calls.get("CA1") is call
    assert call.option("1") == Option("1", "好的", "/affirm")
    assert call.option("2") is None
    now[0] = 99
    calls.touch("CA1", call)
    now[0] = 150
    assert calls.get("CA1") is call
    assert calls.end("CA1") is call
    assert calls.get("CA1") is None
    calls.start("CA2", "en")
    now[0] = 300
    assert calls.get("CA2") is None


# --- the channel in the Rasa environment -------------------------------------------------------

_RASA_PYTHON = RASA_VENV / "bin" / "python"

# Runs in the Rasa environment: Twilio's validator and the channel itself.
_RASA_SIDE = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from types import SimpleNamespace
    from twilio.request_validator import RequestValidator
    from channels.phone import PhoneInput
    from channels.phone_guard import twilio_signature

    cases = json.loads(sys.argv[1])
    out = {"validator": [RequestValidator(c["token"]).compute_signature(c["url"], c["params"])
                         for c in cases],
           "ours": [twilio_signature(c["token"], c["url"], c["params"]) for c in cases]}

    def request(url, params, signature):
        path, _, query = url.split("//", 1)[1].partition("/")[2].partition("?")
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return SimpleNamespace(url=url, path="/" + path, query_string=query,
                               headers=headers, form=params, args={})

    local = "http://127.0.0.1:5005/webhooks/phone/webhook?n=abc"
    public = "https://dealer.example.com/webhooks/phone/webhook?n=abc"
    params = {"CallSid": "CA1", "From": "+8613812345678", "CallStatus": "ringing"}
    token = "tok"
    signed_local = request(local, params, twilio_signature(token, local, params))
    signed_public = twilio_signature(token, public, params)
    out["no_token"] = PhoneInput(None).verified(signed_local) is not None
    channel = PhoneInput(token)
    out["signed"] = channel.verified(signed_local) is not None
    out["replayed"] = channel.verified(signed_local) is not None
    out["unsigned"] = channel.verified(request(local, params, None)) is not None
    behind_proxy = PhoneInput(token, public_url="https://dealer.example.com/")
    out["proxy_public"] = behind_proxy.verified(request(local, params, signed_public)) is not None
    out["proxy_local"] = behind_proxy.verified(
        request(local, params, twilio_signature(token, local, params))) is not None

    async def broken(message):
        raise RuntimeError("Rasa is down")

    async def main():
        twiml = await channel.answer(request(local, params, ""), params, broken)
        return str(twiml)
    out["broken"] = asyncio.run(main())

    os.environ.pop("TWILIO_AUTH_TOKEN", None)
    os.environ["PHONE_LANGUAGE"] = "en"
    configured = PhoneInput.from_credentials({"en_voice": "Polly.Matthew"})
    out["configured"] = [configured.validator is None, configured.language,
                         configured.voices["en"], configured.voices["zh"]]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def rasa_side() -> dict[str, object]:
    if not _RASA_PYTHON.exists():
        pytest.skip("the Rasa environment (.venv-rasa) is not installed")
    cases = [
        {
            "token": "12345",
            "url": "https://example.com/myapp.php?foo=1&bar=2",
            "params": {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+1234"},
        },
        {
            "token": "另一个令牌",
            "url": "https://dealer.example.com/webhooks/phone/webhook?n=Ab-9_",
            "params": {"SpeechResult": "我想了解一下Q5L，35万以内", "Confidence": "0.9"},
        },
        {"token": "t", "url": "https://dealer.example.com/webhooks/phone/status", "params": {}},
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [str(_RASA_PYTHON), "-c", _RASA_SIDE, json.dumps(cases)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_our_signature_equals_twilios_validator(rasa_side: dict[str, object]) -> None:
    assert rasa_side["ours"] == rasa_side["validator"]


def test_only_signed_first_seen_requests_pass(rasa_side: dict[str, object]) -> None:
    assert rasa_side["signed"] is True
    assert rasa_side["replayed"] is False
    assert rasa_side["unsigned"] is False


def test_without_an_auth_token_every_request_is_refused(rasa_side: dict[str, object]) -> None:
    assert rasa_side["no_token"] is False


def test_behind_a_proxy_the_public_url_is_signed(rasa_side: dict[str, object]) -> None:
    assert rasa_side["proxy_public"] is True
    assert rasa_side["proxy_local"] is False


def test_a_failure_in_rasa_is_apologised_for(rasa_side: dict[str, object]) -> None:
    twiml = str(rasa_side["broken"])
    assert "<Gather" in twiml
    assert "系统暂时出了点问题" in twiml


def test_configuration_from_the_environment(rasa_side: dict[str, object]) -> None:
    assert rasa_side["configured"] == [True, "en", "Polly.Matthew", "Polly.Zhiyu"]


def test_survey_scores_are_keyed_by_the_score_itself() -> None:
    satisfaction = [
        {"title": f"{n} {word}", "payload": "/inform" + json.dumps({"rating": n})}
        for n, word in ((5, "非常满意"), (4, "满意"), (3, "一般"), (2, "不满意"), (1, "非常不满意"))
    ]
    options = numbered_options(satisfaction, "zh")
    assert [(o.key, o.title) for o in options][:2] == [("5", "非常满意"), ("4", "满意")]
    assert not keyed_in(options)
    assert options_sentence(options, "zh").startswith("按5，非常满意；按4，满意；")
    recommend = [
        {"title": str(n), "payload": "/inform" + json.dumps({"rating": n})}
        for n in range(10, -1, -1)
    ]
    options = numbered_options(recommend, "en")
    assert {o.key for o in options} == {str(n) for n in range(11)}  # 0 and 10 too, past 8 keys
    assert keyed_in(options)
    assert options_sentence(options, "en") == (
        "Say your score, or key in a number from 0 to 10 and press hash."
    )
    assert "0到10" in options_sentence(options, "zh")
    # A menu with one score button among others is an ordinary menu.
    mixed = [recommend[0], {"title": "跳过", "payload": "/deny"}]
    assert [o.key for o in numbered_options(mixed, "zh")] == ["1", "2"]


def test_english_times_are_said_on_the_twelve_hour_clock() -> None:
    assert speakable("Press 1 for Wed 2 Dec, 15:00.", "en") == "Press 1 for Wed 2 Dec, 3 PM."
    assert speakable("Open 9:00-18:30", "en") == "Open 9 AM-6:30 PM"


def test_a_reply_is_in_the_language_most_of_its_letters_are() -> None:
    assert written_language("Booked! Your consultant 王磊 will be waiting for you.") == "en"
    assert written_language("请确认：12月2日 试驾 Q5L，预约人 John") == "zh"
    assert written_language("Q5L、A6L、Q4 e-tron 都有现车") == "zh"
    assert written_language("12:00 ✅") is None
