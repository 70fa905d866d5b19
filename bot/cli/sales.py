"""`leads` and `bookings`: what the sales team reads and records from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crm_bridge.settings import Settings


def _leads(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import exports
    from crm_bridge.db import build_engine, build_session_factory

    engine = build_engine(settings.effective_database_url)
    try:
        with build_session_factory(engine)() as session:
            if args.format == "adf":
                sys.stdout.buffer.write(exports.to_adf(session, settings.timezone))
                return 0
            records = exports.lead_records(session, settings.timezone)
    finally:
        engine.dispose()
    if args.leads_command == "list":
        sys.stdout.write(exports.to_table(records, include_closed=args.all))
        return 0
    sys.stdout.write(
        exports.to_json(records) + "\n" if args.format == "json" else exports.to_csv(records)
    )
    return 0


def _bookings(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import bookings, exports
    from crm_bridge.db import build_engine, build_session_factory, transaction
    from crm_bridge.surveys.config import cached
    from crm_bridge.surveys.service import test_drive_delay
    from crm_bridge.types import utcnow

    engine = build_engine(settings.effective_database_url)
    now = utcnow()
    try:
        if args.bookings_command == "mark":
            try:
                with transaction(build_session_factory(engine)) as session:
                    booking = bookings.mark_outcome(
                        session, args.id, args.outcome, now=now, source="cli",
                        survey_after=test_drive_delay(cached(settings.survey_config_path)),
                    )  # fmt: skip
                    start = booking.start.astimezone(settings.timezone)
                    done = (
                        f"booking {booking.id} ({booking.model_code}, "
                        f"{start:%Y-%m-%d %H:%M}, {booking.customer_name or 'no name'}) "
                        f"marked {booking.status}"
                    )
            except bookings.BookingError as exc:
                print(f"not marked: {exc}", file=sys.stderr)
                return 2
            if args.outcome == "completed":
                done += "; post-test-drive survey scheduled"
            print(done)
            return 0
        with build_session_factory(engine)() as session:
            records = bookings.booking_records(session, settings.timezone)
    finally:
        engine.dispose()
    if args.bookings_command == "list":
        sys.stdout.write(exports.bookings_table(records, now=now, include_all=args.all))
    else:
        sys.stdout.write(exports.to_json(records) + "\n")
    return 0


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
    leads = commands.add_parser("leads", help="leads in the dealership database")
    leads_commands = leads.add_subparsers(dest="leads_command", required=True)
    export = leads_commands.add_parser("export", help="print every lead to stdout")
    export.add_argument("--format", choices=("json", "csv", "adf"), default="json")
    listing = leads_commands.add_parser(
        "list", help="open leads for consultants, hottest first (level H, A, B, C)"
    )
    listing.add_argument("--all", action="store_true", help="include won and lost leads")
    leads.set_defaults(handler=_leads, format=None)

    booking = commands.add_parser("bookings", help="test-drive bookings")
    booking_commands = booking.add_subparsers(dest="bookings_command", required=True)
    export = booking_commands.add_parser("export", help="print every booking to stdout")
    export.add_argument("--format", choices=("json",), default="json")
    listing = booking_commands.add_parser("list", help="upcoming active bookings, by start")
    listing.add_argument(
        "--all", action="store_true", help="include past, cancelled and finished bookings"
    )
    mark = booking_commands.add_parser(
        "mark", help="record the outcome of a test drive once it has started"
    )
    mark.add_argument("id", type=int, help="booking id")
    mark.add_argument("outcome", choices=("completed", "no_show"))
    booking.set_defaults(handler=_bookings)
