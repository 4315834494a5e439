"""Operations asked for later (`/ha switchover prod at sat 02:00`): when a request runs
(``run_at``; its deadline is then that time + [approval] run_window) and when its thread
was reminded that it runs soon. An approved one waits in the new state ``scheduled``, which
holds its pair like the other open states.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_INDEX = "ux_requests_one_open_per_pair"
_OPEN = "state IN ('pending', 'scheduled', 'executing', 'unknown')"
_OPEN_BEFORE = "state IN ('pending', 'executing', 'unknown')"


def _index(where: str) -> None:
    op.create_index(
        _INDEX,
        "requests",
        ["pair"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("run_at", sa.Text, nullable=True))
        batch.add_column(sa.Column("run_reminded_at", sa.Text, nullable=True))
    op.drop_index(_INDEX, "requests")
    _index(_OPEN)


def downgrade() -> None:
    op.drop_index(_INDEX, "requests")
    op.execute("UPDATE requests SET state = 'cancelled' WHERE state = 'scheduled'")
    _index(_OPEN_BEFORE)
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("run_reminded_at")
        batch.drop_column("run_at")
