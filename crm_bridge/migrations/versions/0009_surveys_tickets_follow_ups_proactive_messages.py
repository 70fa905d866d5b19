"""Revisit surveys per delivery and stage with personal links; proactive messages claimed by
reference and retried; complaint tickets; prospect follow-up dates; stalled conversations.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:29:24.462851
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("excerpt", sa.JSON(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "cause IS NULL OR cause IN "
            "('consultant', 'delivery', 'car', 'service', 'price', 'waiting', 'other')",
            name=op.f("ck_tickets_cause"),
        ),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('web', 'telegram', 'phone', 'rest')",
            name=op.f("ck_tickets_channel"),
        ),
        sa.CheckConstraint(
            "language IS NULL OR language IN ('zh', 'en')", name=op.f("ck_tickets_language")
        ),
        sa.CheckConstraint(
            "source IN ('survey', 'conversation', 'staff')", name=op.f("ck_tickets_source")
        ),
        sa.CheckConstraint(
            "state IN ('open', 'in_progress', 'resolved')", name=op.f("ck_tickets_state")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_tickets_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_tickets_handoff_id_handoffs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_tickets_lead_id_leads"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_tickets_survey_id_surveys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("survey_id", name=op.f("uq_tickets_survey_id")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_sender_id"), ["sender_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tickets_state_opened_at"), ["state", "opened_at"], unique=False
        )

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_ticket_events_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_events_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_events_ticket_id"), ["ticket_id"], unique=False)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consultant_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("source", sa.String(length=20), nullable=False, server_default="cli")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_consultant_id_consultants"),
            "consultants",
            ["consultant_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_follow_up_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("follow_up_reminded_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("follow_up_escalated_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_leads_next_follow_up_at"), ["next_follow_up_at"], unique=False
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ref", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("sender_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("messages", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_notifications_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_unique_constraint(batch_op.f("uq_notifications_ref"), ["ref"])
        batch_op.drop_constraint(batch_op.f("ck_notifications_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_notifications_status"),
            "status IN ('pending', 'sent', 'skipped', 'failed')",
        )

    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("delivery_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_reason", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("retries", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("token_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_surveys_delivery_id_stage"), ["delivery_id", "stage"]
        )
        batch_op.create_unique_constraint(batch_op.f("uq_surveys_token_hash"), ["token_hash"])
        batch_op.create_foreign_key(
            batch_op.f("fk_surveys_delivery_id_deliveries"),
            "deliveries",
            ["delivery_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_surveys_closed_reason"),
            "closed_reason IS NULL OR closed_reason IN ('opted_out', 'expired')",
        )


def downgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_surveys_closed_reason"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_surveys_delivery_id_deliveries"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_surveys_token_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_surveys_delivery_id_stage"), type_="unique")
        batch_op.drop_column("token_used_at")
        batch_op.drop_column("token_expires_at")
        batch_op.drop_column("token_hash")
        batch_op.drop_column("retries")
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("delivery_id")
        batch_op.drop_column("stage")

    op.execute("DELETE FROM notifications WHERE status = 'pending'")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_notifications_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_notifications_status"), "status IN ('sent', 'skipped', 'failed')"
        )
        batch_op.drop_constraint(batch_op.f("uq_notifications_ref"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_notifications_status_next_attempt_at"))
        batch_op.drop_column("reported_at")
        batch_op.drop_column("messages")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("sender_id")
        batch_op.drop_column("ref")

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_next_follow_up_at"))
        batch_op.drop_column("follow_up_escalated_at")
        batch_op.drop_column("follow_up_reminded_at")
        batch_op.drop_column("next_follow_up_at")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_consultant_id_consultants"), type_="foreignkey"
        )
        batch_op.drop_column("source")
        batch_op.drop_column("consultant_id")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("nudged_at")

    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_events_ticket_id"))

    op.drop_table("ticket_events")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_state_opened_at"))
        batch_op.drop_index(batch_op.f("ix_tickets_sender_id"))
        batch_op.drop_index(batch_op.f("ix_tickets_customer_id"))

    op.drop_table("tickets")
