"""Change freezes typed in Slack or on the command line (``/ha freeze``): which pairs (a
JSON list; ``["all"]`` for every pair), from when until when, why, by whom, and when and by
whom one was lifted early. They survive restarts and hold for every replica.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("pairs", sa.Text, nullable=False),
        sa.Column("starts_at", sa.Text, nullable=False),
        sa.Column("ends_at", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("by_user", sa.Text, nullable=False),
        sa.Column("lifted_at", sa.Text, nullable=True),
        sa.Column("lifted_by", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("freezes")
