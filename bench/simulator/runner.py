"""Running a persona through the REST channel and checking the exported records."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bench.simulator.customer import Customer, Move
from bench.simulator.personas import Persona, Wish
from bench.simulator.reading import read
from tests.integration.stack import Stack, export

# Lead statuses at or past "qualified" (DESIGN.md: new|qualified|handed_off|...).
QUALIFIED: Final = frozenset({"qualified", "handed_off", "contacted", "test_drive_booked", "won"})
ACTIVE_BOOKING: Final = frozenset({"booked", "rescheduled"})


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
