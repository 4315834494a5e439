"""Approvers' authenticator secrets for step-up approvals (``totp = true``): each sealed
with the ``totp_key`` (never stored in the clear, never in the audit or a log), when it was
enrolled, and the last time step a code was used in (a code is accepted once).

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approver_totp",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("enrolled_at", sa.Text, nullable=False),
        sa.Column("last_step", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("approver_totp")
