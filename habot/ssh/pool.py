"""A bounded pool of reused SSH connections per node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncssh

Opener = Callable[[], Awaitable[asyncssh.SSHClientConnection]]


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
    async def connection(self) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """Borrow a connection; it returns to the pool if it is still healthy afterwards."""
        async with self._slots:
            conn = self._take_idle() or await self._open()
            healthy = False
            try:
                yield conn
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
