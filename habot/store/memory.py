"""Every store port in memory: for the service tests that are about rules rather than SQL,
and for CLI commands that keep nothing (``habot status``, ``habot check``).

The same rules as the SQL stores, case for case (``tests/test_store_contract.py`` runs the
same cases on all three): one open request per pair, every change a compare-and-set that
exactly one caller wins, an approval counted once per approver, the audit chain hashed as in
the database, an older edit of a card dropped. Each method runs without awaiting in between,
so on one event loop it is atomic, as a transaction is. Nothing survives the process.
Requests, the outbox and the audit chain have modules of their own (memory_requests.py,
memory_outbox.py, memory_audit.py); :func:`memory_stores` puts them all together.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from habot.core.alerts import Acknowledgement, AlertState, Announced, with_acknowledgement
from habot.core.audit import (
    AuditEvent,
)
from habot.core.freeze import ALL, Freeze
from habot.core.model import NodeState, Role
from habot.core.readings import StoredReading
from habot.core.verdict import PairStatus
from habot.services.ports import Stores
from habot.store.memory_audit import MemoryAudit
from habot.store.memory_outbox import MemoryOutbox
from habot.store.memory_requests import MemoryRequests

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


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
