"""Scheduled status checks: read every pair, keep the reading, notice role changes.

A role change — a node starting or stopping serving (Active / Promoted Active) compared
with the last reading in which that node could be read — starts the operation cooldown,
whether habot or someone at the appliance's console caused it. A node habot merely could
not read says nothing about its role, so it never starts a cooldown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from habot.config import Settings
from habot.core.approvals import RequestState
from habot.core.model import NodeState, Role
from habot.core.readings import StoredReading
from habot.core.verdict import UNREAD, PairStatus, serving_changed
from habot.services.alerting import Alerter
from habot.services.ports import Clock, NoTelemetry, ReadingLog, Requests, Telemetry
from habot.services.status import StatusService

log = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(minutes=10)


def looks_different(before: StoredReading | None, after: PairStatus) -> bool:
    """Whether a reading changes what a dashboard shows (verdict, node states, health)."""
    if before is None:
        return True
    then = (before.verdict, before.primary, before.secondary, before.health)
    return then != (after.verdict, after.primary.state, after.secondary.state, after.health)


class Monitor:
    """One scheduled round of status checks."""

    def __init__(
        self,
        *,
        settings: Settings,
        status: StatusService,
        readings: ReadingLog,
        requests: Requests,
        clock: Clock,
        alerter: Alerter | None = None,
        on_change: Callable[[], None] | None = None,
        prune: Sequence[Callable[[datetime], Awaitable[int]]] = (),
        telemetry: Telemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or NoTelemetry()
        self._prune = prune
        self._pruned_at: datetime | None = None
        self._on_change = on_change
        self._alerter = alerter
        self._settings = settings
        self._status = status
        self._readings = readings
        self._requests = requests
        self._clock = clock

    async def poll(self) -> list[PairStatus]:
        """Read every pair (in parallel), store the readings, record role changes, prune."""
        started = time.monotonic()
        statuses = await self._status.read()
        self._telemetry.took("poll", time.monotonic() - started)
        changed = False
        running = await self._running()  # asked after the reading: one begun during it counts
        for status in statuses:
            self._telemetry.reading(status)
            previous = await self._readings.last(status.pair)
            known = await self._last_known(status.pair, previous)
            await self._readings.add(status)
            changed = changed or looks_different(previous, status)
            if serving_changed(known, status):
                log.info("%s changed roles: cooldown starts", status.pair)
                await self._requests.record_change(status.pair, self._clock())
            if status.pair in running:
                log.debug("%s: habot's own operation is running; no alert judges it", status.pair)
            elif self._alerter is not None:
                await self._alerter.observe(status)
        if changed and self._on_change is not None:
            self._on_change()
        await self._prune_old()
        return statuses

    async def _running(self) -> set[str]:
        """Pairs an operation is running on (on any replica). A reading taken meanwhile is
        kept, but raises no alert: the operation's card reports what it did, and a reading
        from the middle of it (the pair half way through a switchover, say) is not news."""
        if self._alerter is None:
            return set()
        return {r.pair for r in await self._requests.in_states(RequestState.EXECUTING)}

    async def _last_known(self, pair: str, previous: StoredReading | None) -> dict[Role, NodeState]:
        """Each node's last readable state: the previous reading's when it read both (the
        usual case, no further query), else looked up further back."""
        if previous is not None and not {previous.primary, previous.secondary} & UNREAD:
            return {Role.PRIMARY: previous.primary, Role.SECONDARY: previous.secondary}
        return await self._readings.last_known(pair, UNREAD)

    async def _prune_old(self) -> None:
        """Delete what is older than keep_readings — at most every PRUNE_EVERY, not at
        every poll (each prune is a write transaction; polls may be a second apart)."""
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = now - self._settings.schedule.keep_readings
        for prune in (self._readings.prune, *self._prune):  # others kept as long
            await prune(before)
