"""Requests in memory (see habot/store/memory.py): one open request per pair, every change a
compare-and-set that exactly one caller wins, an approval counted once per approver."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from habot.core.approvals import OPEN, WAITING, Glass, Request, RequestState
from habot.core.audit import (
    AuditEvent,
    RequestRow,
)
from habot.core.oncall import FirstLevel
from habot.core.operations import OperationPlan
from habot.errors import PairBusy, StoreError
from habot.store.memory_audit import MemoryAudit


@dataclass
class _Held:
    request: Request
    channel: str | None
    plan: OperationPlan
    approvals: list[tuple[datetime, str]] = field(default_factory=list)
    card: int | None = None
    runner: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class MemoryRequests:
    """Requests, approvals and role-change times in dictionaries."""

    def __init__(self, audit: MemoryAudit) -> None:
        self._audit = audit
        self._held: dict[str, _Held] = {}
        self._changes: dict[str, datetime] = {}

    def _said(self, said: AuditEvent | None) -> None:
        if said is not None:
            self._audit.append_now(said)

    async def create(
        self,
        request: Request,
        channel: str | None,
        plan: OperationPlan,
        said: AuditEvent | None = None,
    ) -> None:
        open_id = await self.open_for(request.pair)
        if open_id is not None:
            raise PairBusy(open_id)
        self._held[request.id] = _Held(replace(request, approvals=(), version=0), channel, plan)
        self._said(said)

    async def open_for(self, pair: str) -> str | None:
        return next(
            (
                i
                for i, h in self._held.items()
                if h.request.pair == pair and h.request.state in OPEN
            ),
            None,
        )

    async def get(self, request_id: str) -> Request | None:
        held = self._held.get(request_id)
        if held is None:
            return None
        return replace(held.request, approvals=tuple(a for _, a in sorted(held.approvals)))

    async def plan(self, request_id: str) -> OperationPlan:
        if request_id not in self._held:
            raise StoreError(f"the store failed: no request {request_id}")
        return self._held[request_id].plan

    async def card(self, request_id: str) -> tuple[str | None, int | None]:
        held = self._held.get(request_id)
        return (held.channel, held.card) if held else (None, None)

    async def set_card(self, request_id: str, channel: str, card_id: int) -> None:
        held = self._held[request_id]
        held.channel, held.card = channel, card_id

    async def in_states(self, *states: RequestState) -> list[Request]:
        found = [i for i, h in self._held.items() if h.request.state in states]
        found.sort(key=lambda i: self._held[i].request.created_at)
        return [r for i in found if (r := await self.get(i)) is not None]

    async def add_approval(
        self, request_id: str, approver: str, at: datetime, said: AuditEvent | None = None
    ) -> int | None:
        held = self._held.get(request_id)
        if held is None or held.request.state is not RequestState.PENDING:
            return None
        approvers = {a for _, a in held.approvals}
        if approver in approvers:
            return len(approvers)
        if len(approvers) >= held.request.required:
            return None
        held.approvals.append((at, approver))
        held.request = replace(held.request, version=held.request.version + 1)
        count = len(approvers) + 1
        if said is not None:
            self._audit.append_now(replace(said, detail={**said.detail, "approvals": count}))
        return count

    async def transition(
        self,
        request_id: str,
        expected: RequestState,
        new: RequestState,
        detail: dict[str, Any] | None = None,
        runner: str | None = None,
        said: AuditEvent | None = None,
    ) -> bool:
        held = self._held.get(request_id)
        if held is None or held.request.state is not expected:
            return False
        held.request = replace(held.request, state=new, version=held.request.version + 1)
        held.detail = detail or {}
        held.runner = runner or held.runner
        self._said(said)
        return True

    async def escalate(
        self,
        request_id: str,
        asked: tuple[datetime, ...],
        now: datetime,
        said: AuditEvent | None = None,
        first: FirstLevel | None = None,
    ) -> bool:
        held = self._held.get(request_id)
        if held is None or held.request.state is not RequestState.PENDING:
            return False
        if held.request.asked != asked:
            return False
        version = held.request.version + 1
        first = first or held.request.first
        held.request = replace(held.request, asked=(*asked, now), version=version, first=first)
        self._said(said)
        return True

    async def offer_glass(self, request_id: str, at: datetime) -> bool:
        held = self._held.get(request_id)
        if held is None or held.request.state is not RequestState.PENDING or held.request.offered:
            return False
        held.request = replace(held.request, offered=at, version=held.request.version + 1)
        return True

    async def break_glass(
        self, request_id: str, glass: Glass, runner: str, said: AuditEvent | None = None
    ) -> bool:
        held = self._held.get(request_id)
        if held is None or held.request.state is not RequestState.PENDING:
            return False
        if await self.unreviewed():
            return False
        version = held.request.version + 1
        state = RequestState.EXECUTING
        held.request = replace(held.request, state=state, glass=glass, version=version)
        held.runner = runner
        self._said(said)
        return True

    async def review_glass(
        self, request_id: str, by: str, at: datetime, note: str, said: AuditEvent | None = None
    ) -> bool:
        held = self._held.get(request_id)
        glass = held.request.glass if held else None
        if held is None or glass is None or not glass.owed:
            return False
        reviewed = replace(glass, reviewed_by=by, reviewed_at=at, review=note)
        held.request = replace(held.request, glass=reviewed, version=held.request.version + 1)
        self._said(said)
        return True

    async def remind_run(self, request_id: str, at: datetime) -> bool:
        held = self._held.get(request_id)
        if held is None or held.request.run_reminded is not None:
            return False
        if held.request.state not in WAITING:
            return False
        held.request = replace(held.request, run_reminded=at, version=held.request.version + 1)
        return True

    async def remind_glass(self, request_id: str, last: datetime, at: datetime) -> bool:
        held = self._held.get(request_id)
        glass = held.request.glass if held else None
        if held is None or glass is None or not glass.owed:
            return False
        if (glass.reminded_at or glass.at) != last:
            return False
        held.request = replace(held.request, glass=replace(glass, reminded_at=at))
        return True

    async def unreviewed(self) -> list[Request]:
        owed = [h.request for h in self._held.values() if h.request.glass and h.request.glass.owed]
        owed.sort(key=lambda r: r.glass.at if r.glass else r.created_at)
        return [r for o in owed if (r := await self.get(o.id)) is not None]

    async def still_runs(self, request_id: str, runner: str) -> bool:
        held = self._held.get(request_id)
        return bool(held and held.request.state is RequestState.EXECUTING and held.runner == runner)

    async def runner(self, request_id: str) -> str | None:
        held = self._held.get(request_id)
        return held.runner if held else None

    async def last_change(self, pair: str) -> datetime | None:
        return self._changes.get(pair)

    async def record_change(self, pair: str, at: datetime) -> None:
        self._changes[pair] = at

    async def rows(self) -> list[RequestRow]:
        return [
            RequestRow(i, h.request.state.value, frozenset(a for _, a in h.approvals))
            for i, h in self._held.items()
        ]

    def cards_in_use(self) -> set[int]:
        """Cards of open requests — waiting, scheduled, running or of unknown outcome —
        which something may still edit (the outbox keeps them)."""
        return {h.card for h in self._held.values() if h.card and h.request.state in OPEN}
