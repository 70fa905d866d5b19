"""`customers`: a customer's data request (PIPL) at the desk or by letter."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crm_bridge.settings import Settings


def _customers(args: argparse.Namespace, settings: Settings) -> int:
    """A data request at the desk or by letter (PIPL): show, erase, audit a phone number."""
    import json

    from actions.slots import clean_phone
    from actions.transcripts import Transcripts
    from crm_bridge import customers
    from crm_bridge.db import build_engine, build_session_factory, transaction
    from crm_bridge.outbox import Outbox
    from crm_bridge.types import utcnow

    phone = clean_phone(args.phone)
    if phone is None:
        print(f"not a phone number: {args.phone!r}", file=sys.stderr)
        return 2
    engine = build_engine(settings.effective_database_url)
    tracker = build_engine(settings.effective_tracker_store_url)
    try:
        if args.customers_command == "show":
            with build_session_factory(engine)() as session:
                found = customers.profile(session, phone, settings.timezone)
            if found is None:
                print(f"no customer or booking with {phone}", file=sys.stderr)
                return 1
            print(json.dumps(found, ensure_ascii=False, indent=2))
            return 0
        if args.customers_command == "erase":
            key = settings.effective_erasure_key()
            with transaction(build_session_factory(engine)) as session:
                senders = customers.erase_by_phone(session, phone, utcnow(), key)
            if senders is None:
                print(f"no customer or booking with {phone}: nothing to erase", file=sys.stderr)
                return 1
            events = Transcripts(tracker).redact(senders)
            # Writes kept while the database was down lose the number too (waiting or failed).
            Outbox(settings.outbox_path, build_session_factory(engine)).redact(
                set(senders), {phone}
            )
            print(f"erased {phone}: customer record, leads' free text, bookings, survey comments "
                  f"and {len(senders)} conversation transcript(s) ({events} events)")  # fmt: skip
        with build_session_factory(engine)() as session:
            places = customers.places_in_database(session, phone)
        mentions = Transcripts(tracker).rows_mentioning(customers.spellings(phone))
        if mentions:
            places.append(customers.Place("tracker store: events.data", mentions))
        places += customers.places_in_outbox(settings.outbox_path, phone)
    finally:
        engine.dispose()
        tracker.dispose()
    for place in places:
        print(f"{place.where}: {place.rows} row(s)")
    if args.customers_command == "audit" and not places:
        print(f"{phone} appears nowhere")
    return 1 if places else 0


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
    people = commands.add_parser("customers", help="a customer's data request (PIPL), by phone")
    people_commands = people.add_subparsers(dest="customers_command", required=True)
    for name, what in (
        ("show", "print everything held on the customer with this number (JSON)"),
        ("erase", "erase them, their bookings and transcripts; then list what still holds it"),
        ("audit", "list every place the number still appears (exit code 1 if any)"),
    ):
        people_commands.add_parser(name, help=what).add_argument("phone", help="e.g. 13800138000")
    people.set_defaults(handler=_customers)
