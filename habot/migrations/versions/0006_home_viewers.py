"""Who opened the App Home (their Home is republished when a reading changes).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_viewers",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("opened_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("home_viewers")
