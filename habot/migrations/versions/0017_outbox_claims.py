"""A message being sent is claimed first: for a moment two replicas may both believe they
lead (one's lease lapsed while it was sending), and the claim keeps them from posting the
same card twice. ``claimed_until`` bounds a claim whose sender died mid-send.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200)))
        batch.add_column(sa.Column("claimed_until", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
