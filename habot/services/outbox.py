"""The outbox worker: sends stored messages in order per lane, retrying until Slack takes
them (honouring Retry-After), so an outage delays messages but drops none."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from habot.core.outbox import Attempt, Delivery, after
from habot.services.ports import Clock
from habot.store.outbox import OutboxMessage, OutboxStore

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Sends one message kind ('post', 'update', 'reply') to Slack."""

    async def send(self, kind: str, channel: str, payload: dict[str, Any]) -> Attempt:
        """Try once; never raise for Slack or network errors."""
        ...


class OutboxWorker:
    """Delivers due messages; one call is one round."""

    def __init__(self, store: OutboxStore, sender: Sender, clock: Clock) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock

    async def deliver_due(self) -> int:
        """For every lane, send messages in order until one is not yet due or fails."""
        sent = 0
        for lane in await asyncio.to_thread(self._store.lanes_sync):
            sent += await self._drain_lane(lane)
        return sent

    async def _drain_lane(self, lane: str) -> int:
        sent = 0
        while (head := await asyncio.to_thread(self._store.head_sync, lane)) is not None:
            if head.next_attempt_at > self._clock():
                break
            if not await self._deliver(head):
                break
            sent += 1
        return sent

    async def _deliver(self, message: OutboxMessage) -> bool:
        payload = await self._resolve(message)
        attempt = await self._sender.send(message.kind, message.channel, payload)
        outcome = after(attempt, message.attempts, self._clock())
        await asyncio.to_thread(
            self._store.record_sync, message.id, outcome, attempt.ts, attempt.error
        )
        if outcome.state is Delivery.DEAD:
            log.error("outbox message %s set aside: Slack said %s", message.id, attempt.error)
            return True  # a message no retry can fix must not block its lane forever
        return outcome.state is Delivery.SENT

    async def _resolve(self, message: OutboxMessage) -> dict[str, Any]:
        """An update or thread reply names its card by outbox id; use that card's ts."""
        payload = dict(message.payload)
        ref = payload.pop("ts_of", None)
        if ref is not None:
            card = await asyncio.to_thread(self._store.get_sync, int(ref))
            payload["ts" if message.kind == "update" else "thread_ts"] = card.ts if card else None
        return payload
