"""Per-pair alert state (so a restart mid-incident updates the same card).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("pair", sa.String(40), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("card_id", sa.Integer),  # the outbox id of the open alert card
    )


def downgrade() -> None:
    op.drop_table("alert_state")
