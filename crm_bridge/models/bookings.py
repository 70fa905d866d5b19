"""Test drives: demo cars, bookings and the cells they occupy, their history, reminders, surveys.

Double booking is ruled out by the database, not by a check in Python: a booking occupies one
``booking_cells`` row per 15-minute cell for its demo car and one for its consultant, and a cell
of a resource can be taken once (the primary key). Two overlapping bookings of the same car or
consultant cannot both be written, whatever the timing, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_bridge.models.base import CHANNELS, LANGUAGES, Base, one_of
from crm_bridge.models.catalog import Consultant
from crm_bridge.types import utcnow

BOOKING_STATUSES = ("booked", "rescheduled", "cancelled", "completed", "no_show")
ACTIVE_BOOKING_STATUSES = ("booked", "rescheduled")
BOOKING_EVENT_KINDS = ("created", "rescheduled", "cancelled", "completed", "no_show")
RESOURCES = ("car", "consultant")
CELL_MINUTES = 15
SURVEY_KINDS = ("post_delivery", "post_test_drive")
RECIPIENTS = ("customer", "consultant")
# pending: claimed, being sent or waiting for a retry; sent; skipped (opted out, no channel);
# failed: given up after the retries, and reported to the managers.
NOTIFICATION_STATUSES = ("pending", "sent", "skipped", "failed")
SURVEY_CLOSE_REASONS = ("opted_out", "expired")


class DemoCar(Base):
    """A car of the showroom's fleet that customers test drive."""

    __tablename__ = "demo_cars"
    __table_args__ = (UniqueConstraint("model_code", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_code: Mapped[str] = mapped_column(ForeignKey("catalog_models.code", ondelete="RESTRICT"))
    label: Mapped[str] = mapped_column(String(40))  # e.g. "Q5L #1"
    active: Mapped[bool] = mapped_column(default=True)


class Booking(Base):
    """A test drive: a demo car of the model and a consultant for a time; active while booked."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(one_of("status", BOOKING_STATUSES, nullable=False), name="status"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("language", LANGUAGES), name="language"),
        CheckConstraint('start < "end"', name="times"),
        Index(None, "start"),
        Index(None, "consultant_id", "start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    model_code: Mapped[str] = mapped_column(ForeignKey("catalog_models.code", ondelete="RESTRICT"))
    demo_car_id: Mapped[int] = mapped_column(ForeignKey("demo_cars.id", ondelete="RESTRICT"))
    consultant_id: Mapped[int] = mapped_column(ForeignKey("consultants.id", ondelete="RESTRICT"))
    start: Mapped[datetime]
    end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="booked")
    sender_id: Mapped[str | None] = mapped_column(String(255), index=True)  # Rasa conversation
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    customer_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164; a copy, blanked on erasure
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    demo_car: Mapped[DemoCar] = relationship()
    consultant: Mapped[Consultant] = relationship()
    events: Mapped[list[BookingEvent]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", order_by="BookingEvent.id"
    )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_BOOKING_STATUSES

    def __repr__(self) -> str:
        return (
            f"Booking(id={self.id}, model_code={self.model_code!r}, start={self.start!r}, "
            f"status={self.status!r})"
        )


class BookingCell(Base):
    """A 15-minute cell of a demo car's or a consultant's time taken by an active booking."""

    __tablename__ = "booking_cells"
    __table_args__ = (
        CheckConstraint(one_of("resource", RESOURCES, nullable=False), name="resource"),
    )

    resource: Mapped[str] = mapped_column(String(12), primary_key=True)
    resource_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    cell_start: Mapped[datetime] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )


class BookingEvent(Base):
    """Every change to a booking; ``notified_at`` is set once the consultant has been told."""

    __tablename__ = "booking_events"
    __table_args__ = (
        CheckConstraint(one_of("kind", BOOKING_EVENT_KINDS, nullable=False), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(40))  # e.g. "conversation:rest", "cli"
    kind: Mapped[str] = mapped_column(String(20))
    old_start: Mapped[datetime | None]
    new_start: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]

    booking: Mapped[Booking] = relationship(back_populates="events")


class Survey(Base):
    """A satisfaction survey (回访): per delivery and stage (d1, d7, d30), or per test drive.

    ``answers`` maps the question ids of the survey configuration to the customer's answers
    (int scores, the comment as text); it is saved question by question, so a survey can be
    finished later. ``token_hash`` is the SHA-256 of the personal link's token (the token itself
    is never stored); the link works once and until ``token_expires_at``.
    """

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint(one_of("kind", SURVEY_KINDS, nullable=False), name="kind"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("language", LANGUAGES), name="language"),
        CheckConstraint(one_of("closed_reason", SURVEY_CLOSE_REASONS), name="closed_reason"),
        UniqueConstraint("booking_id", "kind"),
        UniqueConstraint("delivery_id", "stage"),
        UniqueConstraint("token_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str | None] = mapped_column(String(8))  # the configuration's stage id: d1, d7
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    sender_id: Mapped[str | None] = mapped_column(String(255), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    scheduled_for: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # the one reminder after 48 hours unanswered
    completed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # not to be sent or finished any more
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retries: Mapped[int] = mapped_column(default=0)  # unusable answers to the current question
    complaint: Mapped[bool] = mapped_column(default=False)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    token_expires_at: Mapped[datetime | None]
    token_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """A proactive message (reminder, survey, nudge) claimed, sent, or deliberately not sent.

    ``ref`` names the message (``survey:12:ask``, ``booking:5:reminder_24h:<start>``,
    ``nudge:<conversation>:<date>``) and is unique: a message is claimed here before it is sent,
    so it goes out at most once whatever the number of schedulers or restarts. A send that fails
    stays ``pending`` with ``next_attempt_at``; before trying again the conversation is checked
    for the action's own mark, so a message Rasa did send is not sent twice. ``messages`` keeps
    what Rasa answered for a Telegram conversation until Telegram has taken it.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(one_of("recipient", RECIPIENTS, nullable=False), name="recipient"),
        CheckConstraint(one_of("status", NOTIFICATION_STATUSES, nullable=False), name="status"),
        UniqueConstraint("booking_id", "kind", "for_start"),
        UniqueConstraint("ref"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    survey_id: Mapped[int | None] = mapped_column(
        ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))  # e.g. "reminder_24h", "reminder_2h"
    for_start: Mapped[datetime | None]  # the booking start the message was about
    recipient: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="sent")
    detail: Mapped[str | None] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(160))
    sender_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    reported_at: Mapped[datetime | None]  # a failure told to the managers
