"""`dealer-assistant`: run the assistant, train the model, migrate the database, export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crm_bridge.logsafe import redact_logs
from crm_bridge.settings import Settings, keep_private


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime.launcher import run

    return run(settings, host=args.host)


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime.model import ensure_model

    path, trained = ensure_model(settings, force=args.force)
    print(f"{'trained' if trained else 'up to date'}: {path}")
    return 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import migrate

    url = settings.effective_database_url
    if args.db_command == "upgrade":
        migrate.upgrade(url, args.revision)
    elif args.db_command == "downgrade":
        migrate.downgrade(url, args.revision)
    else:
        migrate.current(url)
    return 0


def _data(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from bot.runtime.launcher import load_data

    path = args.file or settings.dealer_data_path
    try:
        data = load_data(settings, path)
    except (OSError, ValidationError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    print(f"loaded {path}: {len(data.catalog)} models, {len(data.consultants)} consultants")
    return 0


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
    from crm_bridge.types import utcnow

    engine = build_engine(settings.effective_database_url)
    now = utcnow()
    try:
        if args.bookings_command == "mark":
            try:
                with transaction(build_session_factory(engine)) as session:
                    booking = bookings.mark_outcome(
                        session, args.id, args.outcome, now=now, source="cli"
                    )
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


def _surveys(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import exports
    from crm_bridge.db import build_engine, build_session_factory

    engine = build_engine(settings.effective_database_url)
    try:
        with build_session_factory(engine)() as session:
            records = exports.survey_records(session, settings.timezone)
    finally:
        engine.dispose()
    sys.stdout.write(exports.to_json(records) + "\n")
    return 0


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


def _staff(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import staff
    from crm_bridge.db import build_engine, build_session_factory, transaction

    engine = build_engine(settings.effective_database_url)
    try:
        with transaction(build_session_factory(engine)) as session:
            if args.staff_command == "add":
                entry = staff.StaffEntry(args.telegram_id, args.name, args.role)
                row = staff.add(session, entry)
                print(f"{row.role} {row.name} (Telegram {row.telegram_user_id}) registered")
            elif args.staff_command == "remove":
                row = staff.remove(session, args.telegram_id)
                print(f"{row.name} (Telegram {row.telegram_user_id}) removed")
            else:
                for row in staff.listing(session):
                    print(f"{row.telegram_user_id}\t{row.role}\t{row.name}")
    except staff.StaffError as exc:
        print(f"not changed: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealer-assistant", description="Dealer Assistant: the dealership's chat assistant."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="prepare and start Rasa, actions and gateway")
    run.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    run.set_defaults(handler=_run)

    train = commands.add_parser("train", help="train the Rasa model unless the cache has it")
    train.add_argument("--force", action="store_true", help="train even if cached")
    train.set_defaults(handler=_train)

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate to the newest revision")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_commands.add_parser("downgrade", help="migrate back to a revision")
    downgrade.add_argument("revision")
    db_commands.add_parser("current", help="show the current revision")
    db.set_defaults(handler=_db)

    data = commands.add_parser("data", help="the dealership data file (DEALER_DATA)")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    load = data_commands.add_parser("load", help="validate the file and load it into the database")
    load.add_argument("--file", type=Path, help="default: DEALER_DATA or the demo file")
    data.set_defaults(handler=_data)

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

    surveys = commands.add_parser("surveys", help="satisfaction surveys (revisits)")
    survey_commands = surveys.add_subparsers(dest="surveys_command", required=True)
    export = survey_commands.add_parser("export", help="print every survey to stdout")
    export.add_argument("--format", choices=("json",), default="json")
    surveys.set_defaults(handler=_surveys)

    team = commands.add_parser("staff", help="consultants and managers on Telegram")
    team_commands = team.add_subparsers(dest="staff_command", required=True)
    add = team_commands.add_parser("add", help="register (or update) a staff member")
    add.add_argument("--telegram-id", type=int, required=True, help="their Telegram user id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=("consultant", "manager"), required=True)
    team_commands.add_parser("list", help="the active staff")
    remove = team_commands.add_parser("remove", help="deactivate a staff member")
    remove.add_argument("telegram_id", type=int, help="their Telegram user id")
    team.set_defaults(handler=_staff)

    people = commands.add_parser("customers", help="a customer's data request (PIPL), by phone")
    people_commands = people.add_subparsers(dest="customers_command", required=True)
    for name, what in (
        ("show", "print everything held on the customer with this number (JSON)"),
        ("erase", "erase them, their bookings and transcripts; then list what still holds it"),
        ("audit", "list every place the number still appears (exit code 1 if any)"),
    ):
        people_commands.add_parser(name, help=what).add_argument("phone", help="e.g. 13800138000")
    people.set_defaults(handler=_customers)
    return parser


def main(argv: list[str] | None = None) -> int:
    redact_logs()
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    keep_private(settings.var_dir)
    result: int = args.handler(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
