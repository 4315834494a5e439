"""Signed requests already taken, in the database every replica shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from habot.store.db import threaded, writing

#: Every this many remembered signatures, those older than the window are forgotten.
PRUNE_EVERY = 200


class SeenRequestStore:
    """The seen_requests table: one row per signature, inserted once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._taken = 0

    def first_sync(self, signature: str, now: datetime, window: timedelta) -> bool:
        """Remember ``signature``; True only if no replica took it before."""
        self._taken += 1
        with writing(self._engine) as conn:
            if self._taken % PRUNE_EVERY == 0:
                conn.execute(
                    text("DELETE FROM seen_requests WHERE seen_at < :cutoff"),
                    {"cutoff": (now - window).isoformat()},
                )
            created = conn.execute(
                text(
                    "INSERT INTO seen_requests (signature, seen_at) VALUES (:s, :at) "
                    "ON CONFLICT (signature) DO NOTHING"
                ),
                {"s": signature[:100], "at": now.isoformat()},
            )
            return bool(created.rowcount == 1)

    first = threaded(first_sync)
