"""`surveys`: the revisit surveys."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crm_bridge.settings import Settings


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


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
    surveys = commands.add_parser("surveys", help="satisfaction surveys (revisits)")
    survey_commands = surveys.add_subparsers(dest="surveys_command", required=True)
    export = survey_commands.add_parser("export", help="print every survey to stdout")
    export.add_argument("--format", choices=("json",), default="json")
    surveys.set_defaults(handler=_surveys)
