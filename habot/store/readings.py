"""Stored readings: the last one per pair, a window for uptime, pruning by age."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Engine, bindparam, text

from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.readings import StoredReading
from habot.core.verdict import PairStatus
from habot.store.db import threaded, writing

_LAST_KNOWN = {
    Role.PRIMARY: text(
        "SELECT primary_state FROM readings WHERE pair = :pair AND primary_state NOT IN :skip "
        "ORDER BY at DESC, id DESC LIMIT 1"
    ).bindparams(bindparam("skip", expanding=True)),
    Role.SECONDARY: text(
        "SELECT secondary_state FROM readings WHERE pair = :pair AND secondary_state "
        "NOT IN :skip ORDER BY at DESC, id DESC LIMIT 1"
    ).bindparams(bindparam("skip", expanding=True)),
}


class ReadingStore:
    """Readings on SQLAlchemy Core (sync; callers run it in a thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_sync(self, status: PairStatus) -> None:
        """Store one pair's reading."""
        detail = {"disagreements": list(status.disagreements), "warnings": list(status.warnings)}
        with writing(self._engine) as conn:
            conn.execute(
                text(
                    "INSERT INTO readings (pair, at, verdict, primary_state, secondary_state, "
                    "health, detail) VALUES (:pair, :at, :verdict, :p, :s, :health, :detail)"
                ),
                {
                    "pair": status.pair,
                    "at": status.observed_at.isoformat(),
                    "verdict": status.verdict.value,
                    "p": status.primary.state.value,
                    "s": status.secondary.state.value,
                    "health": status.health.value if status.health else None,
                    "detail": json.dumps(detail),
                },
            )

    def last_sync(self, pair: str) -> StoredReading | None:
        """The pair's newest reading."""
        return next(iter(self._select(pair, None, 1)), None)

    def last_known_sync(self, pair: str, unread: frozenset[NodeState]) -> dict[Role, NodeState]:
        """Each node's state in the newest reading where it was not in ``unread``."""
        known: dict[Role, NodeState] = {}
        params = {"pair": pair, "skip": sorted(state.value for state in unread)}
        with self._engine.connect() as conn:
            for role, query in _LAST_KNOWN.items():
                found = conn.execute(query, params).scalar()
                if found is not None:
                    known[role] = NodeState(found)
        return known

    def since_sync(self, pair: str, since: datetime) -> list[StoredReading]:
        """The pair's readings since a time, newest first."""
        return self._select(pair, since, 100_000)

    def prune_sync(self, before: datetime) -> int:
        """Delete readings older than ``before``; return how many."""
        with writing(self._engine) as conn:
            result = conn.execute(
                text("DELETE FROM readings WHERE at < :before"), {"before": before.isoformat()}
            )
        return int(result.rowcount)

    def _select(self, pair: str, since: datetime | None, limit: int) -> list[StoredReading]:
        query = "SELECT * FROM readings WHERE pair = :pair"
        if since is not None:
            query += " AND at >= :since"
        query += " ORDER BY at DESC, id DESC LIMIT :limit"
        params = {"pair": pair, "since": since.isoformat() if since else None, "limit": limit}
        with self._engine.connect() as conn:
            rows = conn.execute(text(query), params).mappings().all()
        return [
            StoredReading(
                row["pair"],
                datetime.fromisoformat(row["at"]),
                Verdict(row["verdict"]),
                NodeState(row["primary_state"]),
                NodeState(row["secondary_state"]),
                Health(row["health"]) if row["health"] else None,
            )
            for row in rows
        ]

    # -- the async API (the services' port) --

    add = threaded(add_sync)
    last = threaded(last_sync)
    last_known = threaded(last_known_sync)
    since = threaded(since_sync)
    prune = threaded(prune_sync)
