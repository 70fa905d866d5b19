"""Opt-out and erasure of personal data, in the database and in Rasa's tracker store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from actions.transcripts import REDACTED, Transcripts
from crm_bridge import bookings, conversations, privacy
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import build_session_factory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.leads import LeadUpdate, record_lead
from crm_bridge.models import Booking, Conversation, Customer, Lead, LeadEvent

AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
UPDATE = LeadUpdate(
    consent=True, channel="web", name="张伟", phone="+8613800138000", model_interest=["Q5L"],
    purchase_timeline_days=7, trade_in=True, trade_in_vehicle="2016年的帕萨特",
)  # fmt: skip


def test_opt_out_stops_proactive_messages(engine: Engine) -> None:
    sessions = build_session_factory(engine)
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, "web-1", AT, "web")
        conversations.start_conversation(session, "anon", AT, "web")
        lead = record_lead(session, "web-1", UPDATE, "conversation:web", AT)
        assert lead is not None
        customer_id = lead.customer_id
    with transaction(sessions) as session:
        assert privacy.may_contact(session, customer_id=customer_id)
        assert privacy.may_contact(session, sender_id="anon")
        privacy.opt_out(session, "web-1", AT)
        privacy.opt_out(session, "anon", AT)
    with transaction(sessions) as session:
        assert not privacy.may_contact(session, customer_id=customer_id)
        assert not privacy.may_contact(session, sender_id="web-1")
        assert not privacy.may_contact(session, sender_id="anon")
        # The same customer reached on another channel is opted out too.
        conversations.start_conversation(session, "tg-9", AT + timedelta(days=1), "telegram")
        record_lead(session, "tg-9", LeadUpdate(consent=True, phone="+8613800138000"), "t", AT)
    with transaction(sessions) as session:
        assert not privacy.may_contact(session, sender_id="tg-9")


def test_erasure_removes_personal_data_and_keeps_counts(engine: Engine, tmp_path: Path) -> None:
    sessions = build_session_factory(engine)
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, "web-1", AT, "web")
        record_lead(session, "web-1", UPDATE, "conversation:web", AT)
        conversations.start_conversation(session, "tg-2", AT, "telegram")
        record_lead(session, "tg-2", LeadUpdate(consent=True, phone="+8613800138000"), "t", AT)
    with transaction(sessions) as session:
        senders = privacy.erase(session, "tg-2", AT + timedelta(hours=1))
    assert senders == ["tg-2", "web-1"]
    with sessions() as session:
        [customer] = session.scalars(select(Customer)).all()
        assert (customer.name, customer.phone, customer.email, customer.consent) == (
            None, None, None, False,
        )  # fmt: skip
        assert customer.erased_at is not None
        assert customer.opted_out_at is not None
        [lead] = session.scalars(select(Lead)).all()
        assert lead.trade_in_vehicle is None
        assert (lead.model_interest, lead.level, lead.status) == (["Q5L"], "H", "qualified")
        assert session.scalar(select(func.count()).select_from(Conversation)) == 2
        values = session.execute(select(LeadEvent.old_value, LeadEvent.new_value)).all()
        assert all("帕萨特" not in (v or "") for row in values for v in row)
        assert not privacy.may_contact(session, sender_id="web-1")


def test_erasure_blanks_name_and_phone_on_bookings_and_keeps_them(engine: Engine) -> None:
    sessions = build_session_factory(engine)
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 11, 22, 20, 0, tzinfo=zone)

    def book(session: Session, sender: str, hour: int, phone: str | None) -> None:
        bookings.book(
            session, model_code="Q5L", start=datetime(2026, 11, 23, hour, tzinfo=zone), zone=zone,
            now=now, source="conversation:web", sender_id=sender, channel="web", language="zh",
            customer_name="张伟", phone=phone,
        )  # fmt: skip

    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, "web-1", AT, "web")
        record_lead(session, "web-1", UPDATE, "conversation:web", AT)
        book(session, "web-1", 10, "+8613800138000")
        book(session, "tg-2", 11, "+8613800138000")  # another channel, same person
        book(session, "anon", 12, None)  # someone who never gave a phone number
        book(session, "other", 13, "+8613900139000")
    with transaction(sessions) as session:
        privacy.erase(session, "web-1", AT + timedelta(hours=1))
        privacy.erase(session, "anon", AT + timedelta(hours=1))
    with sessions() as session:
        rows = session.execute(
            select(
                Booking.sender_id, Booking.customer_name, Booking.phone, Booking.status
            ).order_by(Booking.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("web-1", None, None, "booked"),
        ("tg-2", None, None, "booked"),
        ("anon", None, None, "booked"),
        ("other", "张伟", "+8613900139000", "booked"),
    ]


def test_transcripts_are_redacted_in_place(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"
        ))  # fmt: skip
        rows = [
            ("s1", "user", {"event": "user", "text": "我叫张伟 13800138000", "metadata": {"a": 1},
                            "parse_data": {"text": "我叫张伟 13800138000",
                                           "intent": {"name": "inform"},
                                           "entities": [{"entity": "phone"}]}}),
            ("s1", "bot", {"event": "bot", "text": "张伟您好", "data": {"buttons": []}}),
            ("s1", "slot", {"event": "slot", "name": "phone", "value": "+8613800138000"}),
            ("s1", "slot", {"event": "slot", "name": "budget", "value": 400000}),
            ("other", "user", {"event": "user", "text": "keep me"}),
        ]  # fmt: skip
        for sender, kind, data in rows:
            connection.execute(
                text("INSERT INTO events (sender_id, type_name, data) VALUES (:s, :k, :d)"),
                {"s": sender, "k": kind, "d": json.dumps(data, ensure_ascii=False)},
            )
    assert Transcripts(engine).redact(["s1"]) == 3
    with engine.connect() as connection:
        stored = [
            (sender, json.loads(data))
            for sender, data in connection.execute(text("SELECT sender_id, data FROM events"))
        ]
    assert len(stored) == 5  # rows stay: Rasa appends after the number it has stored
    user, bot, phone, budget, other = (data for _, data in stored)
    assert user["text"] == REDACTED
    assert user["parse_data"]["text"] == REDACTED
    assert user["parse_data"]["entities"] == []
    assert user["metadata"] == {}
    assert user["parse_data"]["intent"] == {"name": "inform"}  # anonymous counts stay
    assert bot["text"] == REDACTED
    assert phone["value"] is None
    assert budget["value"] == 400000
    assert other["text"] == "keep me"
    assert Transcripts(create_engine(f"sqlite:///{tmp_path / 'empty.db'}")).redact(["s1"]) == 0
