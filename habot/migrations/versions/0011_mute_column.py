"""A pair's mute gets its own column: the mute command and the scheduled poll each write
only their own part, so neither can overwrite the other's concurrent change (a poll that
read the state just before a mute landed used to save it back without the mute).

Revision ID: 0011
Revises: 0010
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:
        batch.add_column(sa.Column("muted_until", sa.String(40)))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT pair, state FROM alert_state")).all()
    for pair, state in rows:
        until = json.loads(state).get("muted_until")
        if until:
            conn.execute(
                sa.text("UPDATE alert_state SET muted_until = :u WHERE pair = :p"),
                {"u": until, "p": pair},
            )


def downgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:
        batch.drop_column("muted_until")
