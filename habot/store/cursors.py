"""How far the audit has been forwarded to each SIEM target (its sequence number)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from habot.store.db import threaded, writing


class CursorStore:
    """The siem_cursors table (sync; callers run it in a thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get_sync(self, target: str) -> int:
        """The last sequence number settled for ``target`` (0: none yet)."""
        with self._engine.connect() as conn:
            seq = conn.execute(
                text("SELECT seq FROM siem_cursors WHERE target = :t"), {"t": target}
            ).scalar()
            return int(seq or 0)

    def advance_sync(self, target: str, seq: int) -> None:
        """Move ``target``'s cursor to ``seq`` — forward only (a slower replica's older
        write never moves it back)."""
        with writing(self._engine) as conn:
            conn.execute(
                text(
                    "INSERT INTO siem_cursors (target, seq) VALUES (:t, :s) "
                    "ON CONFLICT (target) DO UPDATE SET seq = excluded.seq "
                    "WHERE siem_cursors.seq < excluded.seq"
                ),
                {"t": target, "s": seq},
            )

    # -- the async API (the services' port) --

    get = threaded(get_sync)
    advance = threaded(advance_sync)
