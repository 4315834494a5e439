"""Forwarding the audit to a SIEM: every event, in chain order, at least once, never a
gap. The leader sends from a cursor kept in the database; what it wrote is settled (the
cursor moved past it) only once the connection has stayed up for SETTLE seconds after the
write, so a connection that dies with messages still in flight resends them — the SIEM
drops the duplicates by the sequence number each message carries."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from habot.config.outside import (
    SiemSettings,
)
from habot.core.audit import AuditRecord
from habot.core.siem import SiemFormat, octet_counted, syslog_message
from habot.errors import HabotError
from habot.services.ports import AuditLog, Cursors, Telemetry

log = logging.getLogger(__name__)
BATCH = 200  # events read and written per step
SETTLE = 10.0  # seconds a written message must survive a live connection to count as sent


class SiemUnreachable(HabotError):
    """The SIEM could not be reached or refused the connection (TLS included)."""

    exit_code = 1


class SiemLink(Protocol):
    """A connection to the SIEM (RFC 5424 over TCP or TLS in production)."""

    async def send(self, frames: Sequence[bytes]) -> None:
        """Write the frames, in order; :class:`SiemUnreachable` if it cannot."""
        ...

    async def alive(self) -> bool:
        """Whether the connection that took the last frames is still up."""
        ...

    async def close(self) -> None:
        """Close the connection (at shutdown)."""
        ...


class SiemForwarder:
    """One forwarder per target; its rounds run on the leader (the scheduled job)."""

    def __init__(
        self,
        *,
        settings: SiemSettings,
        hostname: str,
        audit: AuditLog,
        cursors: Cursors,
        link: SiemLink,
        gauges: Telemetry | None = None,
        scrub: Callable[[str], str] = lambda text: text,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert settings.target is not None, "a forwarder needs a target"
        self._target = settings.target
        self._format = SiemFormat(settings.format)
        self._hostname = hostname
        self._audit = audit
        self._cursors = cursors
        self._link = link
        self._gauges = gauges
        self._scrub = scrub
        self._clock = clock
        self._written: int | None = None  # last seq written on the live connection
        self._unsettled: deque[tuple[int, float]] = deque()
        self._down = False  # said once per outage

    async def forward(self) -> int:
        """One round: settle what survived, send what the SIEM has not had (in order);
        how many events were written. A failure is counted and said once per outage; the
        next round resends everything not settled."""
        await self._settle()
        start = self._written
        if start is None:
            start = await self._cursors.get(self._target)
        written = 0
        try:
            while page := await self._audit.page(start, BATCH):
                frames = [self._framed(record) for record in page]
                await self._link.send(frames)
                now = self._clock()
                self._unsettled.extend((record.seq, now) for record in page)
                start = self._written = page[-1].seq
                written += len(page)
                if len(page) < BATCH:
                    break
        except SiemUnreachable as exc:
            self._lost(exc)
        else:
            if self._down:
                log.warning("the SIEM at %s takes events again", self._target)
                self._down = False
        await self._measure(start)
        return written

    def _framed(self, record: AuditRecord) -> bytes:
        return octet_counted(syslog_message(record, self._format, self._hostname, self._scrub))

    async def _settle(self) -> None:
        """Move the cursor past what was written long enough ago on a connection that is
        still up; if it is not, forget what was written (it is resent)."""
        if not self._unsettled:
            return
        if not await self._link.alive():
            self._lost(SiemUnreachable("the connection closed"))
            return
        now, settled = self._clock(), None
        while self._unsettled and now - self._unsettled[0][1] >= SETTLE:
            settled = self._unsettled.popleft()[0]
        if settled is not None:
            await self._cursors.advance(self._target, settled)

    def _lost(self, exc: SiemUnreachable) -> None:
        """The connection failed: nothing since the cursor counts as sent."""
        self._written = None
        self._unsettled.clear()
        if self._gauges is not None:
            self._gauges.siem_failed()
        if not self._down:
            log.warning("the SIEM at %s cannot take events: %s (retrying)", self._target, exc)
            self._down = True

    async def _measure(self, sent_to: int) -> None:
        head = await self._audit.head()
        if self._gauges is not None:
            self._gauges.siem_backlog(max((head.seq if head else 0) - sent_to, 0))
