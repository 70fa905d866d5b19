"""Dealership catalog, customers, leads and lead events; conversations link to them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:25:08.203427
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("body_type", sa.String(length=16), nullable=False),
        sa.Column("powertrain", sa.String(length=8), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("price_min_cny", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("price_max_cny", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("consumption_l_100km", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("range_km", sa.Integer(), nullable=True),
        sa.Column("demo_cars", sa.Integer(), nullable=False),
        sa.Column("highlights", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "body_type IN ('suv', 'sedan', 'hatchback', 'coupe', 'wagon', 'convertible')",
            name=op.f("ck_catalog_models_body_type"),
        ),
        sa.CheckConstraint(
            "powertrain IN ('ev', 'phev', 'ice')", name=op.f("ck_catalog_models_powertrain")
        ),
        sa.CheckConstraint(
            "price_min_cny <= price_max_cny", name=op.f("ck_catalog_models_price_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_models")),
        sa.UniqueConstraint("code", name=op.f("uq_catalog_models_code")),
    )
    op.create_table(
        "consultants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("working_days", sa.JSON(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultants")),
        sa.UniqueConstraint("phone", name=op.f("uq_consultants_phone")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "language IS NULL OR language IN ('zh', 'en')", name=op.f("ck_customers_language")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("phone", name=op.f("uq_customers_phone")),
    )
    op.create_table(
        "dealers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("address_en", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("opening_hours", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("test_drive_slot_minutes", sa.Integer(), nullable=False),
        sa.Column("parking", sa.Text(), nullable=False),
        sa.Column("transport", sa.Text(), nullable=False),
        sa.Column("prices_illustrative", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dealers")),
    )
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_en", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.CheckConstraint("valid_from <= valid_until", name=op.f("ck_promotions_valid_dates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("budget_cny_max", sa.Integer(), nullable=True),
        sa.Column("purchase_timeline_days", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=1), nullable=True),
        sa.Column("payment", sa.String(length=8), nullable=True),
        sa.Column("trade_in", sa.Boolean(), nullable=True),
        sa.Column("trade_in_vehicle", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("consultant_id", sa.Integer(), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('web', 'telegram', 'phone', 'rest')",
            name=op.f("ck_leads_channel"),
        ),
        sa.CheckConstraint(
            "language IS NULL OR language IN ('zh', 'en')", name=op.f("ck_leads_language")
        ),
        sa.CheckConstraint(
            "level IS NULL OR level IN ('H', 'A', 'B', 'C')", name=op.f("ck_leads_level")
        ),
        sa.CheckConstraint(
            "payment IS NULL OR payment IN ('cash', 'loan', 'lease')", name=op.f("ck_leads_payment")
        ),
        sa.CheckConstraint(
            "status IN ('new', 'qualified', 'handed_off', 'contacted', 'test_drive_booked', "
            "'won', 'lost')",
            name=op.f("ck_leads_status"),
        ),
        sa.CheckConstraint(
            "budget_cny_max IS NULL OR budget_cny_max > 0", name=op.f("ck_leads_budget")
        ),
        sa.CheckConstraint(
            "purchase_timeline_days IS NULL OR purchase_timeline_days >= 0",
            name=op.f("ck_leads_timeline"),
        ),
        sa.ForeignKeyConstraint(
            ["consultant_id"],
            ["consultants.id"],
            name=op.f("fk_leads_consultant_id_consultants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_leads_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            "uq_leads_open_customer",
            ["customer_id"],
            unique=True,
            postgresql_where=sa.text("status NOT IN ('won', 'lost')"),
            sqlite_where=sa.text("status NOT IN ('won', 'lost')"),
        )

    op.create_table(
        "promotion_models",
        sa.Column("promotion_id", sa.Integer(), nullable=False),
        sa.Column("model_code", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_code"],
            ["catalog_models.code"],
            name=op.f("fk_promotion_models_model_code_catalog_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_models_promotion_id_promotions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("promotion_id", "model_code", name=op.f("pk_promotion_models")),
    )
    op.create_table(
        "lead_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_events_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_events")),
    )
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_events_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "lead_models",
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("model_code", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_models_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_code"],
            ["catalog_models.code"],
            name=op.f("fk_lead_models_model_code_catalog_models"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("lead_id", "model_code", name=op.f("pk_lead_models")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lead_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_conversations_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_customer_id_customers"),
            "customers",
            ["customer_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_lead_id_leads"),
            "leads",
            ["lead_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_conversations_lead_id_leads"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_conversations_customer_id_customers"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_conversations_customer_id"))
        batch_op.drop_column("lead_id")
        batch_op.drop_column("customer_id")

    op.drop_table("lead_models")
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_events_lead_id"))

    op.drop_table("lead_events")
    op.drop_table("promotion_models")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_leads_open_customer",
            postgresql_where=sa.text("status NOT IN ('won', 'lost')"),
            sqlite_where=sa.text("status NOT IN ('won', 'lost')"),
        )
        batch_op.drop_index(batch_op.f("ix_leads_customer_id"))

    op.drop_table("leads")
    op.drop_table("promotions")
    op.drop_table("dealers")
    op.drop_table("customers")
    op.drop_table("consultants")
    op.drop_table("catalog_models")
