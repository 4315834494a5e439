"""The alert a request was asked under (its channel and card), whose thread is told
that it was asked and how it ended.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("alert_channel", sa.Text, nullable=True))
        batch.add_column(sa.Column("alert_card", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("alert_card")
        batch.drop_column("alert_channel")
