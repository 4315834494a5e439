"""Signed Slack requests already taken, shared by every replica on the database: a captured
request replayed to another replica within Slack's five-minute window is refused there too
(each process also keeps its own list, checked first).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_requests",
        sa.Column("signature", sa.String(100), primary_key=True),
        sa.Column("seen_at", sa.String(40), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("seen_requests")
