"""Who a conversation is: its link to a customer, the numbers it proved, erasure tombstones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_bridge.models.base import Base, one_of
from crm_bridge.types import utcnow

# How a conversation came to be linked to a customer:
# "created": its number was new, the conversation made the customer record;
# "claimed": it gave a number that already belonged to a customer (not proof of identity).
LINK_KINDS = ("created", "claimed")
# How a number was proved to be the conversation's own.
VERIFICATIONS = ("telegram_contact", "caller_id", "sms_code")
TOMBSTONE_KINDS = ("phone", "sender")


class CustomerLink(Base):
    """A conversation (a sender on a channel, across Rasa sessions) linked to a customer.

    The link outlives Rasa's sessions, restarts and proactive messages; the most recent link is
    the customer the conversation speaks for now.
    """

    __tablename__ = "customer_links"
    __table_args__ = (
        CheckConstraint(one_of("kind", LINK_KINDS, nullable=False), name="kind"),
        UniqueConstraint("sender_id", "customer_id"),
        Index(None, "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerifiedPhone(Base):
    """A number this conversation proved is its own (own-contact share, caller id, SMS code)."""

    __tablename__ = "verified_phones"
    __table_args__ = (
        CheckConstraint(one_of("via", VERIFICATIONS, nullable=False), name="via"),
        UniqueConstraint("sender_id", "phone"),
        Index(None, "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    via: Mapped[str] = mapped_column(String(20))
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationCode(Base):
    """A one-time code sent by SMS; only its keyed hash is stored."""

    __tablename__ = "verification_codes"
    __table_args__ = (Index(None, "sender_id", "created_at"), Index(None, "phone", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))  # blanked on erasure
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class ErasureTombstone(Base):
    """An erased number or conversation, as a keyed hash: older writes replayed later are dropped.

    Holds no personal data: the hash is keyed with a secret kept outside the database.
    """

    __tablename__ = "erasure_tombstones"
    __table_args__ = (
        CheckConstraint(one_of("kind", TOMBSTONE_KINDS, nullable=False), name="kind"),
        UniqueConstraint("kind", "key_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    key_hash: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime]
