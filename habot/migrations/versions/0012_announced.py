"""A pair's *announced* shape — what habot's own operation produced and reported on its
card — gets its own column: the operation service writes it, the poll only clears it with a
compare-and-set, so neither overwrites the other.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:
        batch.add_column(sa.Column("announced", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("alert_state") as batch:
        batch.drop_column("announced")
