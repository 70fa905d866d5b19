"""The stack for a simulation run and the report: tables, targets, the benchmarks section."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from bench.simulator.runner import Outcome
from tests.conftest import make_settings
from tests.integration.stack import Stack, free_port, running_stack

# The target from the issue: a cooperative buyer is qualified and booked within this many turns.
COOPERATIVE_TURNS: Final = 6


@contextmanager
def simulation_stack(var_dir: Path) -> Iterator[Stack]:
    """Rasa and the action server on free ports, with their database in ``var_dir``."""
    settings = make_settings(
        var_dir, rasa_port=free_port(), actions_port=free_port(), gateway_port=free_port()
    )
    with running_stack(settings) as stack:
        yield stack


def turns(value: int | None) -> str:
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
            f"{'pass' if o.passed else '**fail**'} | {turns(o.turns_to_qualified)} | "
            f"{turns(o.turns_to_booking)} | {len(o.turns)} | {reason} |"
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
            f"assistant turns | qualified {turns(q)}, booked {turns(b)} | {'yes' if met else 'no'} |"
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
