"""A data request at the desk (PIPL): the number found, shown, erased and audited everywhere."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from actions.slots import clean_phone
from crm_bridge import conversations, customers
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.leads import LeadUpdate, record_lead
from crm_bridge.models import Survey

AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
PHONE = "+8613800138000"


def test_numbers_as_people_write_them() -> None:
    assert clean_phone("138 0013 8000") == PHONE
    assert clean_phone("+86 138-0013-8000") == PHONE
    assert clean_phone("hello") is None
    assert clean_phone("12") is None
    assert customers.spellings(PHONE) == [PHONE, "13800138000", "138 0013 8000", "138-0013-8000"]


def _customer_with_a_comment(sessions: SessionFactory) -> None:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, "web-1", AT, "web")
        update = LeadUpdate(consent=True, channel="web", name="张伟", phone=PHONE,
                            model_interest=["Q5L"], trade_in=True,
                            trade_in_vehicle="帕萨特，车主电话138 0013 8000")  # fmt: skip
        lead = record_lead(session, "web-1", update, "conversation:web", AT)
        assert lead is not None
        answers = {"score": 5, "comment": "打13800138000找我"}
        session.add(Survey(kind="post_test_drive", customer_id=lead.customer_id, sender_id="web-1",
                           scheduled_for=AT, answers=answers))  # fmt: skip


def test_show_then_erase_leaves_the_number_nowhere(sessions: SessionFactory) -> None:
    _customer_with_a_comment(sessions)
    with sessions() as session:
        held = customers.profile(session, PHONE, ZoneInfo("Asia/Shanghai"))
        assert held is not None
        assert held["customer"]["name"] == "张伟"
        assert held["surveys"][0]["answers"]["comment"] == "打13800138000找我"
        places = {p.where for p in customers.places_in_database(session, PHONE)}
    assert {"customers.phone", "leads.trade_in_vehicle", "surveys.answers"} <= places
    with transaction(sessions) as session:
        assert customers.erase_by_phone(session, PHONE, AT) == ["web-1"]
    with sessions() as session:
        assert customers.places_in_database(session, PHONE) == []
        assert customers.profile(session, PHONE, ZoneInfo("Asia/Shanghai")) is None
        [survey] = session.query(Survey).all()
        assert survey.answers == {"score": 5}  # the score still counts
        assert customers.erase_by_phone(session, PHONE, AT) is None  # nothing left to erase


def test_kept_writes_holding_the_number_are_found(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite"
    assert customers.places_in_outbox(outbox, PHONE) == []
    with sqlite3.connect(outbox) as connection:
        connection.execute("CREATE TABLE pending (id INTEGER PRIMARY KEY, payload TEXT)")
        for payload in ({"phone": PHONE}, {"text": "call 138-0013-8000"}, {"phone": None}):
            connection.execute("INSERT INTO pending (payload) VALUES (?)", (json.dumps(payload),))
    assert customers.places_in_outbox(outbox, PHONE) == [
        customers.Place("outbox: outbox.sqlite", 2)
    ]
