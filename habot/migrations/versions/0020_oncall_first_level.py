"""Who escalation level 1 asked about a request when ``[paging] oncall_schedules`` made it
whoever PagerDuty had on call (JSON: the entries, and why the configured level was used
instead when the lookup failed), so its card can say so after the on-call has changed.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("first_level", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("first_level")
