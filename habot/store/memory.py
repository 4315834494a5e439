"""Every store port in memory: for the service tests that are about rules rather than SQL,
and for CLI commands that keep nothing (``habot status``, ``habot check``).

The same rules as the SQL stores, case for case (``tests/test_store_contract.py`` runs the
same cases on all three): one open request per pair, every change a compare-and-set that
exactly one caller wins, an approval counted once per approver, the audit chain hashed as in
the database, an older edit of a card dropped. Each method runs without awaiting in between,
so on one event loop it is atomic, as a transaction is. Nothing survives the process.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from habot.core.alerts import Acknowledgement, AlertState, Announced, with_acknowledgement
from habot.core.approvals import OPEN, WAITING, Glass, Request, RequestState
from habot.core.audit import (
    GENESIS,
    AuditEvent,
    AuditRecord,
    ChainCheck,
    RequestRow,
    chain,
    verify,
)
from habot.core.freeze import ALL, Freeze
from habot.core.model import NodeState, Role
from habot.core.oncall import FirstLevel
from habot.core.operations import OperationPlan
from habot.core.outbox import Delivery, MessageKind, Next, OutboxMessage, Withdrawn, update_of
from habot.core.readings import StoredReading
from habot.core.verdict import PairStatus
from habot.errors import PairBusy, StoreError
from habot.services.ports import Stores

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class MemoryAudit:
    """The audit chain in a list."""

    def __init__(self) -> None:
        self.chain: list[AuditRecord] = []

    def append_now(self, event: AuditEvent) -> AuditRecord:
        """Append at once (a request change and its event happen together)."""
        head = self.chain[-1] if self.chain else None
        record = chain(head.seq + 1 if head else 1, event, head.hash if head else GENESIS)
        self.chain.append(record)
        return record

    async def append(self, event: AuditEvent) -> AuditRecord:
        return self.append_now(event)

    async def recent(self, limit: int, pair: str | None = None) -> list[AuditRecord]:
        found = [r for r in reversed(self.chain) if pair is None or r.event.pair == pair]
        return found[:limit]

    async def head(self) -> AuditRecord | None:
        return self.chain[-1] if self.chain else None

    async def verify(self) -> ChainCheck:
        return verify(self.chain)

    async def records(self) -> AsyncIterator[AuditRecord]:
        for record in list(self.chain):
            yield record

    async def page(self, after: int, limit: int) -> list[AuditRecord]:
        return [r for r in self.chain if r.seq > after][:limit]


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


class MemoryReadings:
    """Readings per pair, newest last."""

    def __init__(self) -> None:
        self._by_pair: dict[str, list[StoredReading]] = {}

    async def add(self, status: PairStatus) -> None:
        reading = StoredReading(
            status.pair,
            status.observed_at,
            status.verdict,
            status.primary.state,
            status.secondary.state,
            status.health,
        )
        kept = self._by_pair.setdefault(status.pair, [])
        kept.append(reading)
        kept.sort(key=lambda r: r.at)  # stable: equal times keep their order of arrival

    async def last(self, pair: str) -> StoredReading | None:
        kept = self._by_pair.get(pair)
        return kept[-1] if kept else None

    async def last_known(self, pair: str, unread: frozenset[NodeState]) -> dict[Role, NodeState]:
        known: dict[Role, NodeState] = {}
        for reading in reversed(self._by_pair.get(pair, [])):
            for role, state in (
                (Role.PRIMARY, reading.primary),
                (Role.SECONDARY, reading.secondary),
            ):
                if role not in known and state not in unread:
                    known[role] = state
        return known

    async def since(self, pair: str, since: datetime) -> list[StoredReading]:
        return [r for r in reversed(self._by_pair.get(pair, [])) if r.at >= since]

    async def prune(self, before: datetime) -> int:
        gone = 0
        for pair, kept in self._by_pair.items():
            self._by_pair[pair] = [r for r in kept if r.at >= before]
            gone += len(kept) - len(self._by_pair[pair])
        return gone


class MemoryKeeper:
    """Readings kept behind status cards (the raw-output button)."""

    def __init__(self) -> None:
        self._kept: dict[str, PairStatus] = {}
        self._ids: dict[int, str] = {}

    async def put(self, status: PairStatus) -> str:
        known = self._ids.get(id(status))
        if known is not None and self._kept.get(known) is status:
            return known  # one reading shown to many is kept once
        reading_id = secrets.token_hex(8)
        self._kept[reading_id] = status
        self._ids[id(status)] = reading_id
        return reading_id

    async def get(self, reading_id: str) -> PairStatus | None:
        return self._kept.get(reading_id)

    async def prune(self, before: datetime) -> int:
        old = [i for i, s in self._kept.items() if s.observed_at < before]
        for reading_id in old:
            del self._kept[reading_id]
        return len(old)


class MemoryAlertStates:
    """Each pair's alert state, card, mute and announcement."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[AlertState, int | None]] = {}
        self._mutes: dict[str, datetime | None] = {}
        self._announced: dict[str, Announced | None] = {}
        self._acks: dict[str, Acknowledgement] = {}

    async def load(self, pair: str) -> tuple[AlertState, int | None]:
        state, card = self._states.get(pair, (AlertState(), None))
        mute, announced = self._mutes.get(pair), self._announced.get(pair)
        state = replace(state, muted_until=mute, announced=announced)
        return with_acknowledgement(state, self._acks.get(pair)), card

    async def acknowledge(self, pair: str, ack: Acknowledgement) -> bool:
        if pair not in self._states:
            return False  # as in SQL: no row, nothing to acknowledge
        held = self._acks.get(pair)
        if held is not None and held.since == ack.since:
            return False
        self._acks[pair] = ack
        return True

    async def save(self, pair: str, state: AlertState, card_id: int | None) -> None:
        self._states[pair] = (replace(state, muted_until=None, announced=None), card_id)

    async def announce(self, pair: str, announced: Announced) -> None:
        self._announced[pair] = announced

    async def forget_announced(self, pair: str, seen: Announced) -> None:
        if self._announced.get(pair) == seen:
            self._announced[pair] = None

    async def set_mute(self, pair: str, until: datetime | None) -> None:
        self._mutes[pair] = until

    def cards_in_use(self) -> set[int]:
        """Open alert cards (the outbox keeps them)."""
        return {card for _, card in self._states.values() if card is not None}


