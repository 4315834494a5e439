"""The one place background work runs: operations being carried out, Home refreshes, an
outbox round kicked early. Everything spawned here is tracked, its failure is logged (never
lost in an unawaited task), and shutdown waits for it in one call."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from habot.core.replies import plural

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class Background:
    """A task group that outlives any one request: :meth:`spawn` starts work, :meth:`drain`
    waits for what is running (graceful shutdown, tests)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(
        self, work: Coroutine[Any, Any, _T], name: str | None = None, shared: bool = False
    ) -> asyncio.Task[_T]:
        """Run ``work`` in the background; an exception it raises is logged. ``shared``
        work (an outbox round, a Home refresh) serves everyone, so it starts from a fresh
        context: it does not carry the pair, request or user of whoever set it off."""
        context = contextvars.Context() if shared else None
        task = asyncio.create_task(work, name=name, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background work %s failed", task.get_name(), exc_info=exc)

    @property
    def running(self) -> int:
        """How many tasks are still running."""
        return len(self._tasks)

    async def drain(self, limit: timedelta = timedelta(minutes=15)) -> None:
        """Wait up to ``limit`` for everything running now and anything it spawns."""
        deadline = asyncio.get_running_loop().time() + limit.total_seconds()
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                log.warning(
                    "%s still running at shutdown", plural(len(self._tasks), "background task")
                )
                return
            await asyncio.wait(set(self._tasks), timeout=left)
