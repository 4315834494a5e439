"""Approval cards go through the outbox: a request names its card by outbox id.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("card_id", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("card_id")
