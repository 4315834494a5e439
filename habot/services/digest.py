"""The daily digest: uptime per pair over the last day, queued to the alert channel."""

from __future__ import annotations

from datetime import datetime, timedelta

from habot.config import Settings
from habot.core.digest import Digest, Sample, Uptime, digest_message, uptime
from habot.core.outbox import DIGEST_LANE, MessageKind
from habot.services.freezes import FreezeService
from habot.services.outbox import message_payload
from habot.services.ports import AlertStates, Clock, Outbox, ReadingLog

WINDOW = timedelta(days=1)


class DigestService:
    """Builds the digest from stored readings and writes it to the outbox."""

    def __init__(
        self,
        *,
        settings: Settings,
        readings: ReadingLog,
        alerts: AlertStates,
        outbox: Outbox,
        clock: Clock,
        freezes: FreezeService | None = None,
    ) -> None:
        self._freezes = freezes
        self._settings = settings
        self._readings = readings
        self._alerts = alerts
        self._outbox = outbox
        self._clock = clock

    async def post(self, digest: Digest | None = None) -> int | None:
        """Queue the digest (``digest``, or one built now) for the alert channel; its outbox
        id, or None when no alert channel is set."""
        channel = self._settings.slack.alert_channel
        if not channel:
            return None
        digest = digest or await self.build()
        return await self._outbox.enqueue(
            DIGEST_LANE,
            MessageKind.POST,
            channel,
            message_payload(digest_message(digest)),
            self._clock(),
        )

    async def build(self) -> Digest:
        """The digest as it would be posted now (as data: each front end renders it)."""
        now = self._clock()
        items = [await self._uptime(pair.name, now) for pair in self._settings.pairs]
        muted = {
            p.name: (await self._alerts.load(p.name))[0].muted_until for p in self._settings.pairs
        }
        names = [p.name for p in self._settings.pairs]
        held = await self._freezes.holding_each(names) if self._freezes else {}
        frozen = {pair: (f.ends_at, f.reason) for pair, f in held.items()}
        return Digest(tuple(items), muted, now, round(WINDOW / timedelta(hours=1)), frozen)

    async def _uptime(self, pair: str, now: datetime) -> Uptime:
        start = now - WINDOW
        samples = [
            Sample(r.at, r.verdict, r.primary, r.secondary, r.health)
            for r in await self._readings.since(pair, start)
        ]
        max_gap = 2 * self._settings.schedule.status_every
        return uptime(pair, samples, start, now, max_gap)
