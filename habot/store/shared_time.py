"""The database server's clock, for what replicas on several hosts compare: leases.

A lease written by one host and judged by another is only as good as their clocks agree;
two hosts 20 s apart would each think they lead. Every replica of a PostgreSQL deployment
therefore reads time from the one clock they share — the server's — sampled by the
heartbeat and carried forward between samples by the local monotonic clock (a wall clock
stepped by NTP moves nothing). SQLite needs none of this: its replicas share a host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from habot.services.ports import Clock
from habot.store.db import translated


class ServerTime:
    """A Clock reading the database server's time: ``sample_sync`` asks the server (on the
    heartbeat's thread); calling it never touches the database."""

    def __init__(
        self,
        engine: Engine,
        *,
        before_first: Clock = lambda: datetime.now(UTC),
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._before_first = before_first  # until the first sample: the local clock
        self._ticks = ticks
        #: The server's time and the local monotonic moment it was read at (one tuple, so
        #: a reader on another thread never sees half a sample).
        self._anchor: tuple[datetime, float] | None = None

    def sample_sync(self) -> None:
        """Read the server's clock; the moment it answered is taken halfway through the
        round trip."""
        try:
            with self._engine.connect() as conn:
                asked = self._ticks()
                server = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
                answered = self._ticks()
        except SQLAlchemyError as exc:
            raise translated(exc) from exc
        self._anchor = (server.astimezone(UTC), (asked + answered) / 2)

    def __call__(self) -> datetime:
        anchor = self._anchor
        if anchor is None:
            return self._before_first()
        server, at = anchor
        return server + timedelta(seconds=self._ticks() - at)


def server_time(engine: Engine) -> ServerTime | None:
    """The shared clock for ``engine``'s replicas: the server's on PostgreSQL, None (the
    local clock is the shared one) on SQLite."""
    return ServerTime(engine) if engine.dialect.name == "postgresql" else None