@dataclass
class _Queued:
    message: OutboxMessage
    created_at: datetime
    card_of: int | None = None
    version: int | None = None
    claim: tuple[str, datetime] | None = None  # who is sending it, until when


class MemoryOutbox:
    """The outbox in a dictionary, ordered by id."""

    def __init__(self, requests: MemoryRequests, alerts: MemoryAlertStates) -> None:
        self._rows: dict[int, _Queued] = {}
        self._next_id = 1
        self._requests = requests
        self._alerts = alerts

    def _insert(
        self,
        lane: str,
        kind: MessageKind,
        channel: str,
        payload: dict[str, Any],
        now: datetime,
        card: tuple[int, int] | None = None,
    ) -> int:
        message_id, self._next_id = self._next_id, self._next_id + 1
        message = OutboxMessage(
            message_id, lane, kind, channel, payload, 0, now, Delivery.QUEUED, None
        )
        card_of, version = card or (None, None)
        self._rows[message_id] = _Queued(message, now, card_of, version)
        return message_id

    async def enqueue(
        self, lane: str, kind: MessageKind, channel: str, payload: dict[str, Any], now: datetime
    ) -> int:
        return self._insert(lane, kind, channel, payload, now)

    async def enqueue_update(
        self,
        lane: str,
        channel: str,
        card: int,
        version: int,
        payload: dict[str, Any],
        now: datetime,
    ) -> int | None:
        versions = [
            q.version for q in self._rows.values() if q.card_of == card and q.version is not None
        ]
        if versions and version < max(versions):
            return None
        body = update_of(card, payload)
        return self._insert(lane, MessageKind.UPDATE, channel, body, now, (card, version))

    async def head(self, lane: str) -> OutboxMessage | None:
        queued = (q.message for q in self._rows.values() if q.message.lane == lane)
        return next((m for m in queued if m.state is Delivery.QUEUED), None)

    async def queued_in(self, lane: str) -> list[OutboxMessage]:
        queued = (q.message for q in self._rows.values() if q.message.lane == lane)
        return [m for m in queued if m.state is Delivery.QUEUED]

    async def drop(self, message_id: int) -> bool:
        queued = self._rows.get(message_id)
        if queued is None or queued.message.state is not Delivery.QUEUED:
            return False
        del self._rows[message_id]
        return True

    async def lanes(self) -> list[str]:
        return sorted(
            {q.message.lane for q in self._rows.values() if q.message.state is Delivery.QUEUED}
        )

    async def get(self, message_id: int) -> OutboxMessage | None:
        queued = self._rows.get(message_id)
        return queued.message if queued else None

    async def claim(self, message_id: int, sender: str, now: datetime, ttl: timedelta) -> bool:
        queued = self._rows.get(message_id)
        if queued is None or queued.message.state is not Delivery.QUEUED:
            return False
        if queued.claim is not None and queued.claim[0] != sender and queued.claim[1] >= now:
            return False
        queued.claim = (sender, now + ttl)
        return True

    async def claimant(self, message_id: int, now: datetime) -> str | None:
        queued = self._rows.get(message_id)
        if queued is None or queued.message.state is not Delivery.QUEUED or queued.claim is None:
            return None
        return queued.claim[0] if queued.claim[1] >= now else None

    async def take_claim(
        self, message_id: int, dead: str, sender: str, now: datetime, ttl: timedelta
    ) -> bool:
        queued = self._rows.get(message_id)
        if queued is None or queued.message.state is not Delivery.QUEUED:
            return False
        if queued.claim is None or queued.claim[0] != dead:
            return False
        queued.claim = (sender, now + ttl)
        return True

    async def withdraw_undelivered(self, lane: str, now: datetime) -> Withdrawn | None:
        rows = [q for q in self._rows.values() if q.message.lane == lane]
        if any(q.message.state is Delivery.SENT or (q.claim and q.claim[1] >= now)
               for q in rows):  # fmt: skip
            return None
        queued = [q for q in rows if q.message.state is Delivery.QUEUED]
        for q in queued:
            del self._rows[q.message.id]
        return Withdrawn(len(queued), any(q.message.attempts or q.claim for q in queued))

    async def record(
        self, message_id: int, outcome: Next, ts: str | None, error: str | None
    ) -> None:
        queued = self._rows.get(message_id)
        if queued is None:
            return
        queued.claim = None
        m = queued.message
        queued.message = replace(
            m,
            state=outcome.state,
            attempts=m.attempts + 1,
            next_attempt_at=outcome.next_attempt_at,
            ts=ts or m.ts,
            error=error,
        )

    async def queued(self) -> int:
        return sum(1 for q in self._rows.values() if q.message.state is Delivery.QUEUED)

    async def prune(self, before: datetime) -> int:
        keep = self._requests.cards_in_use() | self._alerts.cards_in_use()
        old = [
            i
            for i, q in self._rows.items()
            if q.message.state is not Delivery.QUEUED and q.created_at < before and i not in keep
        ]
        for message_id in old:
            del self._rows[message_id]
        return len(old)


