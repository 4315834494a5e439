"""How far the audit has been forwarded to each SIEM target: the last sequence number
sent and settled (a restart resends from there; the SIEM drops duplicates by seq).

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "siem_cursors",
        sa.Column("target", sa.Text, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("siem_cursors")
