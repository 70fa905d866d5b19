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

The simulator lives in `bench/simulator/`: `personas` (the files), `wording` (facts said in a
language and style), `reading` (which question a reply asks), `customer` (the user policy),
`runner` (one conversation and the checks of its records) and `report`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project's packages and tests/
    sys.path.insert(0, str(ROOT))

from bench.report import RESULTS, write_section  # noqa: E402
from bench.simulator.personas import PERSONAS, load_personas  # noqa: E402
from bench.simulator.report import report_section, simulation_stack, targets, turns  # noqa: E402
from bench.simulator.runner import Outcome, run_persona  # noqa: E402

FAILURES_DIR: Final = ROOT / "var" / "simulator"
COMMAND: Final = ".venv/bin/python bench/simulate.py"


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
                f"qualified@{turns(outcome.turns_to_qualified):>2} booked@{turns(outcome.turns_to_booking):>2} "
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
