"""Opt-out and erasure of personal data, in the database and in Rasa's tracker store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from actions.transcripts import REDACTED, Transcripts
from bot.channels.telegram import updates
from crm_bridge import bookings, conversations, handoff, identity, privacy
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import build_session_factory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.leads import LeadUpdate, record_lead
from crm_bridge.models import (
    Booking,
    Conversation,
    Customer,
    Handoff,
    InboundUpdate,
    Lead,
    LeadEvent,
    RelayMessage,
)

AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
KEY = b"test erasure key"
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
        identity.verify_phone(session, "tg-2", "+8613800138000", "sms_code", AT)
    with transaction(sessions) as session:
        erased = privacy.erase(session, "tg-2", AT + timedelta(hours=1), KEY)
    assert erased == {
        "senders": ["tg-2", "web-1"], "phones": ["+8613800138000"], "whole_customer": True,
        "kept_unverified": [],
    }  # fmt: skip
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
        # A write made before the erasure and replayed later does not bring anything back.
        assert record_lead(session, "web-1", UPDATE, "conversation:web", AT, KEY) is None
        assert identity.erased_since(session, KEY, AT, sender_id=None, phone=UPDATE.phone)
        assert not identity.erased_since(
            session, KEY, AT + timedelta(hours=2), sender_id="web-1", phone=UPDATE.phone
        )  # the customer may come back later and consent again


def test_erasure_from_a_conversation_that_only_gave_the_number(engine: Engine) -> None:
    """Someone else's number typed in another chat erases that chat, never the customer."""
    sessions = build_session_factory(engine)
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, "web-1", AT, "web")
        record_lead(session, "web-1", UPDATE, "conversation:web", AT)
        conversations.start_conversation(session, "stranger", AT, "rest")
        record_lead(session, "stranger", LeadUpdate(consent=True, phone=UPDATE.phone, name="X"),
                    "conversation:rest", AT)  # fmt: skip
    with transaction(sessions) as session:
        erased = privacy.erase(session, "stranger", AT + timedelta(hours=1), KEY)
    assert erased["senders"] == ["stranger"]
    assert erased["whole_customer"] is False
    assert erased["kept_unverified"] == [UPDATE.phone]
    with sessions() as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.name, customer.phone, customer.erased_at) == ("张伟", UPDATE.phone, None)
        assert privacy.may_contact(session, sender_id="web-1")
        assert not privacy.may_contact(session, sender_id="stranger")
        assert identity.customer_of_sender(session, "stranger") is None


def test_erasure_after_a_new_session_still_finds_the_customer(engine: Engine) -> None:
    """Rasa started a new session (expiry, a reminder): the link, not the session, decides."""
    sessions = build_session_factory(engine)
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, "web-1", AT, "web")
        record_lead(session, "web-1", UPDATE, "conversation:web", AT)
        conversations.start_conversation(session, "web-1", AT + timedelta(hours=3), "web")
    with transaction(sessions) as session:
        privacy.opt_out(session, "web-1", AT + timedelta(hours=3))
    with sessions() as session:
        assert session.scalars(select(Customer)).one().opted_out_at is not None
    with transaction(sessions) as session:
        erased = privacy.erase(session, "web-1", AT + timedelta(hours=4), KEY)
    assert erased["whole_customer"] is True
    with sessions() as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.name, customer.phone) == (None, None)


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
        identity.verify_phone(session, "web-1", "+8613800138000", "sms_code", AT)
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


def test_declining_consent_removes_what_was_volunteered(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, data TEXT)"
        ))  # fmt: skip
        said = "我叫王小明，电话138 0013 8000，想看Q5L"
        rows = [
            ("s1", "user", {"event": "user", "text": said, "parse_data": {
                "text": said, "intent": {"name": "inform"}, "entities": [
                    {"entity": "person_name", "value": "王小明", "start": 2, "end": 5},
                    {"entity": "phone", "value": "+8613800138000", "start": 8, "end": 21},
                    {"entity": "car_model", "value": "Q5L", "start": 24, "end": 27}]}}),
            ("s1", "slot", {"event": "slot", "name": "name", "value": "王小明"}),
            ("s1", "bot", {"event": "bot", "text": "王小明您好！可以保存您的电话吗？"}),
            ("s1", "slot", {"event": "slot", "name": "car_models", "value": ["Q5L"]}),
            ("s2", "user", {"event": "user", "text": "王小明 is my friend"}),
        ]  # fmt: skip
        for sender, kind, data in rows:
            connection.execute(
                text("INSERT INTO events (sender_id, type_name, data) VALUES (:s, :k, :d)"),
                {"s": sender, "k": kind, "d": json.dumps(data, ensure_ascii=False)},
            )
    assert Transcripts(engine).redact_volunteered("s1") == 3
    with engine.connect() as connection:
        stored = [json.loads(d) for (d,) in connection.execute(text("SELECT data FROM events"))]
    user, name, bot, models, other = stored
    assert user["text"] == "我叫[removed]，电话[removed]，想看Q5L"
    assert user["parse_data"]["text"] == user["text"]
    assert [e["entity"] for e in user["parse_data"]["entities"]] == ["car_model"]
    assert name["value"] is None
    assert bot["text"] == "[removed]您好！可以保存您的电话吗？"
    assert models["value"] == ["Q5L"]  # the needs stay
    assert other["text"] == "王小明 is my friend"  # another conversation is not touched


def test_erasure_removes_what_a_hand_off_holds(engine: Engine) -> None:
    sessions = build_session_factory(engine)
    sender = "telegram:4242"
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, sender, AT, "telegram")
        record_lead(session, sender, LeadUpdate(consent=True, phone="+8613800138077"), "t", AT)
        opened = handoff.request(
            session, sender_id=sender, reason="person", at=AT, zone="Asia/Shanghai",
            claim_minutes=10, excerpt=[{"who": "customer", "text": "我是张伟 13800138077"}],
        )  # fmt: skip
        row = session.get(Handoff, opened["handoff_id"])
        assert row is not None
        handoff.relay(session, row, "to_consultant", body="打我电话13800138077", now=AT)
        updates.record(session, {"update_id": 7, "message": {"chat": {"id": 4242}}}, AT)
        updates.record(session, {"update_id": 8, "message": {"chat": {"id": 9999}}}, AT)
    with transaction(sessions) as session:
        privacy.erase(session, sender, AT + timedelta(hours=1), KEY)
    with sessions() as session:
        [kept] = session.scalars(select(Handoff)).all()
        assert kept.excerpt is None
        assert session.scalars(select(RelayMessage.body)).all() == ["[erased]"]
        # Another chat's kept updates stay.
        assert session.scalars(select(InboundUpdate.update_id)).all() == [8]
