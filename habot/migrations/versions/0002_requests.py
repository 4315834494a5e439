"""Operation requests, their approvals, and when each pair last changed roles.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OPEN = "state IN ('pending', 'executing')"


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("node", sa.String(20), nullable=False),
        sa.Column("requester", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(40)),
        sa.Column("message_ts", sa.String(40)),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("required", sa.Integer, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("override", sa.Text),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    )
    # One operation per pair at a time, enforced by the database for every replica.
    op.create_index(
        "ux_requests_one_open_per_pair",
        "requests",
        ["pair"],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_table(
        "approvals",
        sa.Column("request_id", sa.String(16), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("approver", sa.String(40), primary_key=True),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_table(
        "pair_changes",
        sa.Column("pair", sa.String(40), primary_key=True),
        sa.Column("changed_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pair_changes")
    op.drop_table("approvals")
    op.drop_index("ux_requests_one_open_per_pair", "requests")
    op.drop_table("requests")
