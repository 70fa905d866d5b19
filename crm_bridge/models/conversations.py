"""Conversations: one row per conversation session with a customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_bridge.models.base import CHANNELS, LANGUAGES, Base, one_of
from crm_bridge.types import utcnow


class Conversation(Base):
    """One conversation session with a customer on one channel (a Rasa session)."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("language", LANGUAGES), name="language"),
        Index(None, "sender_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None]
    message_count: Mapped[int] = mapped_column(default=0)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    opted_out_at: Mapped[datetime | None]  # "退订" from a customer we hold no phone number for
    # A conversation left in the middle of the needs analysis or a booking gets one friendly
    # nudge the next day (bot/jobs/nudges.py); this is when.
    nudged_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"Conversation(id={self.id}, sender_id={self.sender_id!r}, channel={self.channel!r})"
