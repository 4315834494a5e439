"""Stored status readings (pruned by age): reading age, role-change detection, uptime.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("primary_state", sa.String(20), nullable=False),
        sa.Column("secondary_state", sa.String(20), nullable=False),
        sa.Column("health", sa.String(20)),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_readings_pair_at", "readings", ["pair", "at"])


def downgrade() -> None:
    op.drop_index("ix_readings_pair_at", "readings")
    op.drop_table("readings")
