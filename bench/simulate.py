"""A user simulator: whole conversations with the assistant over the REST channel, checked against
the records they should leave in the dealership database (through the CLI exports).

    .venv/bin/python bench/simulate.py [--personas bench/personas] [--only NAME] [--report FILE]

It starts Rasa and the action server on free ports in a temporary var dir (as the integration
tests do), plays every persona in `bench/personas/*.yml` as a new conversation, polls
`dealer-assistant leads export` and `bookings export` after each turn (to count the assistant turns
until the lead is qualified and until the booking exists), compares the final exports with what the
persona should have produced, prints a table and the transcripts of the failures (also written to
`var/simulator/`), and writes the "## Conversations: user simulator" section of docs/benchmarks.md
(with --only, only when --report is given). Exit status 1 when a persona fails.

A persona (YAML; see bench/personas/README.md) has facts (name, phone, models, budget, timeline,
payment, trade-in car, consent, licence, a test-drive wish), a style, optional wording (`say`),
twists (changing their mind), questions asked back, quiet turns, the expected records and a turn
budget. The user policy reads each reply (text and buttons), recognizes the question by keywords in
both languages and by its buttons, and answers with the persona's fact in the persona's style; when
it cannot tell what is asked it follows its own agenda (the next unstated fact, then the test drive,
then goodbye).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

ROOT: Final = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project's packages and tests/
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.report import RESULTS, write_section  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.integration.stack import Stack, free_port, running_stack  # noqa: E402

PERSONAS: Final = ROOT / "bench" / "personas"
FAILURES_DIR: Final = ROOT / "var" / "simulator"
CLI: Final = str(Path(sys.executable).parent / "dealer-assistant")
COMMAND: Final = ".venv/bin/python bench/simulate.py"
STYLES: Final = (
    "all_at_once", "step_by_step", "questioning", "changes_mind", "quiet", "voice",
    "declines_consent", "trade_in",
)  # fmt: skip
# Lead statuses at or past "qualified" (DESIGN.md: new|qualified|handed_off|...).
QUALIFIED: Final = frozenset({"qualified", "handed_off", "contacted", "test_drive_booked", "won"})
ACTIVE_BOOKING: Final = frozenset({"booked", "rescheduled"})
WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The target from the issue: a cooperative buyer is qualified and booked within this many turns.
COOPERATIVE_TURNS: Final = 6

# ---------------------------------------------------------------------------------------------
# Personas


class PersonaError(ValueError):
    """A persona file that does not say what it must."""


@dataclass(frozen=True)
class Wish:
    """A test drive: the model and a time the persona says relatively ("明天下午三点")."""

    model: str
    day: str  # today | tomorrow | day_after | a weekday name (the next one after today)
    at: str  # "HH:MM", dealer's local time
    say: str  # how the persona says the time

    def start(self, today: date) -> datetime:
        """The local start the persona means, said on ``today`` (naive, dealer's zone)."""
        if self.day in ("today", "tomorrow", "day_after"):
            day = today + timedelta(days=("today", "tomorrow", "day_after").index(self.day))
        else:
            ahead = (WEEKDAYS.index(self.day) - today.weekday()) % 7 or 7
            day = today + timedelta(days=ahead)
        hour, minute = (int(part) for part in self.at.split(":"))
        return datetime(day.year, day.month, day.day, hour, minute)


@dataclass(frozen=True)
class Facts:
    name: str
    phone: str  # as the persona writes it (local format)
    models: tuple[str, ...]
    budget: int  # CNY
    timeline_days: int
    payment: str  # cash | loan | lease
    trade_in: str | None  # the car to trade in, None when there is none
    consent: bool
    licence: bool
    test_drive: Wish | None


@dataclass(frozen=True)
class Twist:
    """The persona changes their mind: says ``say`` instead of answering, then ``update`` holds."""

    say: str
    questions: tuple[str, ...] = ()  # when one of these questions is asked ...
    at_turn: int | None = None  # ... or at this user turn (1 = the opening)
    update: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Persona:
    name: str
    language: str
    style: str
    description: str
    facts: Facts
    say: dict[str, list[str]]
    opening: str | None  # the first message; default: hello, or everything for all_at_once
    opening_states: tuple[str, ...]  # the facts the opening says
    asks_back: dict[str, str]
    quiet: list[str]  # what the persona says instead of answering, once each
    twists: tuple[Twist, ...]
    clicks_buttons: bool
    turn_budget: int
    expect_lead: dict[str, Any] | None  # None: no lead at all (nothing stored)
    expect_booking: dict[str, Any] | None
    path: Path

    @property
    def cooperative(self) -> bool:
        return self.style == "all_at_once"


def _need(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise PersonaError(f"{where}: '{key}' is missing")
    return data[key]


def _names(value: Any) -> tuple[str, ...]:
    """One name or a list of them."""
    if value is None:
        return ()
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


def _wish(data: Any, where: str) -> Wish | None:
    if data is None:
        return None
    day = str(_need(data, "day", where))
    if day not in ("today", "tomorrow", "day_after", *WEEKDAYS):
        raise PersonaError(f"{where}: day '{day}' is not today, tomorrow, day_after or a weekday")
    at = str(_need(data, "at", where))
    if not re.fullmatch(r"\d{1,2}:\d{2}", at):
        raise PersonaError(f"{where}: at '{at}' is not HH:MM")
    return Wish(str(_need(data, "model", where)), day, at, str(_need(data, "say", where)))


def load_persona(path: Path) -> Persona:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.name
    if not isinstance(data, dict):
        raise PersonaError(f"{where}: not a mapping")
    language = _need(data, "language", where)
    style = _need(data, "style", where)
    if language not in ("zh", "en") or style not in STYLES:
        raise PersonaError(f"{where}: language must be zh|en, style one of {', '.join(STYLES)}")
    raw = _need(data, "facts", where)
    models = raw.get("models") or []
    facts = Facts(
        name=str(_need(raw, "name", where)),
        phone=str(_need(raw, "phone", where)),
        models=tuple(str(m) for m in (models if isinstance(models, list) else [models])),
        budget=int(_need(raw, "budget", where)),
        timeline_days=int(_need(raw, "timeline_days", where)),
        payment=str(_need(raw, "payment", where)),
        trade_in=str(raw["trade_in"]) if raw.get("trade_in") else None,
        consent=bool(_need(raw, "consent", where)),
        licence=bool(raw.get("licence", True)),
        test_drive=_wish(raw.get("test_drive"), f"{where} test_drive"),
    )
    if facts.payment not in ("cash", "loan", "lease"):
        raise PersonaError(f"{where}: payment must be cash, loan or lease")
    expect = _need(data, "expect", where)
    twists = tuple(
        Twist(
            say=str(_need(t, "say", f"{where} twist")),
            questions=_names(t.get("question")),
            at_turn=t.get("at_turn"),
            update=dict(t.get("update") or {}),
        )
        for t in data.get("twists") or []
    )
    say = {
        str(key): [str(v) for v in (value if isinstance(value, list) else [value])]
        for key, value in (data.get("say") or {}).items()
    }
    return Persona(
        name=str(data.get("name") or path.stem),
        language=language,
        style=style,
        description=str(data.get("description") or ""),
        facts=facts,
        say=say,
        opening=str(data["opening"]) if data.get("opening") else None,
        opening_states=tuple(str(x) for x in data.get("opening_states") or []),
        asks_back={str(k): str(v) for k, v in (data.get("asks_back") or {}).items()},
        quiet=[str(q) for q in data.get("quiet") or []],
        twists=twists,
        clicks_buttons=bool(data.get("clicks_buttons", False)),
        turn_budget=int(data.get("turn_budget", 16)),
        expect_lead=expect.get("lead"),
        expect_booking=expect.get("booking"),
        path=path,
    )


def load_personas(folder: Path = PERSONAS, only: list[str] | None = None) -> list[Persona]:
    personas = [load_persona(path) for path in sorted(folder.glob("*.yml"))]
    if only:
        unknown = set(only) - {p.name for p in personas}
        if unknown:
            raise PersonaError(f"no persona named {', '.join(sorted(unknown))} in {folder}")
        personas = [p for p in personas if p.name in only]
    return personas


# ---------------------------------------------------------------------------------------------
# Wording: facts in the persona's language and style

ZH_DIGITS: Final = "零一二三四五六七八九"
EN_DIGITS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
EN_SMALL: Final = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
EN_TENS: Final = (
    "",
    "",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
)
ZH_TIMELINE: Final = {
    7: "一周内",
    14: "两周内",
    30: "一个月内",
    60: "两个月内",
    90: "三个月内",
    180: "半年内",
}
EN_TIMELINE: Final = {
    7: "within a week", 14: "within two weeks", 30: "within a month", 60: "within two months",
    90: "within three months", 180: "within six months",
}  # fmt: skip
ZH_PAYMENT: Final = {"cash": "全款", "loan": "贷款", "lease": "融资租赁"}
EN_PAYMENT: Final = {"cash": "cash", "loan": "a loan", "lease": "leasing"}
FILLERS: Final = {"zh": ("嗯", "那个", "就是"), "en": ("um", "uh", "so", "like")}


def zh_number(n: int) -> str:
    """0 <= n < 10000 in Chinese numerals ("四十五", "一百二十")."""
    if n < 10:
        return ZH_DIGITS[n]
    out = ""
    for value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        digit, n = divmod(n, value)
        if digit:
            out += ("" if (unit == "十" and not out and digit == 1) else ZH_DIGITS[digit]) + unit
        elif out and n:
            out += "" if out.endswith("零") else "零"
    return out + (ZH_DIGITS[n] if n else "")


def en_number(n: int) -> str:
    """0 <= n < 10**9 in English words ("four hundred and fifty thousand")."""
    if n < 20:
        return EN_SMALL[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return EN_TENS[tens] + (f"-{EN_SMALL[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{EN_SMALL[hundreds]} hundred" + (f" and {en_number(rest)}" if rest else "")
    for value, unit in ((1_000_000, "million"), (1000, "thousand")):
        if n >= value:
            high, rest = divmod(n, value)
            joiner = " and " if 0 < rest < 100 else " "
            return f"{en_number(high)} {unit}" + (f"{joiner}{en_number(rest)}" if rest else "")
    raise ValueError(n)


def spoken_digits(text: str, language: str) -> str:
    """A phone number read out digit by digit, in groups as people say it."""
    digits = re.sub(r"\D", "", text)
    groups = [digits[:3], digits[3:7], digits[7:]] if len(digits) == 11 else [digits]
    if language == "zh":
        return " ".join("".join(ZH_DIGITS[int(d)] for d in g) for g in groups if g)
    return " ".join(" ".join(EN_DIGITS[int(d)] for d in g) for g in groups if g)


def budget_words(amount: int, language: str, voice: bool) -> str:
    wan, rest = divmod(amount, 10_000)
    if language == "zh":
        if rest:
            return f"{amount / 10_000:g}万"
        return f"{zh_number(wan)}万" if voice else f"{wan}万"
    if voice:
        return en_number(amount)
    return f"{amount // 1000}k" if amount % 1000 == 0 else f"{amount:,} RMB"


# Answers to a question (several wordings: the next one is used when the question comes again),
# and statements the persona volunteers.
ANSWERS: Final[dict[str, dict[str, list[str]]]] = {
    "zh": {
        "name": ["我叫{name}", "{name}"],
        "phone": ["{phone}", "手机号是{phone}"],
        "model": ["{models}", "想看{models}"],
        "td_model": ["{td_model}", "试驾{td_model}"],
        "budget": ["{budget}左右", "预算{budget}"],
        "timeline": ["{timeline}", "打算{timeline}买"],
        "payment": ["{payment}", "打算{payment}"],
        "trade_in_yes": ["有，一台{car}", "有"],
        "trade_in_no": ["没有", "没有旧车"],
        "trade_in_vehicle": ["{car}", "是一台{car}"],
        "consent_yes": ["同意", "可以，我同意"],
        "consent_no": ["不同意", "不同意，不要保存我的信息"],
        "licence_yes": ["有驾照", "有"],
        "licence_no": ["没有驾照", "没有"],
        "confirm": ["确认", "对，确认预约"],
        "time": ["{time}", "{time}可以吗"],
    },
    "en": {
        "name": ["{name}", "My name is {name}"],
        "phone": ["{phone}", "My number is {phone}"],
        "model": ["The {models}", "I'm interested in the {models}"],
        "td_model": ["The {td_model}", "I'd like to drive the {td_model}"],
        "budget": ["Around {budget}", "My budget is about {budget}"],
        "timeline": ["{timeline}", "I plan to buy {timeline}"],
        "payment": ["{payment}", "I'd pay with {payment}"],
        "trade_in_yes": ["Yes, a {car}", "Yes"],
        "trade_in_no": ["No", "No, nothing to trade in"],
        "trade_in_vehicle": ["A {car}", "It's a {car}"],
        "consent_yes": ["Yes, I agree", "OK, that's fine"],
        "consent_no": ["No, I'd rather not", "No, please don't keep my details"],
        "licence_yes": ["Yes, I have a licence", "Yes"],
        "licence_no": ["No, I don't have a licence", "No"],
        "confirm": ["Yes", "Yes, book it"],
        "time": ["{time}", "{time} please"],
    },
}
STATEMENTS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "model": "想看看{models}",
        "budget": "预算{budget}左右",
        "timeline": "打算{timeline}买",
        "payment": "{payment}",
        "trade_in_yes": "有一台{car}想置换",
        "trade_in_no": "没有旧车置换",
        "name": "我叫{name}",
        "phone": "电话{phone}",
        "test_drive": "想{time}试驾{td_model}",
        "request_test_drive": "我想预约试驾{td_model}",
        "hello": "你好",
        "goodbye": "没有了，谢谢，再见",
        "give_up": "算了，我还是直接去店里问吧，再见",
    },
    "en": {
        "model": "I'm interested in the {models}",
        "budget": "my budget is around {budget}",
        "timeline": "I plan to buy {timeline}",
        "payment": "I'd pay with {payment}",
        "trade_in_yes": "I'd like to trade in my {car}",
        "trade_in_no": "I have no car to trade in",
        "name": "I'm {name}",
        "phone": "my number is {phone}",
        "test_drive": "I'd like to test drive the {td_model} {time}",
        "request_test_drive": "I'd like to book a test drive of the {td_model}",
        "hello": "Hi",
        "goodbye": "No, that's all. Thanks, bye!",
        "give_up": "Forget it, I'll just come to the showroom. Bye",
    },
}
# The facts of the needs analysis, in the order a persona volunteers them.
NEEDS: Final = ("model", "budget", "timeline", "payment", "trade_in")
YES_NO_QUESTIONS: Final = frozenset({"consent", "trade_in", "licence", "confirm"})
# The same question this many times in a row: the persona takes an offered skip, then leaves.
# The question asking for a fact, for the re-ask notes (time and confirmation may be asked again).
FACT_OF: Final = {
    "name": "name", "phone": "phone", "budget": "budget", "timeline": "timeline",
    "payment": "payment", "trade_in": "trade_in", "trade_in_vehicle": "trade_in_vehicle",
    "consent": "consent", "model": "model", "td_model": "model", "licence": "licence",
}  # fmt: skip
SKIP_AFTER: Final = 3
GIVE_UP_AFTER: Final = 6
SKIP: Final = re.compile(r"^(跳过|skip)$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Reading the assistant: which question is asked


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


# ---------------------------------------------------------------------------------------------
# The user policy


@dataclass
class Move:
    text: str  # what is sent: typed text or a button's payload
    shown: str  # what the customer sees themselves saying (the button's title for a click)
    reading: str | None  # the question the persona thought was asked
    why: str  # answer | agenda | twist | quiet | ask-back | rephrase | goodbye | opening


class Customer:
    """Plays one persona: answers what is asked, else follows its own agenda."""

    def __init__(self, persona: Persona, today: Callable[[], date]) -> None:
        self.persona = persona
        self.language = persona.language
        self.facts = persona.facts
        self.today = today
        self.rng = random.Random(persona.name)  # noqa: S311 (wording, not security)
        self.stated: dict[str, int] = {}  # fact -> user turn it was last said in
        self.asked: dict[str, int] = {}  # question -> times asked
        self.turn = 0
        self.twists = list(persona.twists)
        self.asked_back: set[str] = set()
        self.quiet = list(persona.quiet)
        self.declined = False
        self.booked = False
        self.test_drive_requests = 0
        self.streak = 0  # how many replies in a row asked the same question
        self.gave_up = False
        self.accepted: datetime | None = None  # an offered slot taken instead of the wish
        self.corrections = 0  # wrong booking summaries corrected (twice, then accepted)
        self.time_said_on: date | None = None
        self.done = False
        self.notes: list[str] = []
        # fact -> (user turn it was first said in, assistant replies that asked for it again)
        self.reasked: dict[str, tuple[int, list[int]]] = {}
        self.last: Move | None = None

    # What the persona knows, worded.
    def _values(self) -> dict[str, str]:
        f, lang = self.facts, self.language
        voice = self.persona.style == "voice"
        wish = f.test_drive
        sep = "和" if lang == "zh" else " and "
        return {
            "name": f.name,
            "phone": spoken_digits(f.phone, lang) if voice else f.phone,
            "models": sep.join(f.models),
            "td_model": wish.model if wish else (f.models[0] if f.models else ""),
            "budget": budget_words(f.budget, lang, voice),
            "timeline": (ZH_TIMELINE if lang == "zh" else EN_TIMELINE).get(
                f.timeline_days,
                f"{f.timeline_days}天内" if lang == "zh" else f"in {f.timeline_days} days",
            ),
            "payment": (ZH_PAYMENT if lang == "zh" else EN_PAYMENT)[f.payment],
            "car": f.trade_in or "",
            "time": wish.say if wish else "",
        }

    def _fill(self, key: str, variant: int = 0, statement: bool = False) -> str:
        """The persona's own wording if it has one (``say``: answers by question, statements as
        ``state_<fact>``), else the template; filled in, not yet styled."""
        own = self.persona.say.get(f"state_{key}" if statement else key)
        if own:
            template = own[variant % len(own)]
        elif statement:
            template = STATEMENTS[self.language][key]
        else:
            options = ANSWERS[self.language][key]
            template = options[variant % len(options)]
        return template.format(**self._values())

    def _word(self, key: str, variant: int = 0, statement: bool = False) -> str:
        return self._style(self._fill(key, variant, statement))

    def _style(self, text: str) -> str:
        if self.persona.style != "voice":
            return text
        text = re.sub(r"[，。！？、,.!?;；:：“”\"]", " ", text)
        text = re.sub(r"\s+", " ", text).strip()
        if self.language == "en":
            text = text.lower()
        if self.rng.random() < 0.7:
            filler = self.rng.choice(FILLERS[self.language])
            text = f"{filler} {text}"
        return text

    def _said(self, *facts: str) -> None:
        for fact in facts:
            self.stated[fact] = self.turn
            if fact == "time":
                self.time_said_on = self.today()

    # The conversation.
    def opening(self) -> Move:
        self.turn = 1
        if self.persona.opening:  # the persona's own words, already in its style
            text = self.persona.opening
            self._said(*self.persona.opening_states)
            if "time" in self.persona.opening_states:
                self.test_drive_requests += 1
        elif self.persona.cooperative:
            text = self._all_pending(with_contact=True, with_test_drive=True, greeting=True)
        else:
            text = self._word("hello", statement=True)
        self.last = Move(text, text, None, "opening")
        return self.last

    def respond(self, replies: list[dict[str, Any]]) -> Move | None:
        """The next message, or None once the persona has left."""
        if self.done:
            return None
        self.turn += 1
        reading = read(replies)
        if reading.booked:
            self.booked = True
        if reading.kind is not None:
            self.asked[reading.kind] = self.asked.get(reading.kind, 0) + 1
        fact = FACT_OF.get(reading.kind or "")
        if fact is not None and fact in self.stated:
            self.reasked.setdefault(fact, (self.stated[fact], []))[1].append(self.turn - 1)
        # Asked again right after being answered: one more try. A quiet or a counter-question
        # in between is not a try.
        last = self.last
        if last is None or not reading.kind or last.reading != reading.kind:
            self.streak = 1
        elif last.why in ("answer", "rephrase", "skip"):
            self.streak += 1
        move = self._decide(reading)
        self.last = move
        if move.why == "goodbye":
            self.done = True
        return move

    def _decide(self, reading: Reading) -> Move:
        kind = reading.kind
        twist = self._twist(kind)
        if twist is not None:
            return twist
        if kind in (None, "anything_else"):
            return self._agenda(reading)
        if kind == "fallback":
            return self._rephrase(reading)
        stuck = self._stuck(kind, reading)
        if stuck is not None:
            return stuck
        if kind in self.persona.asks_back and kind not in self.asked_back:
            self.asked_back.add(kind)
            text = self._style(self.persona.asks_back[kind])
            return Move(text, text, kind, "ask-back")
        last_quiet = self.last is not None and self.last.why == "quiet"
        if self.quiet and kind not in YES_NO_QUESTIONS and self.turn > 2 and not last_quiet:
            text = self.quiet.pop(0)
            return Move(text, text, kind, "quiet")
        return self._answer(kind, reading)

    def _stuck(self, kind: str, reading: Reading) -> Move | None:
        """The same question again and again: take the offered skip, and in the end leave."""
        if self.streak >= GIVE_UP_AFTER:
            self.gave_up = True
            self.notes.append(f"U{self.turn}: gave up, {kind} asked {self.streak} times in a row")
            text = self._word("give_up", statement=True)
            return Move(text, text, kind, "goodbye")
        skip = next((b for b in reading.offered if SKIP.search(b["title"])), None)
        if self.streak >= SKIP_AFTER and skip is not None:
            self.notes.append(f"U{self.turn}: skipped {kind} after {self.streak} asks")
            if self.persona.clicks_buttons:
                return Move(skip["payload"], skip["title"], kind, "skip")
            text = self._style(skip["title"])
            return Move(text, text, kind, "skip")
        return None

    def _twist(self, kind: str | None) -> Move | None:
        for twist in self.twists:
            if kind in twist.questions or twist.at_turn == self.turn:
                self.twists.remove(twist)
                self._apply(twist.update)
                text = self._style(twist.say)
                return Move(text, text, kind, "twist")
        return None

    def _apply(self, update: dict[str, Any]) -> None:
        changes: dict[str, Any] = {}
        self.accepted = None
        wish = self.facts.test_drive
        for key, value in update.items():
            if key == "models":
                changes["models"] = tuple(value)
                self._said("model")
            elif key == "test_drive" and wish is not None:
                changes["test_drive"] = replace(wish, **value)
                if "say" in value:
                    self._said("time")
            else:
                changes[key] = value
                self._said(key)
        self.facts = replace(self.facts, **changes)

    def _times_answered(self, kind: str) -> int:
        return self.asked.get(kind, 1) - 1  # the next wording each time the question comes back

    def _answer(self, kind: str, reading: Reading) -> Move:
        f = self.facts
        variant = self._times_answered(kind)
        if kind == "confirm":
            return self._confirm(reading, variant)
        if kind == "trade_in_vehicle" and not f.trade_in:  # asked for a car there is none of
            text = self._word("trade_in_no", 1)
            return Move(text, text, kind, "answer")
        click = self._click(kind, reading)
        if click is not None:
            return click
        if kind == "consent":
            self.declined = not f.consent
            key = "consent_yes" if f.consent else "consent_no"
        elif kind == "trade_in":
            key = "trade_in_yes" if f.trade_in else "trade_in_no"
        elif kind == "licence":
            key = "licence_yes" if f.licence else "licence_no"
        elif kind == "time":
            return self._time(reading, variant)
        else:
            key = kind
        text = self._fill(key, variant)
        self._said("model" if kind == "td_model" else kind)
        if kind == "trade_in" and f.trade_in and f.trade_in in text:
            self._said("trade_in_vehicle")
        text = self._style(text)
        return Move(text, text, kind, "answer")

    def _click(self, kind: str, reading: Reading) -> Move | None:
        """A web user taps the button that says what they mean."""
        if not self.persona.clicks_buttons or not reading.buttons:
            return None
        f = self.facts
        wanted: str | None = None
        if kind == "payment":
            wanted = f'"payment": "{f.payment}"}}'
        elif kind == "timeline":
            wanted = f'"purchase_timeline": {f.timeline_days}}}'
        elif kind in ("consent", "licence", "confirm") or (kind == "trade_in" and not f.trade_in):
            yes = {"consent": f.consent, "licence": f.licence, "confirm": True}.get(kind, False)
            wanted = "/affirm" if yes else "/deny"
        for button in reading.buttons:
            if wanted is not None and button["payload"].endswith(wanted):
                self._said(kind)
                if kind == "consent":
                    self.declined = not f.consent
                return Move(button["payload"], button["title"], kind, "answer")
        return None

    def _time(self, reading: Reading, variant: int) -> Move:
        wish = self.facts.test_drive
        if wish is None:  # asked for a time without wanting a test drive: a plain no
            text = "现在不用了" if self.language == "zh" else "Not now, thanks"
            return Move(text, text, "time", "answer")
        target = wish.start(self.today())
        offered = [
            (b, moment.replace(tzinfo=None))
            for b in reading.offered
            if (moment := button_time(b)) is not None
        ]
        for button, moment in offered:
            if self.persona.clicks_buttons and moment == target:
                self._said("time")
                return Move(button["payload"], button["title"], "time", "answer")
        if self.streak >= 3 and offered:
            # Said twice and still offered other times: takes the nearest free one, as people do.
            button, self.accepted = min(offered, key=lambda pair: abs(pair[1] - target))
            self.notes.append(f"U{self.turn}: gave up on {wish.say!r}, took {button['title']}")
            return Move(button["payload"], button["title"], "time", "answer")
        self._said("time")
        text = self._word("time", variant)
        return Move(text, text, "time", "answer")

    def _confirm(self, reading: Reading, variant: int) -> Move:
        """Checks the summary before saying yes; a wrong detail is corrected."""
        wish = self.facts.test_drive
        summary = reading.message
        wrong = []
        if wish is not None:
            if wish.model not in summary:
                wrong.append("model")
            wanted = self.accepted or wish.start(self.today())
            if wanted.strftime("%H:%M") not in summary:
                wrong.append("time")
        if self.facts.name not in summary:
            wrong.append("name")
        if wrong:
            self.notes.append(f"A{self.turn - 1}: the summary got the {', '.join(wrong)} wrong")
        if wrong and self.corrections < 2:
            self.corrections += 1
            fix = {
                "model": self._fill("td_model", 1),
                "time": self._fill("time", 0),
                "name": self._fill("name", 0),
            }[wrong[0]]
            text = self._style(("不对，" if self.language == "zh" else "No, ") + fix)
            return Move(text, text, "confirm", "answer")
        click = self._click("confirm", reading)
        if click is not None:
            return click
        text = self._word("confirm", variant)
        return Move(text, text, "confirm", "answer")

    def _rephrase(self, reading: Reading) -> Move:
        """Not understood: say the last answer another way, or go on with the agenda."""
        last = self.last
        if last is not None and last.why == "answer" and last.reading:
            self.asked[last.reading] = self.asked.get(last.reading, 0) + 1
            move = self._answer(last.reading, replace(reading, kind=last.reading, buttons=[]))
            move.why = "rephrase"
            return move
        return self._agenda(reading)

    def _pending(self, with_contact: bool) -> list[str]:
        """Facts of the needs analysis (and contact, for those who volunteer it) not said yet."""
        f = self.facts
        facts = [n for n in NEEDS if n != "model" or f.models]
        if with_contact and f.consent:
            facts += ["name", "phone"]
        return [x for x in facts if x not in self.stated]

    def _statement(self, fact: str) -> str:
        """A fact volunteered, unstyled; "有一台…想置换" says the trade-in car too."""
        if fact == "trade_in":
            self._said("trade_in", *(["trade_in_vehicle"] if self.facts.trade_in else []))
            return self._fill(
                "trade_in_yes" if self.facts.trade_in else "trade_in_no", statement=True
            )
        self._said(fact)
        return self._fill(fact, statement=True)

    def _all_pending(self, with_contact: bool, with_test_drive: bool, greeting: bool) -> str:
        parts = [self._fill("hello", statement=True)] if greeting else []
        parts += [self._statement(fact) for fact in self._pending(with_contact)]
        wish = self.facts.test_drive
        if with_test_drive and wish is not None and not self.booked:
            parts.append(self._fill("test_drive", statement=True))
            self._said("time")
            self.test_drive_requests += 1
        return self._style(("，" if self.language == "zh" else ", ").join(parts))

    def _agenda(self, reading: Reading) -> Move:
        """Nothing (recognizable) asked: the next unstated fact, then the test drive, then bye."""
        kind = reading.kind
        contact = self.persona.cooperative and not self.declined
        pending = self._pending(with_contact=contact)
        if pending:
            if self.persona.cooperative:
                text = self._all_pending(contact, with_test_drive=False, greeting=False)
            else:
                text = self._style(self._statement(pending[0]))
            return Move(text, text, kind, "agenda")
        wish = self.facts.test_drive
        if (
            wish is not None
            and not self.booked
            and not self.declined
            and self.test_drive_requests < 2
        ):
            self.test_drive_requests += 1
            key = (
                "test_drive"
                if self.persona.cooperative or "time" in self.stated
                else "request_test_drive"
            )
            if key == "test_drive":
                self._said("time")
            text = self._word(key, statement=True)
            return Move(text, text, kind, "agenda")
        text = self._word("goodbye", statement=True)
        return Move(text, text, kind, "goodbye")


# ---------------------------------------------------------------------------------------------
# The records: CLI exports of the stack's database


def export(stack: Stack, what: str) -> list[dict[str, Any]]:
    """`dealer-assistant leads|bookings export --format json`, as a dealership's CRM calls it."""
    result = subprocess.run(
        [CLI, what, "export", "--format", "json"],
        env={**os.environ, "DATABASE_URL": stack.settings.effective_database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records


@dataclass(frozen=True)
class Snapshot:
    leads: list[dict[str, Any]]
    bookings: list[dict[str, Any]]

    @classmethod
    def take(cls, stack: Stack) -> Snapshot:
        return cls(export(stack, "leads"), export(stack, "bookings"))

    def since(self, before: Snapshot) -> Snapshot:
        """The records written or changed after ``before``."""
        old_leads = {r["id"]: r for r in before.leads}
        old_bookings = {r["id"]: r for r in before.bookings}
        return Snapshot(
            [r for r in self.leads if old_leads.get(r["id"]) != r],
            [r for r in self.bookings if old_bookings.get(r["id"]) != r],
        )


def e164(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return "+" + digits if phone.strip().startswith("+") else "+86" + digits


# ---------------------------------------------------------------------------------------------
# Running a persona


@dataclass
class Turn:
    number: int
    move: Move
    replies: list[dict[str, Any]]
    seconds: float
    lead_status: str | None
    booked: bool


@dataclass
class Outcome:
    persona: Persona
    sender: str
    turns: list[Turn]
    differences: list[str]
    notes: list[str]
    turns_to_qualified: int | None
    turns_to_booking: int | None
    ended: str  # goodbye | turn budget | no reply
    seconds: float
    records: Snapshot

    @property
    def passed(self) -> bool:
        return not self.differences

    def reason(self) -> str:
        return "; ".join(self.differences) if self.differences else "records as expected"

    def transcript(self) -> str:
        p = self.persona
        lines = [
            f"=== {p.name} ({p.language}, {p.style}) sender={self.sender}: "
            f"{'PASS' if self.passed else 'FAIL'}",
            f"    {p.description}" if p.description else "",
        ]
        for turn in self.turns:
            m = turn.move
            clicked = f" [clicked: {m.shown}]" if m.text != m.shown else ""
            read_as = f" (read: {m.reading})" if m.reading else ""
            lines.append(f"U{turn.number} [{m.why}{read_as}]{clicked}: {m.text}")
            for reply in turn.replies:
                buttons = " | ".join(str(b.get("title")) for b in reply.get("buttons") or [])
                lines.append(
                    f"  A{turn.number}: {reply.get('text', '')}"
                    + (f"  [{buttons}]" if buttons else "")
                )
            if not turn.replies:
                lines.append(f"  A{turn.number}: (no reply)")
            lines.append(
                f"  -- lead: {turn.lead_status or '-'}; booking: {'yes' if turn.booked else '-'}"
            )
        lines.append(f"ended: {self.ended}")
        for note in self.notes:
            lines.append(f"note: {note}")
        for difference in self.differences:
            lines.append(f"DIFF: {difference}")
        lines.append("records written: " + json.dumps(
            {"leads": self.records.leads, "bookings": self.records.bookings}, ensure_ascii=False
        ))  # fmt: skip
        return "\n".join(line for line in lines if line)


def run_persona(stack: Stack, persona: Persona, poll: bool = True) -> Outcome:
    """One whole conversation over the REST channel, then the exports checked."""
    zone = stack.settings.timezone
    sender = f"sim-{persona.name}-{uuid.uuid4().hex[:8]}"
    customer = Customer(persona, today=lambda: datetime.now(zone).date())
    before = Snapshot.take(stack)
    started = time.monotonic()
    turns: list[Turn] = []
    answered = 0
    to_qualified: int | None = None
    to_booking: int | None = None
    ended = "turn budget"
    move: Move | None = customer.opening()
    while move is not None:
        if len(turns) >= persona.turn_budget:
            break
        t0 = time.monotonic()
        replies = stack.say(sender, move.text)
        seconds = time.monotonic() - t0
        if replies:
            answered += 1
        status, booked = None, False
        if poll:
            mine = Snapshot.take(stack).since(before)
            lead = _lead_of(mine, persona)
            status = lead["status"] if lead else None
            booked = any(b["status"] in ACTIVE_BOOKING for b in mine.bookings)
            if to_qualified is None and status in QUALIFIED:
                to_qualified = answered
            if to_booking is None and booked:
                to_booking = answered
        turns.append(Turn(len(turns) + 1, move, replies, seconds, status, booked))
        if not replies:
            customer.notes.append(f"A{len(turns)}: no reply to {move.text!r}")
        if move.why == "goodbye":
            ended = "goodbye"
            break
        move = customer.respond(replies)
    final = Snapshot.take(stack).since(before)
    notes = customer.notes + _observations(turns, customer)
    differences = check(persona, customer, final)
    if ended == "turn budget":
        last = turns[-1].move if turns else None
        asked = f"; the assistant was asking: {last.reading}" if last and last.reading else ""
        differences.append(f"turn budget ({persona.turn_budget}) used up{asked}")
    return Outcome(
        persona, sender, turns, differences, notes, to_qualified, to_booking, ended,
        time.monotonic() - started, final,
    )  # fmt: skip


def _lead_of(mine: Snapshot, persona: Persona) -> dict[str, Any] | None:
    phone = e164(persona.facts.phone)
    for lead in mine.leads:
        if lead["phone"] == phone:
            return lead
    return mine.leads[-1] if mine.leads else None


def _observations(turns: list[Turn], customer: Customer) -> list[str]:
    """What went wrong in the conversation, read from the transcript (for the failure analysis)."""
    notes = []
    for fact, (said, replies) in customer.reasked.items():
        where = ", ".join(f"A{n}" for n in replies)
        notes.append(f"{fact} asked again though said in U{said}: {where}")
    for turn in turns:
        for reply in turn.replies:
            text = str(reply.get("text") or "")
            if text and not _in_language(text, customer.language):
                notes.append(f"A{turn.number} not in {customer.language}: {text[:60]!r}")
                break
        if turn.move.why == "agenda" and turn.move.reading is None and turn.number > 1:
            before = turns[turn.number - 2].replies
            closing = read(before)
            if not (closing.booked or closing.qualified or closing.declined):
                shown = " / ".join(str(r.get("text") or "")[:50] for r in before)
                notes.append(f"A{turn.number - 1}: no question recognized in {shown!r}")
    return notes


def _in_language(text: str, language: str) -> bool:
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    if language == "zh":
        return cjk > 0 or len(re.findall(r"[A-Za-z]{2,}", text)) < 3
    return cjk <= 0.4 * (cjk + latin)


def _same(expected: Any, got: Any, key: str) -> bool:
    if key == "model_interest":
        return sorted(expected or []) == sorted(got or [])
    return bool(expected == got)


def check(persona: Persona, customer: Customer, mine: Snapshot) -> list[str]:
    """What differs between the records the conversation wrote and those the persona expects."""
    differences: list[str] = []
    want_lead = persona.expect_lead
    if want_lead is None:
        if mine.leads:
            differences.append(
                f"{len(mine.leads)} lead(s) stored although nothing should be "
                f"(phones {[r['phone'] for r in mine.leads]}, consent {[r['consent'] for r in mine.leads]})"
            )
        if mine.bookings:
            differences.append(f"{len(mine.bookings)} booking(s) stored although nothing should be")
        return differences
    phone = want_lead.get("phone")
    leads = [r for r in mine.leads if phone is None or r["phone"] == phone]
    if len(mine.leads) > 1:
        differences.append(f"{len(mine.leads)} leads written for one customer")
    if not leads:
        got = mine.leads[-1] if mine.leads else None
        if got is None:
            differences.append(f"no lead written (expected one for {phone})")
            return differences + _check_booking(persona, customer, mine, None)
        differences.append(f"phone: expected {phone}, got {got['phone']}")
        leads = [got]
    lead = leads[-1]
    for key, value in want_lead.items():
        if key == "trade_in_vehicle_contains":
            vehicle = lead.get("trade_in_vehicle") or ""
            if str(value).lower() not in vehicle.lower():
                differences.append(
                    f"trade_in_vehicle: expected to mention {value!r}, got {vehicle!r}"
                )
        elif key == "status_in":
            if lead["status"] not in value:
                differences.append(f"status: expected one of {value}, got {lead['status']}")
        elif key == "phone":
            continue  # matched above
        elif not _same(value, lead.get(key), key):
            differences.append(f"{key}: expected {value!r}, got {lead.get(key)!r}")
    return differences + _check_booking(persona, customer, mine, lead)


def _check_booking(
    persona: Persona, customer: Customer, mine: Snapshot, lead: dict[str, Any] | None
) -> list[str]:
    want = persona.expect_booking
    active = [b for b in mine.bookings if b["status"] in ACTIVE_BOOKING]
    if want is None:
        return [f"unexpected booking: {b['model']} at {b['start']}" for b in active]
    if not active:
        return [f"no test drive booked (expected {want['model']} {want['day']} {want['at']})"]
    differences = []
    if len(active) > 1:
        differences.append(f"{len(active)} active bookings for one customer")
    booking = active[-1]
    wish = Wish(str(want["model"]), str(want["day"]), str(want["at"]), "")
    said_on = customer.time_said_on or customer.today()
    expected_start = wish.start(said_on)
    start = datetime.fromisoformat(booking["start"]).replace(tzinfo=None)
    if booking["model"] != wish.model:
        differences.append(f"booking model: expected {wish.model}, got {booking['model']}")
    if start != expected_start:
        differences.append(
            f"booking start: expected {expected_start:%a %Y-%m-%d %H:%M}, got {start:%a %Y-%m-%d %H:%M}"
        )
    want_lead = persona.expect_lead or {}
    for key, field_name in (("name", "customer_name"), ("phone", "phone")):
        if key in want_lead and booking.get(field_name) != want_lead[key]:
            differences.append(
                f"booking {field_name}: expected {want_lead[key]!r}, got {booking.get(field_name)!r}"
            )
    if lead is not None and booking.get("lead_id") != lead["id"]:
        differences.append(f"booking lead_id {booking.get('lead_id')} is not the lead {lead['id']}")
    return differences


# ---------------------------------------------------------------------------------------------
# The stack, the report


@contextmanager
def simulation_stack(var_dir: Path) -> Iterator[Stack]:
    """Rasa and the action server on free ports, with their database in ``var_dir``."""
    settings = make_settings(
        var_dir, rasa_port=free_port(), actions_port=free_port(), gateway_port=free_port()
    )
    with running_stack(settings) as stack:
        yield stack


def _turns(value: int | None) -> str:
    return "—" if value is None else str(value)


def summary_table(outcomes: list[Outcome]) -> list[str]:
    rows = [
        "| persona | lang | style | result | turns to qualified | turns to booking | user turns | why |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        reason = o.reason().replace("|", "\\|")
        rows.append(
            f"| {o.persona.name} | {o.persona.language} | {o.persona.style} | "
            f"{'pass' if o.passed else '**fail**'} | {_turns(o.turns_to_qualified)} | "
            f"{_turns(o.turns_to_booking)} | {len(o.turns)} | {reason} |"
        )
    return rows


def targets(outcomes: list[Outcome]) -> list[str]:
    passed = sum(o.passed for o in outcomes)
    share = passed / len(outcomes) if outcomes else 0.0
    lines = [
        "| target | measured | met |",
        "| --- | --- | --- |",
        f"| every persona ends with the right records | {passed}/{len(outcomes)} = {share:.0%} | "
        f"{'yes' if passed == len(outcomes) else 'no'} |",
    ]
    for o in outcomes:
        if not o.persona.cooperative:
            continue
        q, b = o.turns_to_qualified, o.turns_to_booking
        needs_booking = o.persona.expect_booking is not None
        worst = max(q or 10**6, (b or 10**6) if needs_booking else 0)
        met = worst <= COOPERATIVE_TURNS
        lines.append(
            f"| cooperative buyer `{o.persona.name}` qualified and booked in ≤ {COOPERATIVE_TURNS} "
            f"assistant turns | qualified {_turns(q)}, booked {_turns(b)} | {'yes' if met else 'no'} |"
        )
    return lines


def report_section(outcomes: list[Outcome], command: str, seconds: float, zone: ZoneInfo) -> str:
    today = datetime.now(zone).date().isoformat()
    lines = [
        "## Conversations: user simulator",
        "",
        f"Measured with `{command}` on {today}, {os.cpu_count()} cores, {seconds:.0f} s: "
        f"{len(outcomes)} personas (`bench/personas/`) talk to the trained assistant over the REST "
        "channel; the records are read back with `dealer-assistant leads export` and `bookings export`. "
        "Turns are assistant replies (one per user message answered) until the export first shows the "
        "lead qualified (or later) and the booking; the cooperative target applies to the buyers who "
        "say everything at once.",
        "",
        *targets(outcomes),
        "",
        *summary_table(outcomes),
        "",
    ]
    observed = [o for o in outcomes if o.notes]
    if observed:
        lines += ["What the transcripts show (U = user message, A = assistant reply):", ""]
        lines += [f"- `{o.persona.name}`: " + "; ".join(o.notes) for o in observed]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--personas", type=Path, default=PERSONAS, help="folder of persona files")
    parser.add_argument("--only", action="append", help="run only this persona (repeatable)")
    parser.add_argument(
        "--report", type=Path, help=f"benchmarks file (default {RESULTS}; not written with --only)"
    )
    parser.add_argument(
        "--no-poll",
        action="store_true",
        help="check the exports only at the end (faster; the turns to qualified/booked are not measured)",
    )
    args = parser.parse_args(argv)
    personas = load_personas(args.personas, args.only)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="da-sim-") as tmp, simulation_stack(Path(tmp)) as stack:
        zone = stack.settings.timezone
        print(
            f"stack up in {time.monotonic() - started:.0f} s; {len(personas)} personas", flush=True
        )
        for persona in personas:
            outcome = run_persona(stack, persona, poll=not args.no_poll)
            outcomes.append(outcome)
            print(
                f"{'PASS' if outcome.passed else 'FAIL'} {persona.name:<22} "
                f"qualified@{_turns(outcome.turns_to_qualified):>2} booked@{_turns(outcome.turns_to_booking):>2} "
                f"turns {len(outcome.turns):>2} {outcome.seconds:5.1f}s  {outcome.reason()}",
                flush=True,
            )
    seconds = time.monotonic() - started
    failures = [o for o in outcomes if not o.passed]
    FAILURES_DIR.mkdir(parents=True, exist_ok=True)
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    every = FAILURES_DIR / f"transcripts-{stamp}.txt"
    every.write_text("\n\n".join(o.transcript() for o in outcomes) + "\n", encoding="utf-8")
    if failures:
        path = FAILURES_DIR / f"failures-{stamp}.txt"
        text = "\n\n".join(o.transcript() for o in failures) + "\n"
        path.write_text(text, encoding="utf-8")
        print("\n" + text)
        print(f"failure transcripts: {path.relative_to(ROOT)}")
    print(f"all transcripts: {every.relative_to(ROOT)}")
    command = COMMAND + "".join(f" --only {name}" for name in args.only or [])
    print("\n" + "\n".join(targets(outcomes)))
    if args.report is not None or not args.only:
        write_section(report_section(outcomes, command, seconds, zone), args.report or RESULTS)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
