"""Customers, leads and the history of every change to a lead."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_bridge.models.base import (
    CHANNELS,
    CLOSED_STATUSES,
    LANGUAGES,
    LEAD_STATUSES,
    LEVELS,
    PAYMENTS,
    Base,
    one_of,
)
from crm_bridge.types import utcnow

# The predicate of the partial unique index: a lead is open until it is won or lost.
OPEN_LEAD_SQL = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))


class Customer(Base):
    """A person; the same phone number is the same customer on every channel."""

    __tablename__ = "customers"
    __table_args__ = (CheckConstraint(one_of("language", LANGUAGES), name="language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # E.164
    name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str | None] = mapped_column(String(2))
    consent: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]  # no proactive messages after this
    erased_at: Mapped[datetime | None]  # personal data deleted on request
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    leads: Mapped[list[Lead]] = relationship(back_populates="customer")


class Lead(Base):
    """A buying interest being worked on; at most one open lead per customer (database rule)."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(one_of("status", LEAD_STATUSES, nullable=False), name="status"),
        CheckConstraint(one_of("level", LEVELS), name="level"),
        CheckConstraint(one_of("payment", PAYMENTS), name="payment"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("language", LANGUAGES), name="language"),
        CheckConstraint("budget_cny_max IS NULL OR budget_cny_max > 0", name="budget"),
        CheckConstraint(
            "purchase_timeline_days IS NULL OR purchase_timeline_days >= 0", name="timeline"
        ),
        Index(
            "uq_leads_open_customer",
            "customer_id",
            unique=True,
            postgresql_where=text(OPEN_LEAD_SQL),
            sqlite_where=text(OPEN_LEAD_SQL),
        ),
        Index(None, "next_follow_up_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    budget_cny_max: Mapped[int | None]
    purchase_timeline_days: Mapped[int | None]
    level: Mapped[str | None] = mapped_column(String(1))
    payment: Mapped[str | None] = mapped_column(String(8))
    trade_in: Mapped[bool | None]
    trade_in_vehicle: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="new")
    consultant_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultants.id", ondelete="SET NULL")
    )
    # The staff member who claimed the lead on Telegram (its consultant in the exports).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    consent: Mapped[bool] = mapped_column(default=False)
    # Prospect follow-up (追踪): when the owner should next contact the customer (by level),
    # when they were reminded of it, when the managers were told it is overdue.
    next_follow_up_at: Mapped[datetime | None]
    follow_up_reminded_at: Mapped[datetime | None]
    follow_up_escalated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship(back_populates="leads")
    models: Mapped[list[LeadModel]] = relationship(
        back_populates="lead", cascade="all, delete-orphan", order_by="LeadModel.position"
    )
    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", cascade="all, delete-orphan", order_by="LeadEvent.id"
    )

    @property
    def model_interest(self) -> list[str]:
        return [m.model_code for m in self.models]


class LeadModel(Base):
    """A catalog model the lead is interested in, in the order the customer named them."""

    __tablename__ = "lead_models"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    model_code: Mapped[str] = mapped_column(
        ForeignKey("catalog_models.code", ondelete="RESTRICT"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=0)

    lead: Mapped[Lead] = relationship(back_populates="models")


class LeadEvent(Base):
    """Every change to a lead: when, from where, what changed."""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(40))  # e.g. "conversation:web", "cli"
    kind: Mapped[str] = mapped_column(String(20))  # created | changed | status | question
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)

    lead: Mapped[Lead] = relationship(back_populates="events")
