"""Exports: leads as JSON and CSV with the fields of DESIGN.md §3 and as ADF 1.0 XML for other
CRMs; surveys as JSON (bookings: crm_bridge.bookings.booking_records)."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_bridge.leads import follow_ups_of, questions_of
from crm_bridge.models import (
    ACTIVE_BOOKING_STATUSES,
    CLOSED_STATUSES,
    LEVELS,
    Booking,
    Consultant,
    Customer,
    Dealer,
    Lead,
    Staff,
    Survey,
)

LEAD_FIELDS = (
    "id", "created_at", "updated_at", "channel", "language", "name", "phone", "email",
    "model_interest", "budget_cny_max", "purchase_timeline_days", "level", "payment", "trade_in",
    "trade_in_vehicle", "status", "consultant", "consent",
)  # fmt: skip
SURVEY_FIELDS = (
    "id", "kind", "customer", "phone", "scheduled_for", "sent_at", "completed_at", "answers",
    "complaint",
)  # fmt: skip
ADF_SCHEMA = Path(__file__).resolve().parent / "schemas" / "adf-1.0.xsd"
PROVIDER = "Dealer Assistant"
# Chinese compound surnames; other names take their first character as the surname.
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
)


def leads(session: Session) -> list[Lead]:
    stmt = (
        select(Lead)
        .options(selectinload(Lead.customer), selectinload(Lead.models))
        .order_by(Lead.id)
    )
    return list(session.scalars(stmt))


def lead_record(
    lead: Lead, consultants: dict[int, str], zone: ZoneInfo, owners: dict[int, str] | None = None
) -> dict[str, Any]:
    """One lead as the contract's JSON object (null where unknown); its consultant is who
    claimed it on Telegram, else the consultant of its test drive."""
    customer = lead.customer
    owner = (owners or {}).get(lead.owner_id) if lead.owner_id else None
    return {
        "id": lead.id,
        "created_at": lead.created_at.astimezone(zone).isoformat(),
        "updated_at": lead.updated_at.astimezone(zone).isoformat(),
        "channel": lead.channel,
        "language": lead.language,
        "name": customer.name if customer else None,
        "phone": customer.phone if customer else None,
        "email": customer.email if customer else None,
        "model_interest": lead.model_interest,
        "budget_cny_max": lead.budget_cny_max,
        "purchase_timeline_days": lead.purchase_timeline_days,
        "level": lead.level,
        "payment": lead.payment,
        "trade_in": lead.trade_in,
        "trade_in_vehicle": lead.trade_in_vehicle,
        "status": lead.status,
        "consultant": owner
        or (consultants.get(lead.consultant_id) if lead.consultant_id else None),
        "consent": lead.consent,
    }


def lead_records(session: Session, zone: ZoneInfo) -> list[dict[str, Any]]:
    consultants = {c.id: c.name for c in session.scalars(select(Consultant))}
    owners = {s.id: s.name for s in session.scalars(select(Staff))}
    return [lead_record(lead, consultants, zone, owners) for lead in leads(session)]


def to_table(records: list[dict[str, Any]], include_closed: bool = False) -> str:
    """Leads as consultants read them: hottest level first, then the most recently updated."""
    shown = [r for r in records if include_closed or r["status"] not in CLOSED_STATUSES]
    shown.sort(key=lambda r: r["updated_at"], reverse=True)
    shown.sort(key=lambda r: LEVELS.index(r["level"]) if r["level"] in LEVELS else len(LEVELS))
    header = ("id", "level", "status", "name", "phone", "models", "budget", "days", "payment",
              "trade-in", "updated")  # fmt: skip
    rows = [header] + [
        (
            str(r["id"]),
            r["level"] or "",
            r["status"],
            r["name"] or "",
            r["phone"] or "",
            ",".join(r["model_interest"]),
            f"{r['budget_cny_max']:,}" if r["budget_cny_max"] else "",
            "" if r["purchase_timeline_days"] is None else str(r["purchase_timeline_days"]),
            r["payment"] or "",
            {True: r["trade_in_vehicle"] or "yes", False: "no"}.get(r["trade_in"], ""),
            r["updated_at"][:16].replace("T", " "),
        )
        for r in shown
    ]
    return _align(rows)


def bookings_table(
    records: list[dict[str, Any]], now: datetime | None = None, include_all: bool = False
) -> str:
    """Bookings as consultants read them, by start: upcoming active ones unless ``include_all``."""
    shown = [
        r
        for r in records
        if include_all
        or (
            r["status"] in ACTIVE_BOOKING_STATUSES
            and (now is None or datetime.fromisoformat(r["start"]) >= now)
        )
    ]
    shown.sort(key=lambda r: (datetime.fromisoformat(r["start"]), r["id"]))
    header = ("id", "start", "end", "model", "status", "consultant", "customer", "phone", "lead")
    rows = [header] + [
        (
            str(r["id"]),
            r["start"][:16].replace("T", " "),
            r["end"][11:16],
            r["model"],
            r["status"],
            r["consultant"] or "",
            r["customer_name"] or "",
            r["phone"] or "",
            "" if r["lead_id"] is None else str(r["lead_id"]),
        )
        for r in shown
    ]
    return _align(rows)


def _align(rows: list[tuple[str, ...]]) -> str:
    """Rows as columns, the first row a header."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=True)
        )
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def to_json(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, ensure_ascii=False, indent=2)


# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as written: a formula-looking cell gets a leading apostrophe.

    Phones in E.164 ("+86...") stay text too instead of becoming a number.
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(records: list[dict[str, Any]]) -> str:
    """CSV with a header; lists joined with ";", booleans as true/false, unknown as empty; text
    that a spreadsheet would run as a formula is neutralised (``safe_cell``)."""
    out = io.StringIO()
    # RFC 4180 line ends: a cell holding a carriage return or a newline is quoted.
    writer = csv.DictWriter(out, fieldnames=LEAD_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        row = {}
        for name in LEAD_FIELDS:
            value = record[name]
            if isinstance(value, list):
                value = ";".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, str):
                value = safe_cell(value)
            row[name] = "" if value is None else value
        writer.writerow(row)
    return out.getvalue()


def name_parts(name: str) -> list[tuple[str, str]]:
    """ADF name parts: Chinese names as surname + given name, others as first/last or full."""
    name = name.strip()
    if name and "\u4e00" <= name[0] <= "\u9fff" and len(name) >= 2:
        surname = next((s for s in _COMPOUND_SURNAMES if name.startswith(s)), name[0])
        given = name[len(surname) :]
        return [("first", given), ("last", surname)] if given else [("full", name)]
    words = name.split()
    if len(words) >= 3:
        return [("first", words[0]), ("middle", " ".join(words[1:-1])), ("last", words[-1])]
    if len(words) == 2:
        return [("first", words[0]), ("last", words[-1])]
    return [("full", name)]


