"""Complaint tickets (投诉): opened by a low survey score or a complaint in a conversation,
moved open -> in progress -> resolved by the managers, every step recorded with who and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_bridge.models.base import CHANNELS, LANGUAGES, Base, one_of
from crm_bridge.types import utcnow

TICKET_STATES = ("open", "in_progress", "resolved")
TICKET_SOURCES = ("survey", "conversation", "staff")
# What the complaint was about (reports count complaints by cause); set when it is opened from a
# survey (the lowest-scored question) and confirmed or changed on resolving.
TICKET_CAUSES = ("consultant", "delivery", "car", "service", "price", "waiting", "other")


class Ticket(Base):
    """A customer's complaint, followed until it is resolved."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(one_of("state", TICKET_STATES, nullable=False), name="state"),
        CheckConstraint(one_of("source", TICKET_SOURCES, nullable=False), name="source"),
        CheckConstraint(one_of("cause", TICKET_CAUSES), name="cause"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("language", LANGUAGES), name="language"),
        Index(None, "state", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    cause: Mapped[str | None] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    survey_id: Mapped[int | None] = mapped_column(
        ForeignKey("surveys.id", ondelete="SET NULL"), unique=True
    )
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"))
    sender_id: Mapped[str | None] = mapped_column(String(255), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    # What the customer said or scored (survey answers, the complaint's words); erased with them.
    summary: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    excerpt: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    alerted_at: Mapped[datetime | None]  # the managers were alerted in Telegram
    escalated_at: Mapped[datetime | None]  # last escalation of a ticket open too long
    escalations: Mapped[int] = mapped_column(default=0)
    progress_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)  # the cause and what was learned

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketEvent.id"
    )


class TicketEvent(Base):
    """A step of a ticket: opened, alerted, escalated, in progress, resolved; who and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # opened | alerted | escalated | state name
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    actor: Mapped[str | None] = mapped_column(String(100))  # staff name, "cli", "assistant"
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
