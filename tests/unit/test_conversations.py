"""crm_bridge conversation records, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from crm_bridge import conversations
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.models import Conversation

T0 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def test_start_and_record_messages(sessions: SessionFactory) -> None:
    with transaction(sessions) as session:
        conversations.start_conversation(session, "web-1", T0)
    with transaction(sessions) as session:
        conversations.record_message(session, "web-1", T0 + timedelta(seconds=5), "rest", "zh")
        conversations.record_message(session, "web-1", T0 + timedelta(seconds=9), "web", "en")
    with sessions() as session:
        row = session.scalars(select(Conversation)).one()
    assert row.sender_id == "web-1"
    assert row.channel == "rest"  # the first channel seen stays
    assert row.language == "en"  # the language follows the customer
    assert row.started_at == T0
    assert row.last_message_at == T0 + timedelta(seconds=9)
    assert row.message_count == 2


def test_the_same_message_noted_twice_counts_once(sessions: SessionFactory) -> None:
    """Rasa extracts slots again when a form starts, so the message is noted a second time."""
    for _ in range(2):
        with transaction(sessions) as session:
            conversations.record_message(session, "web-1", T0, "rest", "zh")
    with sessions() as session:
        assert session.scalars(select(Conversation)).one().message_count == 1


def test_timestamps_come_back_timezone_aware_in_utc(sessions: SessionFactory) -> None:
    shanghai = timezone(timedelta(hours=8))
    with transaction(sessions) as session:
        conversations.start_conversation(
            session, "x", datetime(2026, 11, 22, 12, 0, tzinfo=shanghai)
        )
    with sessions() as session:
        row = session.scalars(select(Conversation)).one()
    assert row.started_at.tzinfo is not None
    assert row.started_at == T0
    assert row.started_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(sessions: SessionFactory) -> None:
    with pytest.raises(Exception, match="naive datetime"), transaction(sessions) as session:
        conversations.start_conversation(session, "x", datetime(2026, 1, 1))


def test_message_without_session_start_opens_a_conversation(sessions: SessionFactory) -> None:
    with transaction(sessions) as session:
        conversations.record_message(session, "late", T0, "telegram", None)
    with sessions() as session:
        row = session.scalars(select(Conversation)).one()
    assert (row.channel, row.language, row.message_count) == ("telegram", None, 1)


def test_latest_conversation_is_the_newest_session(sessions: SessionFactory) -> None:
    with transaction(sessions) as session:
        conversations.start_conversation(session, "s", T0, "rest")
        conversations.start_conversation(session, "s", T0 + timedelta(hours=2), "web")
        conversations.record_message(session, "s", T0 + timedelta(hours=2, seconds=1), None, "zh")
    with sessions() as session:
        latest = conversations.latest_conversation(session, "s")
        assert latest is not None
        assert latest.channel == "web"
        assert latest.message_count == 1


@pytest.mark.parametrize(("channel", "language"), [("fax", None), (None, "fr")])
def test_unknown_channel_or_language_is_refused(
    sessions: SessionFactory, channel: str | None, language: str | None
) -> None:
    with pytest.raises(ValueError, match="unknown"), transaction(sessions) as session:
        conversations.record_message(session, "s", T0, channel, language)
    with sessions() as session:
        assert (
            session.scalars(select(Conversation)).all() == []
        )  # rolled back, nothing half-written


@pytest.mark.parametrize(
    "sender_id",
    ["", "'; DROP TABLE conversations; --", "<b>x</b>", "😀" * 60, "a" * 255],
)
def test_odd_sender_ids_are_stored_verbatim(sessions: SessionFactory, sender_id: str) -> None:
    with transaction(sessions) as session:
        conversations.start_conversation(session, sender_id, T0, "rest")
    with sessions() as session:
        assert conversations.latest_conversation(session, sender_id) is not None
        assert session.scalars(select(Conversation.sender_id)).one() == sender_id
