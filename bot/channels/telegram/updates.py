"""Telegram updates kept in the database before they are acknowledged, processed once.

An update is recorded (``record``) before the webhook answers 200, so one that arrives while the
gateway goes down is processed after the restart (``pending``). Rasa's answer is stored with it
(``answered``) before it is sent, so a restart sends that answer instead of asking again; ``done``
closes it. A second delivery of the same ``update_id`` (Telegram retrying) is ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_bridge.models import InboundUpdate

# Processed updates are kept this long (then only their ids would matter, and Telegram does not
# resend after a day).
KEEP = timedelta(days=2)


def chat_of(payload: dict[str, Any]) -> int | None:
    """The chat an update belongs to (messages, edits, button presses, membership changes)."""
    for key in ("message", "edited_message", "my_chat_member", "channel_post"):
        chat = (payload.get(key) or {}).get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    query = payload.get("callback_query") or {}
    chat = (query.get("message") or {}).get("chat") or {}
    if isinstance(chat.get("id"), int):
        return int(chat["id"])
    sender = query.get("from") or {}
    return int(sender["id"]) if isinstance(sender.get("id"), int) else None


def record(session: Session, payload: dict[str, Any], now: datetime) -> bool:
    """Keep the update; False when it was already here (a repeated delivery)."""
    values = {
        "update_id": int(payload["update_id"]),
        "chat_id": chat_of(payload),
        "payload": payload,
        "state": "received",
        "received_at": now,
        "attempts": 0,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(InboundUpdate)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(InboundUpdate.update_id)
    )
    # RETURNING, not the row count: drivers may report -1 for a skipped insert.
    return session.execute(stmt).scalar_one_or_none() is not None


def state_of(session: Session, update_id: int) -> InboundUpdate | None:
    return session.get(InboundUpdate, update_id, populate_existing=True)


def answered(session: Session, update_id: int, replies: list[dict[str, Any]]) -> None:
    session.execute(
        update(InboundUpdate)
        .where(InboundUpdate.update_id == update_id)
        .values(state="answered", replies=replies)
    )


def done(session: Session, update_id: int, now: datetime) -> None:
    session.execute(
        update(InboundUpdate)
        .where(InboundUpdate.update_id == update_id)
        .values(state="done", done_at=now)
    )


def attempted(session: Session, update_id: int) -> None:
    session.execute(
        update(InboundUpdate)
        .where(InboundUpdate.update_id == update_id)
        .values(attempts=InboundUpdate.attempts + 1)
    )


def pending(session: Session) -> list[InboundUpdate]:
    """Updates not finished, in the order Telegram numbered them."""
    return list(
        session.scalars(
            select(InboundUpdate)
            .where(InboundUpdate.state != "done")
            .order_by(InboundUpdate.update_id)
        )
    )


def prune(session: Session, now: datetime) -> int:
    """Forget processed updates older than ``KEEP`` (what customers wrote is in the transcript)."""
    result = session.execute(
        delete(InboundUpdate).where(
            InboundUpdate.state == "done", InboundUpdate.done_at < now - KEEP
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
