"""Break-glass on a request (``[approval] break_glass_after``): when its card first offered
the button, who broke the glass when and why, the review a second person owes it (who,
when, what they checked), and when its thread was last reminded of the missing review.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_COLUMNS = (
    "offered_at",
    "glass_by",
    "glass_at",
    "glass_reason",
    "reviewed_by",
    "reviewed_at",
    "review_note",
    "reminded_at",
)


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
