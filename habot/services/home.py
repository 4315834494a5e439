"""Assembles the App Home dashboard from the stores."""

from __future__ import annotations

import asyncio
from typing import Any

from habot.config import Settings
from habot.core.approvals import Request, RequestState
from habot.core.home import PairLine, dashboard
from habot.core.roles import Access
from habot.services.ports import Clock
from habot.store.alert_state import AlertStateStore
from habot.store.audit import AuditStore
from habot.store.readings import ReadingStore
from habot.store.requests import RequestStore

OUTCOMES = frozenset({"succeeded", "failed", "unverified", "aborted", "unknown"})


class HomeService:
    """The dashboard one viewer sees."""

    def __init__(
        self,
        settings: Settings,
        readings: ReadingStore,
        alerts: AlertStateStore,
        requests: RequestStore,
        audit: AuditStore,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._readings = readings
        self._alerts = alerts
        self._requests = requests
        self._audit = audit
        self._clock = clock

    async def view(self, user: str, roles: frozenset[Access]) -> dict[str, Any]:
        """Build the Home view for ``user`` (database reads run in a thread)."""
        return await asyncio.to_thread(self._view, user, roles)

    def _view(self, user: str, roles: frozenset[Access]) -> dict[str, Any]:
        lines = [self._line(pair.name) for pair in self._settings.pairs]
        pending = self._requests.in_states_sync(RequestState.PENDING)
        mine = [r for r in pending if _can_act(r, user, roles)]
        recent = [r for r in self._audit.recent_sync(200) if r.event.kind in OUTCOMES][:10]
        return dashboard(lines, mine, recent, self._settings.slack.command, self._clock())

    def _line(self, pair: str) -> PairLine:
        reading = self._readings.last_sync(pair)
        muted = self._alerts.load_sync(pair)[0].muted_until
        change = self._requests.last_change_sync(pair)
        cooldown = change + self._settings.approval.cooldown if change else None
        if reading is None:
            return PairLine(pair, None, None, None, None, muted, cooldown)
        return PairLine(
            pair, reading.verdict, reading.primary, reading.secondary, reading.at, muted, cooldown
        )


def _can_act(request: Request, user: str, roles: frozenset[Access]) -> bool:
    """Approvers can approve others' requests; requesters can cancel their own."""
    if request.requester == user:
        return True
    return Access.APPROVER in roles and user not in request.approvals
