"""Phone calls: every call the voice provider reported on, inbound or placed by the dealership."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_bridge.models.base import Base, one_of
from crm_bridge.types import utcnow

CALL_DIRECTIONS = ("inbound", "outbound")
# Twilio's call statuses; the last five end a call.
CALL_STATUSES = (
    "queued", "initiated", "ringing", "in-progress",
    "completed", "busy", "no-answer", "failed", "canceled",
)  # fmt: skip
ENDED_CALL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
UNANSWERED_CALL_STATUSES = ("busy", "no-answer", "failed", "canceled")


class PhoneCall(Base):
    """A call of a phone conversation (``phone:<number>``) and how it went.

    An outbound call (a survey or a test-drive reminder) names the proactive message it carries,
    so a call nobody answered sends the message back to be tried again.
    """

    __tablename__ = "phone_calls"
    __table_args__ = (
        CheckConstraint(one_of("direction", CALL_DIRECTIONS, nullable=False), name="direction"),
        CheckConstraint(one_of("status", CALL_STATUSES, nullable=False), name="status"),
        UniqueConstraint("call_sid"),
        Index(None, "sender_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), index=True
    )
    duration_seconds: Mapped[int | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
