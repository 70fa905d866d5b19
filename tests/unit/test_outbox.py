"""Writes kept while the database is down are written, in order, once it is back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import build_engine, build_session_factory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.exports import lead_records
from crm_bridge.leads import LeadUpdate
from crm_bridge.models import Conversation
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
