"""Requests and approvals get the audit log's protection, and a version.

- ``requests.version`` counts every change to a request (each state move and each
  approval), so a card shows the newest state it was given: an update older than one
  already queued for that card is dropped (``outbox.card_of`` / ``outbox.version``).
- ``approvals`` refuses UPDATE and DELETE; ``requests`` refuses DELETE, any change to what
  was asked (operation, pair, node, requester, times, plan …), and any state change once the
  request has ended. Every permitted change is written with its audit event, in one
  transaction (see store.requests).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_FIXED = (
    "id, operation, pair, node, requester, created_at, expires_at, required, snapshot, "
    "override, plan"
)
_ENDED = (
    "('succeeded', 'failed', 'unverified', 'aborted', 'rejected', 'cancelled', 'expired', "
    "'resolved')"
)
_SQLITE = {
    "approvals_no_update": "BEFORE UPDATE ON approvals",
    "approvals_no_delete": "BEFORE DELETE ON approvals",
    "requests_no_delete": "BEFORE DELETE ON requests",
    "requests_fixed": f"BEFORE UPDATE OF {_FIXED} ON requests",
    "requests_ended": f"BEFORE UPDATE OF state ON requests WHEN OLD.state IN {_ENDED}",
}
_REFUSAL = "requests and approvals change only through habot, with an audit event"


def upgrade() -> None:
    op.add_column("requests", sa.Column("version", sa.Integer, nullable=False, server_default="0"))
    op.add_column("outbox", sa.Column("card_of", sa.Integer))
    op.add_column("outbox", sa.Column("version", sa.Integer))
    op.create_index("ix_outbox_card_of", "outbox", ["card_of"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
        return
    for name, when in _SQLITE.items():
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END")


def _postgres_triggers() -> None:
    op.execute(
        "CREATE FUNCTION habot_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON approvals FOR EACH STATEMENT EXECUTE FUNCTION habot_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER requests_no_delete BEFORE DELETE OR TRUNCATE "
        "ON requests FOR EACH STATEMENT EXECUTE FUNCTION habot_refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER requests_fixed BEFORE UPDATE OF {_FIXED} "
        "ON requests FOR EACH ROW EXECUTE FUNCTION habot_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER requests_ended BEFORE UPDATE OF state ON requests FOR EACH ROW "
        f"WHEN (OLD.state IN {_ENDED}) EXECUTE FUNCTION habot_refuse_change()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in (
            ("approvals_append_only", "approvals"),
            ("requests_no_delete", "requests"),
            ("requests_fixed", "requests"),
            ("requests_ended", "requests"),
        ):
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION habot_refuse_change()")
    else:
        for name in _SQLITE:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_outbox_card_of", "outbox")
    op.drop_column("outbox", "version")
    op.drop_column("outbox", "card_of")
    op.drop_column("requests", "version")
