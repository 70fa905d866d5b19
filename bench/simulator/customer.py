"""The user policy: answers what is asked, else follows the persona's own agenda."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from bench.simulator.personas import Persona
from bench.simulator.reading import Reading, button_time, read
from bench.simulator.wording import (
    ANSWERS,
    EN_PAYMENT,
    EN_TIMELINE,
    FACT_OF,
    FILLERS,
    GIVE_UP_AFTER,
    NEEDS,
    SKIP,
    SKIP_AFTER,
    STATEMENTS,
    YES_NO_QUESTIONS,
    ZH_PAYMENT,
    ZH_TIMELINE,
    budget_words,
    spoken_digits,
)


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
