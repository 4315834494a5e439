"""The append-only, hash-chained audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("pair", sa.String(40)),
        sa.Column("node", sa.String(20)),
        sa.Column("channel", sa.String(40)),
        sa.Column("message_ts", sa.String(40)),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("output_digest", sa.String(80)),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_pair", "audit_events", ["pair", "seq"])
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{action.lower()} BEFORE {action} "
                "ON audit_events BEGIN "
                "SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )


def downgrade() -> None:
    op.drop_table("audit_events")
