"""Conversations: one row per conversation session (channel, language, times).

Revision ID: 0001
Revises:
Create Date: 2026-11-22 12:04:05.862876
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('web', 'telegram', 'phone', 'rest')",
            name=op.f("ck_conversations_channel"),
        ),
        sa.CheckConstraint(
            "language IS NULL OR language IN ('zh', 'en')", name=op.f("ck_conversations_language")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_sender_id_started_at"),
            ["sender_id", "started_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_sender_id_started_at"))

    op.drop_table("conversations")
