"""Readings behind status cards, kept in the database so the "Raw ha-status output" button
works after a restart and on any replica (pruned with the other readings).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kept_readings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_kept_readings_at", "kept_readings", ["at"])


def downgrade() -> None:
    op.drop_index("ix_kept_readings_at", "kept_readings")
    op.drop_table("kept_readings")
