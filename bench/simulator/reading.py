"""Reading the assistant's reply: which question is asked, and what the reply says happened."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final


@dataclass(frozen=True)
class Reading:
    kind: str | None  # the question asked, None when none was recognized
    message: str  # the message it was read from
    buttons: list[dict[str, str]]  # of that message
    offered: list[dict[str, str]]  # every button of the reply
    booked: bool  # the reply says a test drive is booked
    qualified: bool  # the reply says the needs were noted / a consultant will call
    declined: bool  # the reply says nothing personal is kept


def _pattern(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(words), re.IGNORECASE)


# Checked in this order on the last message that asks something.
QUESTIONS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("confirm", _pattern(r"确认预约吗", r"请确认：", r"请回答“确认”", r"shall i book it",
                         r"please check:", r"answer yes to book")),
    ("consent", _pattern(r"隐私", r"同意吗", r"同意或不同意", r"privacy notice", r"do you agree",
                         r"may we keep your details")),
    ("anything_else", _pattern(r"还有什么可以帮", r"有什么可以帮您", r"anything else",
                               r"how can i help")),
    ("fallback", _pattern(r"没太明白", r"换个说法", r"didn't quite get that",
                          r"say it another way")),
    ("licence", _pattern(r"驾照", r"驾驶证", r"licen[cs]e")),
    ("time", _pattern(r"什么时候来", r"空闲时段", r"时段", r"什么时间", r"when would you like to come",
                      r"free times?", r"times are free", r"which time", r"a time below")),
    ("trade_in_vehicle", _pattern(r"是什么车", r"描述一下旧车", r"which car is it",
                                  r"describe the car")),
    ("trade_in", _pattern(r"置换", r"trade[- ]in")),
    ("payment", _pattern(r"付款方式", r"全款、贷款", r"how would you like to pay",
                         r"cash, loan or lease")),
    ("timeline", _pattern(r"什么时候购车", r"购车时间", r"when are you planning to buy",
                          r"catch when")),
    ("model", _pattern(r"哪款", r"车型", r"which model", r"that model", r"similar model")),
    ("budget", _pattern(r"预算", r"budget")),
    ("phone", _pattern(r"手机号", r"号码", r"mobile number", r"phone number")),
    ("name", _pattern(r"怎么称呼", r"姓名", r"称呼", r"address you", r"like a name",
                      r"your name")),
)  # fmt: skip
ASKING: Final = _pattern(r"[?？]", r"^(抱歉|sorry|请回答|请从|please answer|please choose)")
BOOKED: Final = _pattern(r"预约成功", r"^booked!", r"已为您改好", r"^done: your test drive")
NOTED: Final = _pattern(r"已为您记录", r"i've noted")
DECLINED: Final = _pattern(
    r"不会保存", r"won't keep any personal", r"nothing personal has been stored"
)
TEST_DRIVE_WORDS: Final = _pattern(r"试驾", r"test[- ]drive")


def read(replies: list[dict[str, Any]]) -> Reading:
    """The question in the assistant's reply: the last message that asks something decides."""
    texts = [str(r.get("text") or "") for r in replies]
    booked = any(BOOKED.search(t) for t in texts)
    qualified = any(NOTED.search(t) for t in texts)
    declined = any(DECLINED.search(t) for t in texts)
    offered = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for r in replies
        for b in r.get("buttons") or []
    ]
    for reply in reversed(replies):
        text = str(reply.get("text") or "")
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in reply.get("buttons") or []
        ]
        if not (ASKING.search(text) or buttons):
            continue
        kind = next((k for k, pattern in QUESTIONS if pattern.search(text)), None)
        if kind is None:
            kind = _kind_of_buttons(buttons)
        if kind == "model" and TEST_DRIVE_WORDS.search(text):
            kind = "td_model"
        if kind is not None:
            return Reading(kind, text, buttons, offered, booked, qualified, declined)
    last = texts[-1] if texts else ""
    return Reading(None, last, [], offered, booked, qualified, declined)


def _kind_of_buttons(buttons: list[dict[str, str]]) -> str | None:
    payloads = " ".join(b["payload"] for b in buttons)
    for key, kind in (('"time"', "time"), ('"payment"', "payment"),
                      ('"purchase_timeline"', "timeline"), ('"car_model"', "td_model")):  # fmt: skip
        if key in payloads:
            return kind
    return None


def button_time(button: dict[str, str]) -> datetime | None:
    payload = button["payload"]
    if not payload.startswith("/inform"):
        return None
    try:
        value = json.loads(payload.removeprefix("/inform") or "{}").get("time")
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except (ValueError, AttributeError):
        return None
