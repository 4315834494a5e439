"""The database's outages as one process meets them, said once each.

A replica retries its database every second or so (the outbox round, the lease, the
heartbeat, a kept outcome): during a restart of PostgreSQL or a full disk, a traceback per
retry would bury the one line that matters. Every writer reports a failure here; the first
one of an outage is logged as a single line, its end once more with how long it lasted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def first_line(exc: BaseException) -> str:
    """An error as one short line (a driver's message can run to several)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class Outage:
    """Whether the database is failing for this process right now, and since when.

    Thread-safe: the heartbeat reports from its own thread."""

    def __init__(self, ticks: Callable[[], float] = time.monotonic) -> None:
        self._ticks = ticks
        self._lock = threading.Lock()
        self._since: float | None = None
        #: Outages met so far (each counted once, however many writes failed in it).
        self.seen = 0

    @property
    def down(self) -> bool:
        """Whether the last word on the database was a failure."""
        return self._since is not None

    def failed(self, exc: BaseException, doing: str) -> None:
        """A database call failed while ``doing`` something; logged if it starts an outage."""
        with self._lock:
            if self._since is not None:
                return
            self._since = self._ticks()
            self.seen += 1
        log.error(
            "%s (while %s) — what must be recorded is kept in memory and retried; said once "
            "until the database is back",
            first_line(exc),
            doing,
        )

    def worked(self) -> None:
        """A database call went through: an outage in progress has ended."""
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.warning("the database answers again after %.0fs", self._ticks() - since)
