"""A bounded pool of reused SSH connections per node."""

from __future__ import annotations

import asyncio
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


class NodePool:
    """At most ``size`` connections to one node, each running one command at a time.

    Idle connections are reused; a connection that closed (node restarted, network blip)
    is dropped and a fresh one is opened on the next use.
    """

    def __init__(self, opener: Opener, size: int) -> None:
        self._opener = opener
        self._slots = asyncio.Semaphore(size)
        self._idle: list[asyncssh.SSHClientConnection] = []
        self.opened = 0

    @asynccontextmanager
    async def connection(self, fresh: bool = False) -> AsyncIterator[Lease]:
        """Borrow a connection (a new one if ``fresh``); it returns to the pool if healthy."""
        async with self._slots:
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
