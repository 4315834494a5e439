"""The audit log: events appended per second, and `verify` of 100,000 events.

Run: python -m benches.bench_audit [--events N] [--seconds S] [--database URL]

On a fresh SQLite file (or the given database, which must be empty and migrated by this
run): appends through `AuditStore.append` — one writer, then eight at once — beside the
baseline of a plain INSERT of the same row (no head read, no hash, one transaction per
row); then N chained events written in bulk and `verify` timed beside the baseline of
streaming the same rows without checking them.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, insert

from benches.kit import heading, row
from habot.core.audit import GENESIS, AuditEvent, chain
from habot.store.audit import AuditRow, AuditStore, _to_row
from habot.store.db import make_engine, upgrade, writing

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def event(n: int) -> AuditEvent:
    """A typical status event."""
    return AuditEvent(
        kind="status", actor=f"U{n % 97:08d}", outcome="bau", at=T0, pair="prod",
        channel="C0HAOPS", duration_ms=41, detail={"primary": "active", "secondary": "standby"},
    )  # fmt: skip


async def rate(seconds: float, writers: int, append: Callable[[int], Awaitable[object]]) -> float:
    """Appends per second by ``writers`` concurrent loops over ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(offset: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await append(offset + done)
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop(w * 1_000_000) for w in range(writers)))
    return done / (time.perf_counter() - start)


def plain_insert(engine: Engine, n: int) -> None:
    """The baseline: the same row, no chain."""
    record = chain(n + 10_000_000, event(n), f"{n:064x}")  # prev_hash is unique
    with writing(engine) as conn:
        conn.execute(insert(AuditRow).values(**_to_row(record).model_dump()))


def bulk_chain(engine: Engine, count: int) -> None:
    """``count`` correctly chained events, written in one transaction."""
    rows, prev = [], GENESIS
    for seq in range(1, count + 1):
        record = chain(seq, event(seq), prev)
        rows.append(_to_row(record).model_dump())
        prev = record.hash
    with writing(engine) as conn:
        conn.execute(insert(AuditRow), rows)


async def bench(events: int, seconds: float, url: str | None) -> None:
    """Append rates, then verify time."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url or f"sqlite:///{Path(tmp) / 'audit.db'}")
        upgrade(engine)
        store = AuditStore(engine)
        heading(f"audit appends on {engine.dialect.name}, {seconds:g} s each")
        base = await rate(seconds, 1, lambda n: asyncio.to_thread(plain_insert, engine, n))
        row("plain INSERT, one writer (baseline)", f"{base:8.0f} /s")
        for writers in (1, 8):
            got = await rate(seconds, writers, lambda n: store.append(event(n)))
            row(f"AuditStore.append, {writers} writer(s)", f"{got:8.0f} /s", f"{got / base:5.2f}×")
        engine.dispose()
        engine = make_engine(
            url or f"sqlite:///{Path(tmp) / 'verify.db'}"
        )  # the log is append-only
        if url is None:
            upgrade(engine)
        store = AuditStore(engine)
        heading(f"audit verify, {events:,} events")
        start = time.perf_counter()
        bulk_chain(engine, events)
        row("writing them (one transaction)", f"{time.perf_counter() - start:8.2f} s")
        start = time.perf_counter()
        streamed = sum(1 for _ in store.all_sync())
        read = time.perf_counter() - start
        row("streaming every row, unchecked (baseline)", f"{read:8.2f} s")
        start = time.perf_counter()
        check = store.verify_sync()
        verify = time.perf_counter() - start
        assert check.ok, check
        assert streamed == events
        row("habot audit verify", f"{verify:8.2f} s", f"{verify / read:5.2f}× the read")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    asyncio.run(bench(args.events, args.seconds, args.database))


if __name__ == "__main__":
    main()
