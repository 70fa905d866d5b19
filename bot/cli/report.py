"""`report`: the managers' reports (funnel, sources, hand-off times, show rate, satisfaction,
NPS, complaints) as PNG charts and CSV tables for a period of the dealer's days."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crm_bridge.settings import Settings


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge.db import build_engine, build_session_factory
    from crm_bridge.reports import build, metrics
    from crm_bridge.reports.period import PeriodError, parse_period
    from crm_bridge.surveys.config import cached

    try:
        period = parse_period(args.since, args.until, settings.timezone)
    except PeriodError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    try:
        surveys = cached(settings.survey_config_path)
    except (OSError, ValueError) as exc:
        print(f"report: the survey configuration cannot be read: {exc}", file=sys.stderr)
        return 2
    engine = build_engine(settings.effective_database_url)
    try:
        with build_session_factory(engine)() as session:
            data = metrics.collect(session, period, surveys)
    finally:
        engine.dispose()
    try:
        written = build.write(data, args.out, progress=not args.no_progress)
    except OSError as exc:
        print(f"report: cannot write to {args.out}: {exc}", file=sys.stderr)
        return 1
    print(f"{period.label}: {len(written)} files in {args.out}")
    for path in written:
        print(path)
    return 0


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
    report = commands.add_parser(
        "report",
        help="PNG charts and CSV tables for a period",
        description="Charts and tables of a period of the dealer's days (both dates included, "
        "in DEALER_TIMEZONE): lead funnel, leads by channel and level, hand-off response times, "
        "test-drive show rate, satisfaction per question, NPS, complaints by cause.",
    )
    report.add_argument("--since", required=True, metavar="DATE", help="first day, 2026-11-01")
    report.add_argument("--until", required=True, metavar="DATE", help="last day, 2026-11-30")
    report.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    report.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    report.set_defaults(handler=_report)
