"""The user simulator (bench/simulate.py) against the real assistant: two personas talk over the
REST channel, and the records they should leave are read back through the CLI exports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest

from bench.simulator.personas import PERSONAS, Persona, load_persona
from bench.simulator.runner import Outcome, run_persona
from tests.integration.stack import Stack, export, stack_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack_in(tmp_path_factory.mktemp("simulator")) as running:
        yield running


def converse(stack: Stack, name: str) -> tuple[Persona, Outcome]:
    """The whole conversation; the simulator's own check of the exports must find no difference."""
    persona = load_persona(PERSONAS / f"{name}.yml")
    outcome = run_persona(stack, persona)
    assert outcome.passed, outcome.transcript()
    assert outcome.ended == "goodbye", outcome.transcript()
    return persona, outcome


def check_records(stack: Stack, persona: Persona, today: date) -> dict[str, Any]:
    """The persona's lead and booking as `leads export` and `bookings export` print them."""
    expected = persona.expect_lead
    assert expected is not None
    [lead] = [r for r in export(stack, "leads") if r["phone"] == expected["phone"]]
    for key in ("name", "model_interest", "budget_cny_max", "purchase_timeline_days", "payment",
                "trade_in", "consent"):  # fmt: skip
        assert lead[key] == expected[key], key
    bookings = [r for r in export(stack, "bookings") if r["phone"] == expected["phone"]]
    want = persona.expect_booking
    if want is None:
        assert bookings == []
        assert lead["status"] == "qualified"
        return lead
    [booking] = bookings
    assert booking["lead_id"] == lead["id"]
    assert (booking["model"], booking["status"]) == (want["model"], "booked")
    assert booking["customer_name"] == expected["name"]
    wish = persona.facts.test_drive
    assert wish is not None
    start = datetime.fromisoformat(booking["start"])
    assert start.utcoffset() is not None  # the dealer's zone, with its offset
    assert start.replace(tzinfo=None) == wish.start(today)
    assert lead["status"] == "test_drive_booked"
    return lead


def test_chinese_buyer_who_says_everything_at_once_is_qualified_and_booked(stack: Stack) -> None:
    today = datetime.now(stack.settings.timezone).date()  # the dealer's day, whatever the machine's
    persona, outcome = converse(stack, "zh-all-at-once")
    lead = check_records(stack, persona, today)  # booked for 明天下午三点
    assert (lead["name"], lead["phone"], lead["model_interest"]) == (
        "王磊",
        "+8613812345678",
        ["Q5L"],
    )
    assert (lead["budget_cny_max"], lead["payment"], lead["trade_in"]) == (450000, "cash", False)
    assert outcome.turns_to_qualified is not None
    assert outcome.turns_to_booking is not None  # measured from the exports after each turn


def test_english_step_by_step_buyer_ends_with_the_right_lead(stack: Stack) -> None:
    today = datetime.now(stack.settings.timezone).date()
    persona, outcome = converse(stack, "en-step-by-step")
    lead = check_records(stack, persona, today)  # booked for Saturday at 10am
    assert (lead["name"], lead["phone"]) == ("Sarah Johnson", "+8613901234567")
    assert (lead["model_interest"], lead["budget_cny_max"]) == (["Q5L"], 450000)
    assert (lead["purchase_timeline_days"], lead["payment"]) == (90, "loan")
    assert outcome.turns_to_qualified is not None
