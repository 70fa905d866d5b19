"""SQLAlchemy 2 typed models of the dealership database."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, Index, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_bridge.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CHANNELS = ("web", "telegram", "phone", "rest")
LANGUAGES = ("zh", "en")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Conversation(Base):
    """One conversation session with a customer on one channel (a Rasa session)."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(
            "channel IS NULL OR channel IN ('web', 'telegram', 'phone', 'rest')", name="channel"
        ),
        CheckConstraint("language IS NULL OR language IN ('zh', 'en')", name="language"),
        Index(None, "sender_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None]
    message_count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"Conversation(id={self.id}, sender_id={self.sender_id!r}, channel={self.channel!r})"
