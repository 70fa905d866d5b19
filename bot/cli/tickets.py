"""`tickets`: complaint tickets from the desk: list, show, take, resolve, export."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from crm_bridge.settings import Settings


def actor() -> str:
    """Who a step from the command line is recorded as: "cli", with the login when known."""
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    return f"cli:{user}"[:100] if user else "cli"


def _tickets(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import exports, tickets
    from crm_bridge.db import build_engine, build_session_factory, transaction
    from crm_bridge.types import utcnow

    zone = settings.timezone
    engine = build_engine(settings.effective_database_url)
    command = args.tickets_command
    try:
        with transaction(build_session_factory(engine)) as session:
            if command == "export":
                sys.stdout.write(exports.to_json(tickets.ticket_records(session, zone)) + "\n")
            elif command == "list":
                found = tickets.listing(session, include_resolved=args.all)
                rows = [tickets.record(tickets.view(session, t), zone) for t in found]
                print(table(rows) if rows else "no tickets")
            elif command == "show":
                shown = tickets.view(session, tickets.get(session, args.id))
                print(details(tickets.record(shown, zone)))
            else:
                to_state = "in_progress" if command == "progress" else "resolved"
                moved = tickets.move(
                    session, args.id, to_state, now=utcnow(), actor=actor(), note=args.note,
                    cause=getattr(args, "cause", None),
                )  # fmt: skip
                print(f"ticket #{moved.id} {moved.state}")
    except tickets.TicketError as exc:
        print(f"not changed: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def table(rows: list[dict[str, Any]]) -> str:
    """One ticket a line: id, state, source, escalations, opened, customer, phone, summary."""
    lines = ["id\tstate\tsource\tescalations\topened_at\tcustomer\tphone\tsummary"]
    for r in rows:
        summary = " ".join((r["summary"] or "").split())
        summary = summary if len(summary) <= 40 else summary[:40] + "…"
        cells = (r["id"], r["state"], r["source"], r["escalations"], r["opened_at"],
                 r["customer"] or "", r["phone"] or "", summary)  # fmt: skip
        lines.append("\t".join(str(cell) for cell in cells))
    return "\n".join(lines)


def details(r: dict[str, Any]) -> str:
    """A ticket with its answers and steps, for a person to read."""
    lines = [f"ticket #{r['id']}: {r['state']} (source {r['source']}, cause {r['cause'] or '-'})"]
    for key in ("customer", "phone", "channel", "language", "lead_id", "survey_id", "opened_at",
                "progress_at", "resolved_at", "escalations", "summary", "resolution"):  # fmt: skip
        if r[key] is not None:
            lines.append(f"  {key}: {r[key]}")
    if r["answers"]:
        answers = ", ".join(f"{k}={v}" for k, v in r["answers"].items())
        lines.append(f"  answers: {answers}")
    lines.append("  steps:")
    for event in r["events"]:
        note = f": {event['note']}" if event["note"] else ""
        lines.append(f"    {event['at']} {event['kind']} ({event['actor'] or '-'}){note}")
    return "\n".join(lines)


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
    tickets = commands.add_parser("tickets", help="complaint tickets (low survey scores, 投诉)")
    ticket_commands = tickets.add_subparsers(dest="tickets_command", required=True)
    listing = ticket_commands.add_parser("list", help="tickets not resolved, open ones first")
    listing.add_argument("--all", action="store_true", help="resolved ones too")
    ticket_commands.add_parser("show", help="a ticket with its steps").add_argument("id", type=int)
    progress = ticket_commands.add_parser("progress", help="take a ticket (in progress)")
    progress.add_argument("id", type=int)
    progress.add_argument("--note", default=None, help="what is being done")
    resolve = ticket_commands.add_parser("resolve", help="close a ticket with what was learned")
    resolve.add_argument("id", type=int)
    resolve.add_argument("--note", required=True, help="the cause and what was learned")
    resolve.add_argument(
        "--cause",
        help="what it was about: consultant, delivery, car, service, price, waiting, other",
    )
    export = ticket_commands.add_parser("export", help="print every ticket to stdout")
    export.add_argument("--format", choices=("json",), default="json")
    tickets.set_defaults(handler=_tickets)
