"""The sales team and hand-offs: staff on Telegram, who handles a conversation, relayed messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_bridge.models.base import CHANNELS, LANGUAGES, Base, one_of
from crm_bridge.types import utcnow

STAFF_ROLES = ("consultant", "manager")
# Why a conversation was handed to a person.
HANDOFF_REASONS = ("person", "price", "complaint", "hot_lead")
# waiting: nobody has claimed it, the assistant still answers; claimed: the owner answers
# (live relay), the assistant stays quiet; done: handed back to the assistant.
HANDOFF_STATES = ("waiting", "claimed", "done")
OPEN_HANDOFF_SQL = "state <> 'done'"
RELAY_DIRECTIONS = ("to_customer", "to_consultant")
RELAY_KINDS = ("text", "photo", "location")
UPDATE_STATES = ("received", "answered", "done")


class Staff(Base):
    """A consultant or manager who uses the bot on Telegram (their Telegram user id)."""

    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint(one_of("role", STAFF_ROLES, nullable=False), name="role"),
        CheckConstraint(one_of("language", LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(10))
    # The consultant of the dealership data this person is (bookings are assigned to those).
    consultant_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultants.id", ondelete="SET NULL")
    )
    language: Mapped[str | None] = mapped_column(String(2))  # their Telegram language
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Handoff(Base):
    """A conversation handed to the sales team; at most one open hand-off per conversation."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(one_of("state", HANDOFF_STATES, nullable=False), name="state"),
        CheckConstraint(one_of("reason", HANDOFF_REASONS, nullable=False), name="reason"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("language", LANGUAGES), name="language"),
        CheckConstraint("state = 'waiting' OR owner_id IS NOT NULL", name="owner"),
        Index(
            "uq_handoffs_open_sender",
            "sender_id",
            unique=True,
            postgresql_where=text(OPEN_HANDOFF_SQL),
            sqlite_where=text(OPEN_HANDOFF_SQL),
        ),
        Index(None, "state", "claim_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(10))
    # The last turns before the hand-off, for the lead card: [{"who": "customer"|"assistant",
    # "text": ...}]; erased with the customer.
    excerpt: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    announced_at: Mapped[datetime | None]  # the lead card went out
    state: Mapped[str] = mapped_column(String(10), default="waiting")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_due_at: Mapped[datetime]  # escalated to the managers when nobody claimed it by then
    escalated_at: Mapped[datetime | None]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    claimed_at: Mapped[datetime | None]
    reply_due_at: Mapped[datetime | None]  # the owner is reminded, then escalated, after this
    reminded_at: Mapped[datetime | None]
    reply_escalated_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    owner: Mapped[Staff | None] = relationship()
    cards: Mapped[list[HandoffCard]] = relationship(
        back_populates="handoff", cascade="all, delete-orphan", order_by="HandoffCard.id"
    )


class HandoffCard(Base):
    """A lead card posted to Telegram (the sales group, or a manager), to be edited on claim."""

    __tablename__ = "handoff_cards"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(12), default="card")  # card | escalation
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)

    handoff: Mapped[Handoff] = relationship(back_populates="cards")


class RelayMessage(Base):
    """A message relayed between a customer and the consultant handling their conversation."""

    __tablename__ = "relay_messages"
    __table_args__ = (
        CheckConstraint(one_of("direction", RELAY_DIRECTIONS, nullable=False), name="direction"),
        CheckConstraint(one_of("kind", RELAY_KINDS, nullable=False), name="kind"),
        Index(None, "direction", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(14))
    kind: Mapped[str] = mapped_column(String(10), default="text")
    body: Mapped[str | None] = mapped_column(Text)  # text, caption, or "lat,lon"
    media: Mapped[str | None] = mapped_column(String(200))  # stored photo (name under var/media)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # Where the consultant saw it (their private chat), so a reply to it finds the conversation.
    staff_chat_message_id: Mapped[int | None] = mapped_column(BigInteger)


class InboundUpdate(Base):
    """A Telegram update recorded before it is acknowledged; processed once, by update id."""

    __tablename__ = "inbound_updates"
    __table_args__ = (
        CheckConstraint(one_of("state", UPDATE_STATES, nullable=False), name="state"),
        Index(None, "state", "update_id"),
    )

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="received")
    # What Rasa answered, kept until sent so a restart sends it instead of asking again.
    replies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None]


class Delivery(Base):
    """A car handed over to its buyer (``/delivered``, the CLI); the revisit surveys start here."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("vin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    model_code: Mapped[str] = mapped_column(ForeignKey("catalog_models.code", ondelete="RESTRICT"))
    vin: Mapped[str | None] = mapped_column(String(17))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    consultant_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultants.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(20), default="cli")  # telegram | cli | import
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
