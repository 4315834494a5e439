"""Who has opened the App Home, and when last (so their Home can be kept current)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text

from habot.store.db import threaded, writing


class ViewerStore:
    """The home_viewers table (sync; callers run it in a thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def opened_sync(self, user: str, at: datetime) -> None:
        """Remember that ``user`` opened their Home at ``at``."""
        with writing(self._engine) as conn:
            conn.execute(
                text(
                    "INSERT INTO home_viewers (user_id, opened_at) VALUES (:u, :at) "
                    "ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at"
                ),
                {"u": user, "at": at.isoformat()},
            )

    def since_sync(self, since: datetime) -> list[str]:
        """Users who opened their Home at or after ``since``, most recent first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT user_id FROM home_viewers WHERE opened_at >= :since "
                    "ORDER BY opened_at DESC, user_id"
                ),
                {"since": since.isoformat()},
            ).scalars()
            return list(rows)

    # -- the async API (the services' port) --

    opened = threaded(opened_sync)
    since = threaded(since_sync)
