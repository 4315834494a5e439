"""A bounded pool of reused SSH connections per node, with slots that serve operations first."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncssh

Opener = Callable[[], Awaitable[asyncssh.SSHClientConnection]]


@dataclass(frozen=True)
class Lease:
    """A borrowed connection, and whether it was reused from the pool (it may be stale)."""

    conn: asyncssh.SSHClientConnection
    reused: bool


class Slots:
    """At most ``size`` holders at once; a waiting urgent holder (an operation) goes before
    every waiting ordinary one (a viewer's read), so reads never starve an operation."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    @asynccontextmanager
    async def held(self, urgent: bool = False) -> AsyncIterator[None]:
        """Hold a slot for the block (waiting, in priority order, while none is free)."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    @property
    def waiting(self) -> int:
        """How many are waiting for a slot."""
        return len(self._waiting[True]) + len(self._waiting[False])

    async def _acquire(self, urgent: bool) -> None:
        ahead = self._waiting[True] if urgent else (self._waiting[True] or self._waiting[False])
        if self._free > 0 and not ahead:
            self._free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting[urgent].append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed a slot just as it gave up
                self._release()
            else:
                self._waiting[urgent].remove(turn)
            raise

    def _release(self) -> None:
        """Hand the slot to the first urgent waiter, else the first ordinary one."""
        for urgent in (True, False):
            queue = self._waiting[urgent]
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._free += 1


class NodePool:
    """At most ``size`` connections to one node, each running one command at a time.

    A command holds one of the node's slots (``slot``) while it borrows a connection
    (``connection``). Idle connections are reused; a connection that closed (node
    restarted, network blip) is dropped and a fresh one is opened on the next use.
    """

    def __init__(self, opener: Opener, size: int) -> None:
        self._opener = opener
        self.slots = Slots(size)
        self._idle: list[asyncssh.SSHClientConnection] = []
        self.opened = 0

    def slot(self, urgent: bool = False) -> contextlib.AbstractAsyncContextManager[None]:
        """One of the node's command slots (operations first)."""
        return self.slots.held(urgent)

    @asynccontextmanager
    async def connection(self, fresh: bool = False) -> AsyncIterator[Lease]:
        """Borrow a connection (a new one if ``fresh``) while holding a slot; it returns to
        the pool if healthy."""
        idle = None if fresh else self._take_idle()
        conn = idle or await self._open()
        healthy = False
        try:
            yield Lease(conn, reused=idle is not None)
            healthy = True
        finally:
            if healthy and not conn.is_closed():
                self._idle.append(conn)
            else:
                conn.close()

    def _take_idle(self) -> asyncssh.SSHClientConnection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
        return None

    async def _open(self) -> asyncssh.SSHClientConnection:
        conn = await self._opener()
        self.opened += 1
        return conn

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        for conn in idle:
            await conn.wait_closed()
