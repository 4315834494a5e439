"""The audit log is append-only and hash-chained; edits, deletions and reorders are found."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy import event as sa_event

from habot.core.audit import AuditEvent, AuditRecord, digest, redact, row_hash
from habot.store.audit import AuditStore
from habot.store.db import make_engine, upgrade
from tests.kit.audit import T0, event


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A migrated SQLite file holding five events."""
    path = tmp_path / "habot.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    store = AuditStore(engine)
    for i in range(1, 6):
        store.append_sync(event(i))
    engine.dispose()
    return path


def store_for(path: Path) -> AuditStore:
    """A store over an existing file."""
    return AuditStore(make_engine(f"sqlite:///{path}"))


def tamper(path: Path, *statements: str) -> None:
    """Change the file the way someone with sqlite3 would: drop the guards, then edit."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("DROP TRIGGER audit_events_no_delete")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_intact_chain_verifies(db_path: Path) -> None:
    """An untouched log verifies with every row counted."""
    check = store_for(db_path).verify_sync()
    assert (check.ok, check.rows) == (True, 5)


def test_edited_row_is_found(db_path: Path) -> None:
    """Changing any field of a row breaks that row."""
    tamper(db_path, "UPDATE audit_events SET outcome = 'refused' WHERE seq = 3")
    check = store_for(db_path).verify_sync()
    assert (check.ok, check.bad_seq) == (False, 3)
    assert "edited" in (check.problem or "")


def test_deleted_row_is_found(db_path: Path) -> None:
    """Removing a row leaves a gap at the next one."""
    tamper(db_path, "DELETE FROM audit_events WHERE seq = 2")
    check = store_for(db_path).verify_sync()
    assert (check.ok, check.bad_seq) == (False, 3)


def test_reordered_rows_are_found(db_path: Path) -> None:
    """Swapping two rows' sequence numbers breaks the chain where they meet."""
    tamper(
        db_path,
        "UPDATE audit_events SET seq = 100 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 4",
        "UPDATE audit_events SET seq = 4 WHERE seq = 100",
    )
    check = store_for(db_path).verify_sync()
    assert (check.ok, check.bad_seq) == (False, 2)


def test_rehashed_edit_is_still_found_downstream(db_path: Path) -> None:
    """Even an editor who recomputes the edited row's hash breaks the next row's link."""
    store = store_for(db_path)
    records = list(store.all_sync())
    forged = AuditEvent(**{**records[2].event.__dict__, "outcome": "refused"})
    new_hash = row_hash(3, forged, records[2].prev_hash)
    tamper(db_path, f"UPDATE audit_events SET outcome='refused', hash='{new_hash}' WHERE seq=3")
    check = store_for(db_path).verify_sync()
    assert (check.ok, check.bad_seq) == (False, 4)


def test_database_refuses_updates_and_deletes(migrated: Engine) -> None:
    """The migrations' triggers make the table append-only for habot and its users, on
    SQLite and on PostgreSQL."""
    engine = migrated
    AuditStore(engine).append_sync(event(1))
    with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"), engine.begin() as c:
        c.execute(sqlalchemy.text("DELETE FROM audit_events"))
    with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"), engine.begin() as c:
        c.execute(sqlalchemy.text("UPDATE audit_events SET actor = 'x'"))


def test_recent_is_newest_first_and_filters_by_pair(db_path: Path) -> None:
    """History shows the newest events first, optionally of one pair."""
    store = store_for(db_path)
    store.append_sync(AuditEvent("status", "U9", "ok", T0, pair="dr"))
    assert [r.seq for r in store.recent_sync(3)] == [6, 5, 4]
    assert [r.seq for r in store.recent_sync(10, "dr")] == [6]


def test_concurrent_appends_keep_one_chain(
    database_url: str, engines: Callable[[str], Engine]
) -> None:
    """Two stores (two replicas) appending at once still produce one valid chain."""
    upgrade(engines(database_url))
    stores = [AuditStore(engines(database_url)), AuditStore(engines(database_url))]
    threads = [
        threading.Thread(target=lambda s=s: [s.append_sync(event(i)) for i in range(25)])
        for s in stores
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check = stores[0].verify_sync()
    assert (check.ok, check.rows) == (True, 50)


def test_secrets_are_redacted_before_storage(db_path: Path) -> None:
    """Token-shaped text in an event's detail never reaches the table."""
    store = store_for(db_path)
    record = store.append_sync(event(6, note="token xoxb-1234-abcdef-XYZ and xapp-1-A-B-C"))
    assert record.event.detail["note"] == "token [redacted] and [redacted]"
    assert "xoxb" not in db_path.read_bytes().decode(errors="replace")
    assert store.verify_sync().ok


def test_redact_walks_nested_data() -> None:
    """Redaction reaches into lists and mappings."""
    assert redact({"a": ["-----BEGIN OPENSSH PRIVATE KEY-----"], "b": 3}) == {
        "a": ["[redacted]"],
        "b": 3,
    }


def test_output_digest_is_stable() -> None:
    """Command output is recorded as a sha256 digest, not as text."""
    assert digest("abc") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_migration_is_idempotent(db_path: Path) -> None:
    """Running the migrations again changes nothing and loses nothing."""
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    assert AuditStore(engine).verify_sync().rows == 5
    with engine.connect() as conn:
        mode = conn.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar()
    assert mode == "wal"


async def test_a_burst_of_appends_is_written_in_few_commits_in_the_order_asked(
    database_url: str, engines: Callable[[str], Engine]
) -> None:
    """600 appends asked for at once (on SQLite and PostgreSQL): one valid chain in the order
    they were asked, and a handful of commits — not 600."""
    engine = engines(database_url)
    upgrade(engine)
    store = AuditStore(engine)
    commits: list[int] = []
    sa_event.listen(engine, "commit", lambda conn: commits.append(1))
    records = await asyncio.gather(*(store.append(event(i)) for i in range(600)))
    assert [r.event.actor for r in records] == [f"U{i:04d}" for i in range(600)]
    assert [r.seq for r in records] == list(range(1, 601))
    check = store.verify_sync()
    assert (check.ok, check.rows) == (True, 600)
    assert len(commits) <= 10


async def test_a_failed_group_commit_fails_each_of_its_appends_and_the_next_one_works(
    db_path: Path,
) -> None:
    """An error while writing a group reaches every caller in it; later appends go on."""
    store = store_for(db_path)
    broken = [True]
    real = store.append_many_sync

    def flaky(events: list[AuditEvent]) -> list[AuditRecord]:
        if broken.pop() if broken else False:
            raise RuntimeError("disk full")
        return real(events)

    store.append_many_sync = flaky  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(store.append(event(i)) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    record = await store.append(event(9))
    assert record.seq == 6
    assert store.verify_sync().ok
