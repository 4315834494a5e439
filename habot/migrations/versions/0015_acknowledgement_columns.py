"""An alert's acknowledgement gets its own columns: Acknowledge (any replica) writes only
them, and the scheduled poll (the leader) writes only the state beside them — so a poll
that loaded the state just before someone acknowledged cannot save it back without the
acknowledgement. ``ack_since`` names the incident acknowledged (its start), so a later
incident never inherits an earlier one's acknowledgement.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:
        batch.add_column(sa.Column("ack_since", sa.String(40)))
        batch.add_column(sa.Column("ack_by", sa.String(40)))
        batch.add_column(sa.Column("ack_at", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:
        batch.drop_column("ack_at")
        batch.drop_column("ack_by")
        batch.drop_column("ack_since")
