"""Test-drive bookings: demo cars, bookings and their 15-minute cells, history, reminders, surveys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:02:55.462346
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demo_cars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_code", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_code"],
            ["catalog_models.code"],
            name=op.f("fk_demo_cars_model_code_catalog_models"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_cars")),
        sa.UniqueConstraint("model_code", "label", name=op.f("uq_demo_cars_model_code_label")),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("model_code", sa.String(length=20), nullable=False),
        sa.Column("demo_car_id", sa.Integer(), nullable=False),
        sa.Column("consultant_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("customer_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('web', 'telegram', 'phone', 'rest')",
            name=op.f("ck_bookings_channel"),
        ),
        sa.CheckConstraint(
            "language IS NULL OR language IN ('zh', 'en')", name=op.f("ck_bookings_language")
        ),
        sa.CheckConstraint(
            "status IN ('booked', 'rescheduled', 'cancelled', 'completed', 'no_show')",
            name=op.f("ck_bookings_status"),
        ),
        sa.CheckConstraint('start < "end"', name=op.f("ck_bookings_times")),
        sa.ForeignKeyConstraint(
            ["consultant_id"],
            ["consultants.id"],
            name=op.f("fk_bookings_consultant_id_consultants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_bookings_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["demo_car_id"],
            ["demo_cars.id"],
            name=op.f("fk_bookings_demo_car_id_demo_cars"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_bookings_lead_id_leads"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["model_code"],
            ["catalog_models.code"],
            name=op.f("fk_bookings_model_code_catalog_models"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bookings_consultant_id_start"), ["consultant_id", "start"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bookings_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_sender_id"), ["sender_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_start"), ["start"], unique=False)

    op.create_table(
        "booking_cells",
        sa.Column("resource", sa.String(length=12), nullable=False),
        sa.Column("resource_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cell_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "resource IN ('car', 'consultant')", name=op.f("ck_booking_cells_resource")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_cells_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "resource", "resource_id", "cell_start", name=op.f("pk_booking_cells")
        ),
    )
    with op.batch_alter_table("booking_cells", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_cells_booking_id"), ["booking_id"], unique=False
        )

    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("old_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('created', 'rescheduled', 'cancelled', 'completed', 'no_show')",
            name=op.f("ck_booking_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_events_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_events")),
    )
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_events_booking_id"), ["booking_id"], unique=False
        )

    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("complaint", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('web', 'telegram', 'phone', 'rest')",
            name=op.f("ck_surveys_channel"),
        ),
        sa.CheckConstraint(
            "kind IN ('post_delivery', 'post_test_drive')", name=op.f("ck_surveys_kind")
        ),
        sa.CheckConstraint(
            "language IS NULL OR language IN ('zh', 'en')", name=op.f("ck_surveys_language")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_surveys_booking_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_surveys_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_surveys_lead_id_leads"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("booking_id", "kind", name=op.f("uq_surveys_booking_id_kind")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_surveys_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_surveys_sender_id"), ["sender_id"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("for_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "recipient IN ('customer', 'consultant')", name=op.f("ck_notifications_recipient")
        ),
        sa.CheckConstraint(
            "status IN ('sent', 'skipped', 'failed')", name=op.f("ck_notifications_status")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_notifications_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_notifications_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "booking_id",
            "kind",
            "for_start",
            name=op.f("uq_notifications_booking_id_kind_for_start"),
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_survey_id"), ["survey_id"], unique=False)

    with op.batch_alter_table("dealers", schema=None) as batch_op:
        # Existing rows get the defaults until the data file is loaded again.
        batch_op.add_column(
            sa.Column(
                "test_drive_min_notice_minutes", sa.Integer(), nullable=False, server_default="60"
            )
        )
        batch_op.add_column(
            sa.Column("test_drive_horizon_days", sa.Integer(), nullable=False, server_default="30")
        )


def downgrade() -> None:
    with op.batch_alter_table("dealers", schema=None) as batch_op:
        batch_op.drop_column("test_drive_horizon_days")
        batch_op.drop_column("test_drive_min_notice_minutes")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_survey_id"))

    op.drop_table("notifications")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surveys_sender_id"))
        batch_op.drop_index(batch_op.f("ix_surveys_customer_id"))

    op.drop_table("surveys")
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_events_booking_id"))

    op.drop_table("booking_events")
    with op.batch_alter_table("booking_cells", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_cells_booking_id"))

    op.drop_table("booking_cells")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_start"))
        batch_op.drop_index(batch_op.f("ix_bookings_sender_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_lead_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_customer_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_consultant_id_start"))

    op.drop_table("bookings")
    op.drop_table("demo_cars")
