"""Writes kept while the database is down are written, in order, once it is back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from crm_bridge import conversations
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.customers import places_in_outbox
from crm_bridge.db import build_engine, build_session_factory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.exports import lead_records
from crm_bridge.leads import LeadUpdate, record_lead
from crm_bridge.models import Conversation, Customer
from crm_bridge.outbox import Outbox, lead_payload

AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
# Nothing listens on port 9: connecting fails at once, like a database that is down.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere"


def test_writes_wait_for_the_database_and_keep_their_order(engine: Engine, tmp_path: Path) -> None:
    good = build_session_factory(engine)
    with transaction(good) as session:
        load_dealer_data_into(session, load_dealer_data())
    sessions = build_session_factory(build_engine(UNREACHABLE))
    outbox = Outbox(tmp_path / "outbox.sqlite", sessions)

    start = {"sender_id": "s1", "at": AT.isoformat(), "channel": "web"}
    assert outbox.submit("conversation.start", start) is None
    first = LeadUpdate(consent=True, channel="web", phone="+8613800138000", model_interest=["Q5L"])
    outbox.submit("lead.record", lead_payload("s1", first, "conversation:web", AT))
    later = LeadUpdate(consent=True, channel="web", purchase_timeline_days=10, budget_cny_max=-1)
    outbox.submit("lead.record", lead_payload("s1", later, "conversation:web", AT))
    assert outbox.pending() == 3
    assert outbox.drain() is False  # still down

    # A restart of the action server finds the same file.
    outbox = Outbox(tmp_path / "outbox.sqlite", sessions)
    assert outbox.pending() == 3
    sessions.configure(bind=engine)  # the database is back
    assert outbox.drain() is True
    assert outbox.pending() == 0
    # The second lead write breaks a database rule (budget must be positive): kept as failed,
    # not retried for ever and not blocking what follows.
    [(_, operation, error)] = outbox.failed()
    assert operation == "lead.record"
    assert "budget" in error
    with good() as session:
        [lead] = lead_records(session, ZoneInfo("UTC"))
        assert (lead["phone"], lead["model_interest"], lead["status"]) == (
            "+8613800138000", ["Q5L"], "new",
        )  # fmt: skip
        [conversation] = session.scalars(select(Conversation)).all()
        assert (conversation.sender_id, conversation.channel) == ("s1", "web")

    # With nothing queued, writes go straight through.
    fixed = LeadUpdate(consent=True, purchase_timeline_days=10)
    result = outbox.submit("lead.record", lead_payload("s1", fixed, "conversation:web", AT))
    assert result is not None
    with good() as session:
        [lead] = lead_records(session, ZoneInfo("UTC"))
        assert (lead["status"], lead["level"]) == ("qualified", "A")


def test_unknown_operations_and_unserialisable_payloads_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", build_session_factory(engine))
    with pytest.raises(ValueError, match="unknown operation"):
        outbox.submit("drop.tables", {})
    with pytest.raises(TypeError):
        outbox.submit("conversation.start", {"sender_id": "s", "at": AT})
    assert outbox.pending() == 0


def test_an_erasure_while_the_database_is_down_completes_when_it_is_back(
    engine: Engine, tmp_path: Path
) -> None:
    """The kept writes lose their personal fields at once (failed ones too); once the database is
    back the erasure runs, the transcript hook gets every linked conversation, and the lead
    write made before the erasure, replayed after it, brings nothing back."""
    good = build_session_factory(engine)
    with transaction(good) as session:
        load_dealer_data_into(session, load_dealer_data())
    phone = "+8613800138000"
    first = LeadUpdate(
        consent=True, channel="web", name="张伟", phone=phone, model_interest=["Q5L"]
    )
    with transaction(good) as session:  # written while the database was up, on two channels
        conversations.start_conversation(session, "web-1", AT, "web")
        record_lead(session, "web-1", first, "conversation:web", AT)
    sessions = build_session_factory(build_engine(UNREACHABLE))
    redacted: list[list[str]] = []
    outbox = Outbox(
        tmp_path / "outbox.sqlite", sessions, erasure_key=b"k",
        after={"privacy.erase": lambda result: redacted.append(result["senders"])},
    )  # fmt: skip
    later = LeadUpdate(consent=True, name="张伟", phone=phone, trade_in_vehicle="帕萨特")
    outbox.submit("lead.record", lead_payload("web-1", later, "conversation:web", AT))
    bad = LeadUpdate(consent=True, name="张伟", phone=phone, budget_cny_max=-1)
    outbox.submit("lead.record", lead_payload("web-1", bad, "conversation:web", AT))
    erased_at = AT.replace(hour=3)
    outbox.submit("privacy.erase", {"sender_id": "web-1", "at": erased_at.isoformat()})
    assert places_in_outbox(outbox.path, phone) == []  # nothing personal waits in the file
    assert redacted == []
    sessions.configure(bind=engine)
    assert outbox.drain() is True
    assert redacted == [["web-1"]]
    with good() as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.name, customer.phone, customer.erased_at) == (None, None, erased_at)
        # Replayed late, a write from before the erasure is dropped.
        assert record_lead(session, "web-1", first, "conversation:web", AT, b"k") is None
    assert places_in_outbox(outbox.path, phone) == []


def test_an_erasure_whose_transcripts_cannot_be_reached_stays_queued(
    engine: Engine, tmp_path: Path
) -> None:
    good = build_session_factory(engine)
    calls: list[object] = []

    def tracker_store_down(result: object) -> None:
        calls.append(result)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("tracker store down"))

    outbox = Outbox(
        tmp_path / "outbox.sqlite", good, erasure_key=b"k",
        after={"privacy.erase": tracker_store_down},
    )  # fmt: skip
    assert outbox.submit("privacy.erase", {"sender_id": "s1", "at": AT.isoformat()}) is None
    assert outbox.pending() == 1
    assert outbox.drain() is True
    assert len(calls) == 2
    assert outbox.pending() == 0
