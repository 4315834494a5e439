"""Assembles the App Home dashboard from the stores."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from habot.config import Settings
from habot.core.approvals import WAITING, Request, RequestState, actions_for
from habot.core.audit import AuditRecord
from habot.core.freeze import Freeze
from habot.core.home import MAX_RECENT, Ended, PairLine, Waiting, dashboard
from habot.core.operations import OperationPlan
from habot.core.outbox import Delivery
from habot.core.roles import Access
from habot.core.stepup import StepUp
from habot.errors import StoreError
from habot.services.background import Background
from habot.services.freezes import FreezeService
from habot.services.outage import Outage
from habot.services.outbox import SLACK, message_link
from habot.services.ports import (
    AlertStates,
    AuditLog,
    Clock,
    HomeViewers,
    Outbox,
    ReadingLog,
    Requests,
)

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
    recent: list[Ended]
    at: datetime
    owed: tuple[Request, ...] = ()  # break-glass runs whose review is owed
    plans: Mapping[str, OperationPlan] = field(default_factory=dict)  # of pending requests
    links: Mapping[str, str] = field(default_factory=dict)  # request id → its card's link


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
        outbox: Outbox | None = None,
        step_up: StepUp | None = None,
    ) -> None:
        #: The workspace's address, for links to cards (set once Slack has said it).
        self.workspace = SLACK
        self._outbox = outbox
        self._step_up = step_up or StepUp()
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
            Waiting(r, shared.plans[r.id], actions, self._step_up.confirm(r.operation),
                    shared.links.get(r.id))
            for r in shared.pending
            if r.state is RequestState.PENDING and r.id in shared.plans
            and (actions := actions_for(r, user, roles, shared.at))
        ]  # fmt: skip
        command = self._settings.slack.command
        return dashboard(shared.lines, mine, shared.recent, command, shared.at, shared.owed,
                         scheduled=shared.pending)  # fmt: skip

    async def snapshot(self) -> Snapshot:
        """What every viewer's Home is built from."""
        names = [pair.name for pair in self._settings.pairs]
        frozen = await self._freezes.holding_each(names) if self._freezes else {}
        lines = await asyncio.gather(*(self._line(name, frozen.get(name)) for name in names))
        waiting = await self._requests.in_states(*sorted(WAITING))
        pending = [r for r in waiting if r.state is RequestState.PENDING]
        plans = {r.id: await self._requests.plan(r.id) for r in pending}
        recent = [await self._ended(e) for e in await self._audit.recent(200)
                  if e.event.kind in OUTCOMES][:MAX_RECENT]  # fmt: skip
        links = {r.id: link for r in waiting if (link := await self._link(r.id))}
        links |= {e.request.id: e.link for e in recent if e.request and e.link}
        return Snapshot(list(lines), waiting, recent, self._clock(),
                        tuple(await self._requests.unreviewed()), plans, links)  # fmt: skip

    async def _ended(self, record: AuditRecord) -> Ended:
        """An outcome in the audit, with its request (who asked, who approved) and card."""
        event = record.event
        request_id = event.detail.get("request")
        request = await self._requests.get(request_id) if isinstance(request_id, str) else None
        link = await self._link(request.id) if request else None
        return Ended(event.at, event.pair or "", event.outcome, request, link)

    async def _link(self, request_id: str) -> str | None:
        """A link to the request's card, once Slack has it."""
        _, card = await self._requests.card(request_id)
        message = await self._outbox.get(card) if self._outbox and card is not None else None
        if message is None or message.state is not Delivery.SENT or not message.ts:
            return None
        return message_link(message.channel, message.ts, self.workspace)

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
