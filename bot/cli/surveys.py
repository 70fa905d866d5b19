"""`surveys`: the revisit surveys (export, personal links) and `deliveries`: the cars handed over
that they start from (one at the desk, or a CSV from the dealer management system)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from crm_bridge.settings import Settings


def _surveys(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import exports
    from crm_bridge.db import build_engine, build_session_factory, transaction
    from crm_bridge.surveys import links
    from crm_bridge.surveys.config import cached
    from crm_bridge.types import utcnow

    engine = build_engine(settings.effective_database_url)
    try:
        if args.surveys_command == "links":
            config = cached(settings.survey_config_path)
            with transaction(build_session_factory(engine)) as session:
                valid = timedelta(days=config.link_valid_days)
                key = settings.effective_survey_link_key()
                issued = links.issue(session, key, utcnow(), valid)
            _print_links(issued, settings, args.format)
            return 0
        with build_session_factory(engine)() as session:
            records = exports.survey_records(session, settings.timezone)
    finally:
        engine.dispose()
    sys.stdout.write(exports.to_json(records) + "\n")
    return 0


def bot_username(settings: Settings) -> str | None:
    """The bot's @username: configured, else asked of the Bot API; None without Telegram."""
    if settings.telegram_bot_username:
        return settings.telegram_bot_username.lstrip("@")
    if not settings.telegram_bot_token:
        return None
    import httpx

    base, _ = settings.telegram_bot_api
    try:
        reply = httpx.get(f"{base}{settings.telegram_bot_token}/getMe", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    username = (reply.get("result") or {}).get("username") if reply.get("ok") else None
    return str(username) if username else None


def _print_links(issued: list[Any], settings: Settings, form: str) -> None:
    username = bot_username(settings)
    gateway = settings.effective_gateway_url
    zone = settings.timezone
    rows = [
        {
            "survey_id": link.survey_id,
            "kind": link.kind,
            "stage": link.stage,
            "customer": link.customer,
            "phone": link.phone,
            "scheduled_for": link.scheduled_for.astimezone(zone).isoformat(),
            "expires_at": link.expires_at.astimezone(zone).isoformat(),
            "telegram": link.telegram(username),
            "web": link.web(gateway),
        }
        for link in issued
    ]
    if form == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if username is None:
        print(
            "(no Telegram links: set TELEGRAM_BOT_USERNAME or TELEGRAM_BOT_TOKEN)", file=sys.stderr
        )
    for row in rows:
        print("\t".join(str(row[k] or "") for k in (
            "survey_id", "stage", "customer", "phone", "scheduled_for", "telegram", "web"
        )))  # fmt: skip


def _deliveries(args: argparse.Namespace, settings: Settings) -> int:
    from crm_bridge import deliveries
    from crm_bridge.db import build_engine, build_session_factory, transaction
    from crm_bridge.surveys.config import load
    from crm_bridge.types import utcnow

    config = load(settings.survey_config_path)
    engine = build_engine(settings.effective_database_url)
    now = utcnow()
    try:
        with transaction(build_session_factory(engine)) as session:
            if args.deliveries_command == "add":
                entry = deliveries.NewDelivery(
                    phone=args.phone, model=args.model, name=args.name,
                    delivered_at=args.delivered_at, consultant=args.consultant, vin=args.vin,
                )  # fmt: skip
                delivery = deliveries.add(
                    session, entry, zone=settings.timezone, now=now, surveys=config
                )
                print(delivery.id)
                return 0
            text = _read(args.file)
            result = deliveries.import_csv(
                session, text, zone=settings.timezone, now=now, surveys=config
            )
    except deliveries.DeliveryError as error:
        print(f"not recorded: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for line, reason in result.errors:
        print(f"{args.file}:{line}: {reason}", file=sys.stderr)
    print(f"imported {len(result.added)} deliveries, {len(result.errors)} rows rejected")
    return 1 if result.errors else 0


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")  # Excel in China saves CSV in GBK


def register(commands: Any) -> None:
    """Add this module's commands to the `dealer-assistant` parser."""
    surveys = commands.add_parser("surveys", help="satisfaction surveys (revisits)")
    survey_commands = surveys.add_subparsers(dest="surveys_command", required=True)
    export = survey_commands.add_parser("export", help="print every survey to stdout")
    export.add_argument("--format", choices=("json",), default="json")
    links = survey_commands.add_parser(
        "links", help="a personal Telegram and web link per unsent survey, to send by SMS/WeChat"
    )
    links.add_argument("--format", choices=("table", "json"), default="table")
    surveys.set_defaults(handler=_surveys)

    delivered = commands.add_parser("deliveries", help="cars handed over (revisit surveys)")
    delivery_commands = delivered.add_subparsers(dest="deliveries_command", required=True)
    add = delivery_commands.add_parser("add", help="record one delivery; prints its id")
    add.add_argument("--phone", required=True, help="the buyer's mobile, e.g. 13800138000")
    add.add_argument("--model", required=True, help="catalog code, e.g. Q5L")
    add.add_argument("--name", help="the buyer's name")
    add.add_argument("--delivered-at", help="ISO 8601 (dealer's time zone if no offset); now")
    add.add_argument("--consultant", help="the consultant's name in the dealer data")
    add.add_argument("--vin", help="17-character VIN")
    imported = delivery_commands.add_parser(
        "import", help="record deliveries from a CSV (phone,name,model,delivered_at,consultant,vin)"
    )
    imported.add_argument("file", type=Path)
    delivered.set_defaults(handler=_deliveries)
