"""The outbox: messages habot must send, stored before sending.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lane", sa.String(60), nullable=False),  # ordering scope, e.g. the pair
        sa.Column("kind", sa.String(20), nullable=False),  # post | update | reply
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("ts", sa.String(40)),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_outbox_lane_state", "outbox", ["lane", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_lane_state", "outbox")
    op.drop_table("outbox")
