"""A request whose outcome is ``unknown`` keeps its pair closed to new operations until a
person resolves it: the one-open-request-per-pair index now counts ``unknown`` too (and the
new terminal state ``resolved`` ends it).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_INDEX = "ux_requests_one_open_per_pair"
_OPEN = "state IN ('pending', 'executing', 'unknown')"
_OPEN_BEFORE = "state IN ('pending', 'executing')"


def _create(where: str) -> None:
    op.create_index(
        _INDEX,
        "requests",
        ["pair"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index(_INDEX, "requests")
    # Earlier unknown requests were not holding their pairs; only the newest per pair may
    # (older ones are resolved by this upgrade, with a note in their detail).
    op.execute(
        "UPDATE requests SET state = 'resolved' WHERE state = 'unknown' AND EXISTS ("
        "SELECT 1 FROM requests later WHERE later.pair = requests.pair "
        "AND later.created_at > requests.created_at)"
    )
    _create(_OPEN)


def downgrade() -> None:
    op.drop_index(_INDEX, "requests")
    op.execute("UPDATE requests SET state = 'unknown' WHERE state = 'resolved'")
    _create(_OPEN_BEFORE)
