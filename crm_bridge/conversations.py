"""Recording conversations: who talked to the assistant, on which channel, in which language."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.models import CHANNELS, LANGUAGES, Conversation

# A Telegram chat's conversation id: "telegram:<chat id>" (the gateway's Telegram channel).
TELEGRAM_SENDER: Final = re.compile(r"telegram:(-?\d+)")


def telegram_sender(chat_id: int) -> str:
    """The conversation id of a Telegram chat."""
    return f"telegram:{chat_id}"


def telegram_chat(sender_id: str) -> int | None:
    """The Telegram chat of a conversation id, or None for another channel's."""
    found = TELEGRAM_SENDER.fullmatch(sender_id)
    return int(found.group(1)) if found else None


def start_conversation(
    session: Session, sender_id: str, started_at: datetime, channel: str | None = None
) -> Conversation:
    """A new conversation session for ``sender_id``."""
    conversation = Conversation(
        sender_id=sender_id, started_at=started_at, channel=_channel(channel)
    )
    session.add(conversation)
    session.flush()
    return conversation


def latest_conversation(session: Session, sender_id: str) -> Conversation | None:
    stmt = (
        select(Conversation)
        .where(Conversation.sender_id == sender_id)
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def record_message(
    session: Session,
    sender_id: str,
    at: datetime,
    channel: str | None = None,
    language: str | None = None,
) -> Conversation:
    """Note a customer message on the sender's current conversation (started if there is none).

    ``at`` is the message's own time: noting the same message twice (Rasa extracts slots again
    when a form starts) counts it once.
    """
    conversation = latest_conversation(session, sender_id)
    if conversation is None:
        conversation = start_conversation(session, sender_id, at, channel)
    elif conversation.last_message_at == at:
        return conversation
    if channel is not None and conversation.channel is None:
        conversation.channel = _channel(channel)
    if language is not None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        conversation.language = language
    conversation.last_message_at = at
    conversation.message_count += 1
    return conversation


def _channel(channel: str | None) -> str | None:
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return channel