def to_adf(session: Session, zone: ZoneInfo) -> bytes:
    """ADF 1.0: one <prospect> per lead; customer text is escaped by the XML serializer."""
    dealer = session.scalars(select(Dealer)).first()
    consultants = {c.id: c.name for c in session.scalars(select(Consultant))}
    owners = {s.id: s.name for s in session.scalars(select(Staff))}
    test_drives: dict[int, list[Booking]] = {}
    for booking in session.scalars(
        select(Booking)
        .where(Booking.lead_id.is_not(None), Booking.status != "cancelled")
        .order_by(Booking.start, Booking.id)
    ):
        assert booking.lead_id is not None
        test_drives.setdefault(booking.lead_id, []).append(booking)
    root = etree.Element("adf")
    every = leads(session)
    questions_by_lead = questions_of(session, [lead.id for lead in every])
    follow_ups = follow_ups_of(session, [lead.id for lead in every])
    for lead in every:
        record = lead_record(lead, consultants, zone, owners)
        prospect = etree.SubElement(root, "prospect", status="new")
        _text(prospect, "id", str(lead.id), sequence="1", source=PROVIDER)
        _text(prospect, "requestdate", record["created_at"])
        year = str(lead.created_at.astimezone(zone).year)
        for code in lead.model_interest or ["Audi"]:
            vehicle = etree.SubElement(prospect, "vehicle", interest="buy", status="new")
            _text(vehicle, "year", year)
            _text(vehicle, "make", "Audi")
            _text(vehicle, "model", code if code != "Audi" else "")
            if lead.budget_cny_max:
                _text(vehicle, "price", str(lead.budget_cny_max), type="quote", currency="CNY")
        for booking in test_drives.get(lead.id, []):
            vehicle = etree.SubElement(prospect, "vehicle", interest="test-drive", status="new")
            _text(vehicle, "year", year)
            _text(vehicle, "make", "Audi")
            _text(vehicle, "model", booking.model_code)
            start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
            _text(vehicle, "comments", f"Test drive {start.isoformat()} to {end.isoformat()} "
                                       f"({booking.status})")  # fmt: skip
        if lead.trade_in:
            vehicle = etree.SubElement(prospect, "vehicle", interest="trade-in", status="used")
            _text(vehicle, "make", "")
            _text(vehicle, "model", "")
            if lead.trade_in_vehicle:
                _text(vehicle, "comments", lead.trade_in_vehicle)
        customer = etree.SubElement(prospect, "customer")
        contact = etree.SubElement(customer, "contact", primarycontact="1")
        for part, value in name_parts(record["name"] or "") or [("full", "")]:
            _text(contact, "name", value, part=part)
        if record["email"]:
            _text(contact, "email", record["email"])
        if record["phone"]:
            _text(contact, "phone", record["phone"], type="cellphone")
        if lead.purchase_timeline_days is not None:
            timeframe = etree.SubElement(customer, "timeframe")
            _text(timeframe, "description", f"within {lead.purchase_timeline_days} days")
            latest = lead.created_at.astimezone(zone) + timedelta(days=lead.purchase_timeline_days)
            _text(timeframe, "latestdate", latest.date().isoformat())
        _text(
            customer,
            "comments",
            _comments(record, questions_by_lead.get(lead.id, []), follow_ups.get(lead.id, [])),
        )
        vendor = etree.SubElement(prospect, "vendor")
        vendor_name = dealer.name_en if dealer else PROVIDER
        _text(vendor, "vendorname", vendor_name)
        vendor_contact = etree.SubElement(vendor, "contact")
        _text(vendor_contact, "name", dealer.name if dealer else vendor_name, part="full")
        if dealer:
            _text(vendor_contact, "phone", dealer.phone)
        provider = etree.SubElement(prospect, "provider")
        _text(provider, "name", PROVIDER, part="full")
        _text(provider, "service", "Conversational assistant (web chat, Telegram, phone)")
    body: bytes = etree.tostring(root, encoding="UTF-8", pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<?adf version="1.0"?>\n' + body


def validate_adf(document: bytes) -> None:
    """Raise lxml.etree.DocumentInvalid if ``document`` does not follow ADF 1.0."""
    schema = etree.XMLSchema(etree.parse(str(ADF_SCHEMA)))
    schema.assertValid(etree.fromstring(document))


def survey_records(session: Session, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Every survey, by id, as the contract's JSON objects (DESIGN.md §3)."""
    customers = {c.id: c for c in session.scalars(select(Customer).join(Survey))}

    def local(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value is not None else None

    records = []
    for survey in session.scalars(select(Survey).order_by(Survey.id)):
        customer = customers.get(survey.customer_id) if survey.customer_id is not None else None
        records.append(
            {
                "id": survey.id,
                "kind": survey.kind,
                "customer": customer.name if customer else None,
                "phone": customer.phone if customer else None,
                "scheduled_for": local(survey.scheduled_for),
                "sent_at": local(survey.sent_at),
                "completed_at": local(survey.completed_at),
                "answers": survey.answers,
                "complaint": survey.complaint,
            }
        )
    return records


def _comments(record: dict[str, Any], questions: list[str], follow_ups: list[str]) -> str:
    parts = [f"Intention level {record['level'] or 'C'}", f"status {record['status']}"]
    if record["budget_cny_max"]:
        parts.append(f"budget up to {record['budget_cny_max']} CNY")
    if record["payment"]:
        parts.append(f"payment: {record['payment']}")
    if record["channel"]:
        parts.append(f"via {record['channel']}")
    if record["consultant"]:
        parts.append(f"consultant: {record['consultant']}")
    if questions:
        parts.append("to confirm: " + ", ".join(questions))
    if follow_ups:
        parts.append("follow up: " + ", ".join(follow_ups))
    return "; ".join(parts)


def _text(parent: Any, tag: str, value: str, **attributes: str) -> Any:
    element = etree.SubElement(parent, tag, **attributes)
    element.text = value
    return element
