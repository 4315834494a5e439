"""Leases: with several replicas on one database, one of them runs the scheduled jobs,
and each replica shows it is alive; a running request names the replica running it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(120), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
    )
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("runner", sa.String(120)))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("runner")
    op.drop_table("leases")
