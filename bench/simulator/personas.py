"""Personas: who the simulated buyer is, what they say and what records they should leave."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import yaml

from bench.simulator.common import ROOT

PERSONAS: Final = ROOT / "bench" / "personas"
STYLES: Final = (
    "all_at_once", "step_by_step", "questioning", "changes_mind", "quiet", "voice",
    "declines_consent", "trade_in",
)  # fmt: skip
WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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
