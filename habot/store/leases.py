"""Named leases in the database: at most one holder at a time, taken over once expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from habot.store.db import OwnThread, threaded, writing

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseStore:
    """The leases table. The async API runs on a thread of the store's own, so the
    scheduler lease is never queued behind request work; the heartbeat's thread calls
    :meth:`claim_sync` directly."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.own_thread = OwnThread("habot-lease")

    def claim_sync(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease until ``now + ttl``; False while someone else holds it."""
        until = {"n": name, "h": holder, "now": now.isoformat(), "exp": (now + ttl).isoformat()}
        with writing(self._engine) as conn:
            renewed = conn.execute(
                text(
                    "UPDATE leases SET holder = :h, expires_at = :exp "
                    "WHERE name = :n AND (holder = :h OR expires_at < :now)"
                ),
                until,
            )
            if renewed.rowcount == 1:
                return True
            created = conn.execute(
                text(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (:n, :h, :exp) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                until,
            )
            return bool(created.rowcount == 1)

    def take_over_sync(
        self, name: str, dead: str, holder: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take the lease from a holder known to be dead (only if it still holds it)."""
        with writing(self._engine) as conn:
            taken = conn.execute(
                text(
                    "UPDATE leases SET holder = :h, expires_at = :exp "
                    "WHERE name = :n AND holder = :dead"
                ),
                {"n": name, "h": holder, "dead": dead, "exp": (now + ttl).isoformat()},
            )
            return bool(taken.rowcount == 1)

    def release_sync(self, name: str, holder: str) -> None:
        """Give the lease up now (if held), so another replica need not wait for expiry."""
        with writing(self._engine) as conn:
            conn.execute(
                text("UPDATE leases SET expires_at = :past WHERE name = :n AND holder = :h"),
                {"past": _LONG_AGO.isoformat(), "n": name, "h": holder},
            )

    def holder_sync(self, name: str, now: datetime) -> str | None:
        """Who holds the lease now, if anyone."""
        with self._engine.connect() as conn:
            return conn.execute(
                text("SELECT holder FROM leases WHERE name = :n AND expires_at >= :now"),
                {"n": name, "now": now.isoformat()},
            ).scalar()

    # -- the async API (the services' port) --

    claim = threaded(claim_sync)
    take_over = threaded(take_over_sync)
    release = threaded(release_sync)
    holder = threaded(holder_sync)
