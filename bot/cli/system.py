"""`run`, `train`, `db` and `data`: starting the assistant and preparing what it needs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crm_bridge.settings import Settings


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


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
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
