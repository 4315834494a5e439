"""Freezes on SQLModel (table ``freezes``): added with their audit event in one
transaction, lifted early by pair, and read as those holding at a moment."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from habot.core.audit import AuditEvent
from habot.core.freeze import ALL, Freeze
from habot.store.audit import append_in
from habot.store.db import WRITE_LOCK, threaded


class FreezeStore:
    """Blocking ``*_sync`` methods (the CLI, tests) and the async port on a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_sync(self, freeze: Freeze, said: AuditEvent | None = None) -> None:
        """Keep a new freeze (and its audit event, in the same transaction)."""
        with self._engine.connect().execution_options(**{WRITE_LOCK: True}) as conn, conn.begin():
            conn.execute(
                text(
                    "INSERT INTO freezes (id, pairs, starts_at, ends_at, reason, by_user) "
                    "VALUES (:id, :pairs, :starts, :ends, :reason, :by)"
                ),
                {
                    "id": freeze.id,
                    "pairs": json.dumps(list(freeze.pairs)),
                    "starts": freeze.starts_at.isoformat(),
                    "ends": freeze.ends_at.isoformat(),
                    "reason": freeze.reason,
                    "by": freeze.by,
                },
            )
            if said is not None:
                append_in(conn, said)

    def holding_sync(self, at: datetime) -> list[Freeze]:
        """Every freeze not lifted and holding at ``at``, the soonest to end first."""
        with self._engine.connect() as conn:
            return _holding(conn, at)

    def lift_sync(
        self, scope: tuple[str, ...], by: str, at: datetime, said: AuditEvent | None = None
    ) -> list[Freeze]:
        """Lift every freeze holding at ``at`` over exactly ``scope`` (``("all",)``: every
        freeze); the ones lifted (the audit event appended only if there were any)."""
        with self._engine.connect().execution_options(**{WRITE_LOCK: True}) as conn, conn.begin():
            lifted = [f for f in _holding(conn, at) if ALL in scope or f.pairs == scope]
            for freeze in lifted:
                conn.execute(
                    text("UPDATE freezes SET lifted_at = :at, lifted_by = :by WHERE id = :id"),
                    {"at": at.isoformat(), "by": by, "id": freeze.id},
                )
            if lifted and said is not None:
                append_in(conn, said)
        return lifted

    add = threaded(add_sync)
    holding = threaded(holding_sync)
    lift = threaded(lift_sync)


def _holding(conn: Connection, at: datetime) -> list[Freeze]:
    rows = conn.execute(
        text(
            "SELECT * FROM freezes WHERE lifted_at IS NULL AND starts_at <= :at "
            "AND ends_at > :at ORDER BY ends_at"
        ),
        {"at": at.isoformat()},
    ).mappings()
    return [_freeze(r) for r in rows]


def _freeze(row: Any) -> Freeze:
    return Freeze(
        id=row["id"],
        pairs=tuple(json.loads(row["pairs"])),
        starts_at=datetime.fromisoformat(row["starts_at"]),
        ends_at=datetime.fromisoformat(row["ends_at"]),
        reason=row["reason"],
        by=row["by_user"],
    )
