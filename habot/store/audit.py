"""The audit log on SQLModel: append (chained), read recent, read all, verify."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Generator
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from habot.core.audit import GENESIS, AuditEvent, AuditRecord, ChainCheck, chain, verify
from habot.store.db import store_errors, threaded, writing

_APPEND_ATTEMPTS = 20
#: PostgreSQL advisory lock taken by every append, so appends are serialised even inside a
#: longer transaction (a request's change and its audit row commit together).
_APPEND_LOCK = 0x4AB07A0D
_BATCH = 500  # appends per group commit, at most
_PAGE = 2000  # events per read when streaming the chain


class AuditRow(SQLModel, table=True):
    """One row of ``audit_events`` (created by migration 0001, never by this class)."""

    __tablename__ = "audit_events"

    seq: int = Field(primary_key=True)
    at: str
    kind: str
    actor: str
    outcome: str
    pair: str | None = None
    node: str | None = None
    channel: str | None = None
    message_ts: str | None = None
    duration_ms: int | None = None
    output_digest: str | None = None
    detail: str = "{}"
    prev_hash: str
    hash: str


def _to_row(record: AuditRecord) -> AuditRow:
    e = record.event
    return AuditRow(
        seq=record.seq,
        at=e.at.isoformat(),
        kind=e.kind,
        actor=e.actor,
        outcome=e.outcome,
        pair=e.pair,
        node=e.node,
        channel=e.channel,
        message_ts=e.message_ts,
        duration_ms=e.duration_ms,
        output_digest=e.output_digest,
        detail=json.dumps(e.detail, sort_keys=True),
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def append_in(conn: Connection, event: AuditEvent) -> AuditRecord:
    """Append ``event`` after the head, inside the caller's write transaction: a change to
    a request and the row that records it commit together or not at all, and the chain's
    order is the order the changes were made in."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
    head = conn.execute(
        text("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    ).first()
    record = chain(head.seq + 1 if head else 1, event, head.hash if head else GENESIS)
    conn.execute(insert(AuditRow).values(**_to_row(record).model_dump()))
    return record


def _to_record(row: AuditRow) -> AuditRecord:
    event = AuditEvent(
        kind=row.kind,
        actor=row.actor,
        outcome=row.outcome,
        at=datetime.fromisoformat(row.at),
        pair=row.pair,
        node=row.node,
        channel=row.channel,
        message_ts=row.message_ts,
        duration_ms=row.duration_ms,
        output_digest=row.output_digest,
        detail=json.loads(row.detail),
    )
    return AuditRecord(row.seq, event, row.prev_hash, row.hash)


class AuditStore:
    """Append-only audit storage. Sync methods; the async ones run them in a thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._queue: list[tuple[AuditEvent, asyncio.Future[AuditRecord]]] = []
        self._writer: asyncio.Task[None] | None = None

    def append_sync(self, event: AuditEvent) -> AuditRecord:
        """Append an event after the current head; another writer winning the race retries."""
        for _ in range(_APPEND_ATTEMPTS):
            try:
                with self._lock, writing(self._engine) as conn:
                    return append_in(conn, event)
            except IntegrityError:
                continue  # another writer appended first (without the lock): chain after it
        raise RuntimeError("could not append to the audit log: too much contention")

    def append_many_sync(self, events: list[AuditEvent]) -> list[AuditRecord]:
        """Append events in order, in one transaction (one commit for all of them)."""
        for _ in range(_APPEND_ATTEMPTS):
            try:
                with self._lock, writing(self._engine) as conn:
                    return [append_in(conn, event) for event in events]
            except IntegrityError:
                continue  # another writer appended first (without the lock): chain after it
        raise RuntimeError("could not append to the audit log: too much contention")

    def recent_sync(self, limit: int, pair: str | None = None) -> list[AuditRecord]:
        """The newest events first (optionally of one pair)."""
        with Session(self._engine) as session:
            query = select(AuditRow).order_by(col(AuditRow.seq).desc()).limit(limit)
            if pair is not None:
                query = query.where(AuditRow.pair == pair)
            return [_to_record(row) for row in session.exec(query)]

    def all_sync(self) -> Generator[AuditRecord]:
        """Every event in chain order, streamed (plain rows, not ORM objects: building an
        object per row tripled the time `verify` took — benches/bench_audit.py)."""
        table = AuditRow.__table__  # type: ignore[attr-defined]
        query = table.select().order_by(table.c.seq)
        with self._engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(query):
                yield _to_record(row)  # type: ignore[arg-type]  # a Row has the same fields

    def page_sync(self, after: int, limit: int) -> list[AuditRecord]:
        """Up to ``limit`` events after row ``after``, in chain order."""
        table = AuditRow.__table__  # type: ignore[attr-defined]
        query = table.select().where(table.c.seq > after).order_by(table.c.seq).limit(limit)
        with self._engine.connect() as conn:
            return [_to_record(row) for row in conn.execute(query)]  # type: ignore[arg-type]

    async def records(self) -> AsyncIterator[AuditRecord]:
        """Every event in chain order, a page at a time."""
        after = 0
        while page := await self.page(after, _PAGE):
            for record in page:
                yield record
            after = page[-1].seq

    def head_sync(self) -> AuditRecord | None:
        """The newest row, or None for an empty log."""
        with Session(self._engine) as session:
            row = session.exec(select(AuditRow).order_by(col(AuditRow.seq).desc())).first()
        return _to_record(row) if row is not None else None

    def verify_sync(self) -> ChainCheck:
        """Verify the whole chain."""
        return verify(self.all_sync())

    @store_errors
    async def append(self, event: AuditEvent) -> AuditRecord:
        """Append without blocking the event loop. Appends asked for while one commit is
        being written go together in the next (a group commit): a burst of a thousand
        status requests costs a few commits, not a thousand, and the chain keeps the order
        they were asked in."""
        done: asyncio.Future[AuditRecord] = asyncio.get_running_loop().create_future()
        self._queue.append((event, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_queued())
        return await done

    async def _write_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:_BATCH], self._queue[_BATCH:]
            try:
                records = await asyncio.to_thread(self.append_many_sync, [e for e, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), record in zip(batch, records, strict=True):
                if not done.done():
                    done.set_result(record)

    recent = threaded(recent_sync)
    page = threaded(page_sync)
    head = threaded(head_sync)
    verify = threaded(verify_sync)
