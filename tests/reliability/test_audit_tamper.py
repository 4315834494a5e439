"""Someone with write access to the database tampers with the audit log — edits a row,
deletes the newest rows, or rewrites the log and recomputes every hash — after an anchor
was kept outside it. `habot audit verify --anchor LINE` must fail each time, naming why."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from habot.store.audit import AuditStore
from habot.store.db import make_engine
from tests.kit.anchor import _habot, config_for, rechained
from tests.kit.audit import event
from tests.reliability.conftest import Ledger, Row


def tamper(db: Path, *statements: str) -> None:
    """Run SQL on the file directly, with the append-only guards dropped first."""
    conn = sqlite3.connect(db)
    for guard in ("audit_events_no_update", "audit_events_no_delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS {guard}")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def rewrite(db: Path) -> None:
    """Replace row 5's outcome and recompute the chain from there (a careful forger)."""
    engine = make_engine(f"sqlite:///{db}")
    records = list(AuditStore(engine).all_sync())
    engine.dispose()
    forged = rechained(records, 5)
    tamper(db, "DELETE FROM audit_events WHERE seq >= 5")
    conn = sqlite3.connect(db)
    for r in forged[4:]:
        e = r.event
        conn.execute(
            "INSERT INTO audit_events (seq, at, kind, actor, outcome, pair, node, channel, "
            "message_ts, duration_ms, output_digest, detail, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r.seq, e.at.isoformat(), e.kind, e.actor, e.outcome, e.pair, e.node, e.channel,
             e.message_ts, e.duration_ms, e.output_digest,
             json.dumps(dict(e.detail), sort_keys=True), r.prev_hash, r.hash),
        )  # fmt: skip
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("how", "caught"),
    [
        ("edit", "BROKEN at row 3"),
        ("truncate", "row 9 is missing (the log was truncated)"),
        ("rechain", "does not match the anchor"),
    ],
)
def test_a_tampered_log_fails_verify_against_its_anchor(
    tmp_path: Path, ledger: Ledger, how: str, caught: str
) -> None:
    """Nine events, an anchor taken (keyed), then one kind of tampering: verify --anchor
    exits 1 with the reason (a truncation and a re-chained rewrite pass the chain alone)."""
    row = ledger.add(Row(f"audit log tampered: {how}", "verify --anchor fails"))
    config, db = config_for(tmp_path)
    engine = make_engine(f"sqlite:///{db}")
    store = AuditStore(engine)
    for i in range(1, 10):
        store.append_sync(event(i))
    engine.dispose()
    anchor = _habot(config, "audit", "anchor").stdout.strip()
    assert _habot(config, "audit", "verify", "--anchor", anchor).returncode == 0
    if how == "edit":
        tamper(db, "UPDATE audit_events SET outcome = 'refused' WHERE seq = 3")
    elif how == "truncate":
        tamper(db, "DELETE FROM audit_events WHERE seq > 6")
    else:
        rewrite(db)
    row.injected = 1
    chain_alone = _habot(config, "audit", "verify")
    assert (chain_alone.returncode == 0) == (how != "edit")  # what the anchor adds
    checked = _habot(config, "audit", "verify", "--anchor", anchor)
    assert checked.returncode == 1
    assert caught in checked.stderr
