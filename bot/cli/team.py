"""`staff`: the consultants and managers who use the Telegram side."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crm_bridge.settings import Settings


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


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
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
