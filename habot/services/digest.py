"""The daily digest: uptime per pair over the last day, queued to the alert channel."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from habot.config import Settings
from habot.core.blocks import Message
from habot.core.digest import Sample, Uptime, digest_message, uptime
from habot.core.outbox import MessageKind
from habot.services.outbox import message_payload
from habot.services.ports import Clock
from habot.store.alert_state import AlertStateStore
from habot.store.outbox import OutboxStore
from habot.store.readings import ReadingStore

WINDOW = timedelta(days=1)
DIGEST_LANE = "digest"  # its own lane: a digest never waits behind a pair's alerts


class DigestService:
    """Builds the digest from stored readings and writes it to the outbox."""

    def __init__(
        self,
        settings: Settings,
        readings: ReadingStore,
        alerts: AlertStateStore,
        outbox: OutboxStore,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._readings = readings
        self._alerts = alerts
        self._outbox = outbox
        self._clock = clock

    async def post(self, message: Message | None = None) -> int | None:
        """Queue the digest (``message``, or one built now); its outbox id, or None when no
        alert channel is set."""
        channel = self._settings.slack.alert_channel
        if not channel:
            return None
        message = message or await self.build()
        return await asyncio.to_thread(
            self._outbox.enqueue_sync,
            DIGEST_LANE,
            MessageKind.POST,
            channel,
            message_payload(message),
            self._clock(),
        )

    async def build(self) -> Message:
        """The digest as it would be posted now."""
        return await asyncio.to_thread(self._build, self._clock())

    def _build(self, now: datetime) -> Message:
        items = [self._uptime(pair.name, now) for pair in self._settings.pairs]
        muted = {
            p.name: self._alerts.load_sync(p.name)[0].muted_until for p in self._settings.pairs
        }
        return digest_message(items, muted, now, round(WINDOW / timedelta(hours=1)))

    def _uptime(self, pair: str, now: datetime) -> Uptime:
        start = now - WINDOW
        samples = [
            Sample(r.at, r.verdict, r.primary, r.secondary, r.health)
            for r in self._readings.since_sync(pair, start)
        ]
        max_gap = 2 * self._settings.schedule.status_every
        return uptime(pair, samples, start, now, max_gap)
