"""The outbox in memory (see habot/store/memory.py): delivered head-first per lane, an older
edit of a card dropped, cards something may still edit kept."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from habot.core.outbox import Delivery, MessageKind, Next, OutboxMessage, Withdrawn, update_of


@dataclass
class _Queued:
    message: OutboxMessage
    created_at: datetime
    card_of: int | None = None
    version: int | None = None
    claim: tuple[str, datetime] | None = None  # who is sending it, until when


class CardsInUse(Protocol):
    """A store whose cards something may still edit (an open request's, an open alert's)."""

    def cards_in_use(self) -> set[int]:
        """Their outbox ids."""
        ...


class MemoryOutbox:
    """The outbox in a dictionary, ordered by id."""

    def __init__(self, requests: CardsInUse, alerts: CardsInUse) -> None:
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
