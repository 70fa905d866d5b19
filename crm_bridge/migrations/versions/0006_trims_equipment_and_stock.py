"""Vehicle presentation: trims with their equipment, stock per trim and colour, model sizes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:33:01.543978
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_trims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("price_cny", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("price_cny > 0", name=op.f("ck_catalog_trims_price")),
        sa.ForeignKeyConstraint(
            ["model_code"],
            ["catalog_models.code"],
            name=op.f("fk_catalog_trims_model_code_catalog_models"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_trims")),
        sa.UniqueConstraint("model_code", "name", name=op.f("uq_catalog_trims_model_code_name")),
    )
    with op.batch_alter_table("catalog_trims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_trims_model_code"), ["model_code"], unique=False
        )

    op.create_table(
        "stock_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trim_id", sa.Integer(), nullable=False),
        sa.Column("color", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("arrives_on", sa.Date(), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'in_stock' AND quantity > 0)"
            " OR (status = 'arriving' AND arrives_on IS NOT NULL)"
            " OR (status = 'to_order' AND lead_time_days > 0)",
            name=op.f("ck_stock_items_complete"),
        ),
        sa.CheckConstraint(
            "status IN ('in_stock', 'arriving', 'to_order')", name=op.f("ck_stock_items_status")
        ),
        sa.ForeignKeyConstraint(
            ["trim_id"],
            ["catalog_trims.id"],
            name=op.f("fk_stock_items_trim_id_catalog_trims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_items")),
        sa.UniqueConstraint(
            "trim_id", "color", "status", name=op.f("uq_stock_items_trim_id_color_status")
        ),
    )
    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_items_trim_id"), ["trim_id"], unique=False)

    op.create_table(
        "trim_equipment",
        sa.Column("trim_id", sa.Integer(), nullable=False),
        sa.Column("feature", sa.String(length=40), nullable=False),
        sa.Column("availability", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "availability IN ('standard', 'optional')", name=op.f("ck_trim_equipment_availability")
        ),
        sa.ForeignKeyConstraint(
            ["trim_id"],
            ["catalog_trims.id"],
            name=op.f("fk_trim_equipment_trim_id_catalog_trims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trim_id", "feature", name=op.f("pk_trim_equipment")),
    )
    with op.batch_alter_table("trim_equipment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trim_equipment_feature"), ["feature"], unique=False)

    with op.batch_alter_table("catalog_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("length_mm", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("width_mm", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("height_mm", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("wheelbase_mm", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_models", schema=None) as batch_op:
        batch_op.drop_column("wheelbase_mm")
        batch_op.drop_column("height_mm")
        batch_op.drop_column("width_mm")
        batch_op.drop_column("length_mm")

    with op.batch_alter_table("trim_equipment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trim_equipment_feature"))

    op.drop_table("trim_equipment")
    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_items_trim_id"))

    op.drop_table("stock_items")
    with op.batch_alter_table("catalog_trims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_trims_model_code"))

    op.drop_table("catalog_trims")
