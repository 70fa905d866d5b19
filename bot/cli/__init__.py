"""`dealer-assistant`: run the assistant, train the model, migrate the database, export, and the
sales team's records. One module per capability, each adding its commands in ``register``."""

from __future__ import annotations

import argparse
import sys

from bot.cli import customers, report, sales, surveys, system, team, tickets
from crm_bridge.logsafe import redact_logs
from crm_bridge.settings import Settings, keep_private

MODULES = (system, sales, surveys, team, customers, report, tickets)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealer-assistant", description="Dealer Assistant: the dealership's chat assistant."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.register(commands)
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