class MemoryViewers:
    """Who opened App Home, and when."""

    def __init__(self) -> None:
        self._opened: dict[str, datetime] = {}

    async def opened(self, user: str, at: datetime) -> None:
        self._opened[user] = at

    async def since(self, since: datetime) -> list[str]:
        found = [(at, u) for u, at in self._opened.items() if at >= since]
        return [u for _, u in sorted(found, key=lambda f: (-f[0].timestamp(), f[1]))]


class MemoryCursors:
    """How far each SIEM target has been sent."""

    def __init__(self) -> None:
        self._sent: dict[str, int] = {}

    async def get(self, target: str) -> int:
        return self._sent.get(target, 0)

    async def advance(self, target: str, seq: int) -> None:
        self._sent[target] = max(self._sent.get(target, 0), seq)


class MemoryLeases:
    """Named leases with an expiry."""

    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, datetime]] = {}

    def claim_sync(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] >= now:
            return False
        self._leases[name] = (holder, now + ttl)
        return True

    async def claim(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        return self.claim_sync(name, holder, now, ttl)

    async def take_over(
        self, name: str, dead: str, holder: str, now: datetime, ttl: timedelta
    ) -> bool:
        current = self._leases.get(name)
        if current is None or current[0] != dead:
            return False
        self._leases[name] = (holder, now + ttl)
        return True

    async def release(self, name: str, holder: str) -> None:
        current = self._leases.get(name)
        if current is not None and current[0] == holder:
            self._leases[name] = (holder, _LONG_AGO)

    async def holder(self, name: str, now: datetime) -> str | None:
        current = self._leases.get(name)
        return current[0] if current is not None and current[1] >= now else None


class MemorySeen:
    """Signatures taken, with when."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}

    async def first(self, signature: str, now: datetime, window: timedelta) -> bool:
        self._seen = {s: at for s, at in self._seen.items() if at >= now - window}
        if signature in self._seen:
            return False
        self._seen[signature] = now
        return True


async def _always_answers() -> None:
    return None


class MemoryFreezes:
    """Freezes in a list (lifted ones dropped)."""

    def __init__(self, audit: MemoryAudit) -> None:
        self._audit = audit
        self._held: list[Freeze] = []

    async def add(self, freeze: Freeze, said: AuditEvent | None = None) -> None:
        self._held.append(freeze)
        if said is not None:
            self._audit.append_now(said)

    async def holding(self, at: datetime) -> list[Freeze]:
        return sorted((f for f in self._held if f.starts_at <= at < f.ends_at),
                      key=lambda f: f.ends_at)  # fmt: skip

    async def lift(
        self, scope: tuple[str, ...], by: str, at: datetime, said: AuditEvent | None = None
    ) -> list[Freeze]:
        lifted = [f for f in await self.holding(at) if ALL in scope or f.pairs == scope]
        self._held = [f for f in self._held if f not in lifted]
        if lifted and said is not None:
            self._audit.append_now(said)
        return lifted


class MemorySealed:
    """Sealed authenticator secrets and their last used steps, by user."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, int | None]] = {}

    async def enrol(self, user: str, sealed: str, at: datetime) -> None:
        self._held[user] = (sealed, None)

    async def get(self, user: str) -> tuple[str, int | None] | None:
        return self._held.get(user)

    async def use(self, user: str, step: int) -> bool:
        held = self._held.get(user)
        if held is None or (held[1] is not None and held[1] >= step):
            return False
        self._held[user] = (held[0], step)
        return True


def memory_stores() -> Stores:
    """Every store in memory, wired as the SQL ones are (the outbox keeps live cards)."""
    audit, alerts = MemoryAudit(), MemoryAlertStates()
    requests = MemoryRequests(audit)
    return Stores(
        audit=audit,
        requests=requests,
        readings=MemoryReadings(),
        kept=MemoryKeeper(),
        alerts=alerts,
        outbox=MemoryOutbox(requests, alerts),
        viewers=MemoryViewers(),
        leases=MemoryLeases(),
        seen=MemorySeen(),
        totp=MemorySealed(),
        freezes=MemoryFreezes(audit),
        cursors=MemoryCursors(),
        ping=_always_answers,
    )
