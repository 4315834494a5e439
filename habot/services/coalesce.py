"""One run of a read for everyone asking at once.

A burst of people asking the same thing of one node (`/ha logs prod primary` in an
incident channel) must cost the node one command, not one per person: whoever asks while
that command is in flight — or within ``fresh`` seconds of its start — shares its result,
or its error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

_K = TypeVar("_K", bound=Hashable)
_T = TypeVar("_T")
#: Finished runs kept at most (the oldest are forgotten first).
KEPT = 256


class Coalesced(Generic[_K, _T]):
    """Runs keyed by what they ask; a run is shared while in flight or still fresh."""

    def __init__(self, fresh: float, ticks: Callable[[], float] = time.monotonic) -> None:
        self._fresh = fresh
        self._ticks = ticks
        self._runs: dict[_K, tuple[float, asyncio.Future[_T]]] = {}

    async def get(self, key: _K, run: Callable[[], Awaitable[_T]]) -> _T:
        """``run()``'s result — from the run in flight or fresh for ``key``, else a new one.
        Shielded: one caller giving up cancels no one else's wait."""
        now = self._ticks()
        current = self._runs.get(key)
        if current is None or (current[1].done() and now - current[0] > self._fresh):
            future = asyncio.ensure_future(run())
            future.add_done_callback(_retrieved)
            current = self._runs[key] = (now, future)
            self._forget_old()
        return await asyncio.shield(current[1])

    def _forget_old(self) -> None:
        while len(self._runs) > KEPT:
            del self._runs[next(iter(self._runs))]


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a run's error as seen (every waiter may have given up)."""
    if not future.cancelled():
        future.exception()
