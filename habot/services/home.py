"""Assembles the App Home dashboard from the stores."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from habot.config import Settings
from habot.core.approvals import Request, RequestState, actions_for
from habot.core.audit import AuditRecord
from habot.core.freeze import Freeze
from habot.core.home import PairLine, dashboard
from habot.core.roles import Access
from habot.errors import StoreError
from habot.services.background import Background
from habot.services.freezes import FreezeService
from habot.services.outage import Outage
from habot.services.ports import AlertStates, AuditLog, Clock, HomeViewers, ReadingLog, Requests

log = logging.getLogger(__name__)
OUTCOMES = frozenset({"succeeded", "failed", "unverified", "aborted", "unknown"})


#: Homes opened within this long are kept current; older viewers get theirs on next open.
RECENT_VIEWERS = timedelta(days=30)


class HomePort(Protocol):
    """Where Home views go (Slack's views.publish in production)."""

    async def roles_of(self, user: str) -> frozenset[Access]:
        """The viewer's roles (what they may act on)."""
        ...

    async def publish(self, user: str, view: dict[str, Any]) -> None:
        """Show ``view`` as the user's Home; log, never raise, on failure."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """The part of the dashboard that is the same for every viewer."""

    lines: list[PairLine]
    pending: list[Request]
    recent: list[AuditRecord]
    at: datetime
    owed: tuple[Request, ...] = ()  # break-glass runs whose review is owed


class HomeService:
    """The dashboard one viewer sees."""

    def __init__(
        self,
        *,
        settings: Settings,
        readings: ReadingLog,
        alerts: AlertStates,
        requests: Requests,
        audit: AuditLog,
        clock: Clock,
        viewers: HomeViewers | None = None,
        freezes: FreezeService | None = None,
    ) -> None:
        self._viewers = viewers
        self._freezes = freezes
        self._settings = settings
        self._readings = readings
        self._alerts = alerts
        self._requests = requests
        self._audit = audit
        self._clock = clock

    async def view(
        self, user: str, roles: frozenset[Access], snapshot: Snapshot | None = None
    ) -> dict[str, Any]:
        """Build the Home view for ``user`` (from ``snapshot`` when one is at hand)."""
        shared = snapshot or await self.snapshot()
        mine = [
            r for r in shared.pending
            if r.state is RequestState.PENDING and actions_for(r, user, roles, shared.at)
        ]  # fmt: skip
        command = self._settings.slack.command
        return dashboard(shared.lines, mine, shared.recent, command, shared.at, shared.owed,
                         scheduled=shared.pending)  # fmt: skip

    async def snapshot(self) -> Snapshot:
        """What every viewer's Home is built from."""
        names = [pair.name for pair in self._settings.pairs]
        frozen = await self._freezes.holding_each(names) if self._freezes else {}
        lines = await asyncio.gather(*(self._line(name, frozen.get(name)) for name in names))
        recent = await self._audit.recent(200)
        return Snapshot(
            list(lines),
            await self._requests.in_states(RequestState.PENDING, RequestState.SCHEDULED),
            [r for r in recent if r.event.kind in OUTCOMES][:10],
            self._clock(),
            tuple(await self._requests.unreviewed()),
        )

    async def opened(self, user: str) -> None:
        """Remember a viewer, so their Home is republished when something changes."""
        if self._viewers is not None:
            await self._viewers.opened(user, self._clock())

    async def viewers(self) -> list[str]:
        """Users whose Home is kept current."""
        if self._viewers is None:
            return []
        since = self._clock() - RECENT_VIEWERS
        return await self._viewers.since(since)

    async def _line(self, pair: str, freeze: Freeze | None) -> PairLine:
        reading = await self._readings.last(pair)
        muted = (await self._alerts.load(pair))[0].muted_until
        change = await self._requests.last_change(pair)
        cooldown = change + self._settings.approval.cooldown if change else None
        frozen = (freeze.ends_at, freeze.reason) if freeze else None
        if reading is None:
            return PairLine(pair, None, None, None, None, muted, cooldown, frozen)
        return PairLine(
            pair, reading.verdict, reading.primary, reading.secondary, reading.at, muted,
            cooldown, frozen,
        )  # fmt: skip


class HomeRefresher:
    """Publishes Homes: one on open, everyone's when something changed. Refreshes run in the
    background and coalesce — changes arriving during a refresh cause one more, not many."""

    def __init__(
        self,
        home: HomeService,
        port: HomePort,
        background: Background | None = None,
        outage: Outage | None = None,
    ) -> None:
        self._outage = outage or Outage()
        self._home = home
        self._port = port
        self._background = background or Background()
        self._task: asyncio.Task[None] | None = None
        self._again = False

    async def opened(self, user: str) -> None:
        """A user opened their Home: remember them and publish theirs now."""
        await self._home.opened(user)
        await self.show(user)

    async def show(self, user: str, snapshot: Snapshot | None = None) -> None:
        """Build and publish one user's Home."""
        view = await self._home.view(user, await self._port.roles_of(user), snapshot)
        await self._port.publish(user, view)

    def refresh(self) -> None:
        """Republish every recent viewer's Home soon; returns at once."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = self._background.spawn(self._refresh_all(), name="home-refresh", shared=True)

    async def _refresh_all(self) -> None:
        while True:
            self._again = False
            try:
                await self._refresh_round()
            except StoreError as exc:  # the next change refreshes them again
                self._outage.failed(exc, "refreshing App Home")
            if not self._again:
                return

    async def _refresh_round(self) -> None:
        snapshot = await self._home.snapshot()  # read once per round, not per viewer
        for user in await self._home.viewers():
            try:
                await self.show(user, snapshot)
            except StoreError:
                raise
            except Exception:
                log.exception("refreshing the Home of %s failed", user)

    async def close(self) -> None:
        """Wait for a refresh in progress (at shutdown)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
