"""When each level of ``[approval] escalation`` was asked about a request (a JSON list of
times, level 1 first): the sweep asks the next level once, on one replica (compare-and-set
on this column), and the card shows who was asked when.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("asked", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("asked")
