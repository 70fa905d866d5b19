"""Dealer financing and trade-in basics (from DEALER_DATA).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 13:29:48.467834
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dealers", schema=None) as batch_op:
        # Existing rows get empty values until the data file is loaded again.
        batch_op.add_column(sa.Column("financing", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("trade_in_notes", sa.Text(), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("dealers", schema=None) as batch_op:
        batch_op.drop_column("trade_in_notes")
        batch_op.drop_column("financing")
