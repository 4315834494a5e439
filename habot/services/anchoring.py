"""The periodic audit anchor: the chain's head, posted as one line to the alert channel, so
a copy of it lives outside habot's database (in Slack's history) and `habot audit verify
--anchor LINE` can later prove the log was neither truncated nor rewritten since."""

from __future__ import annotations

from habot.config import Settings
from habot.core.anchor import make_anchor
from habot.core.blocks import render
from habot.core.outbox import ANCHOR_LANE, MessageKind
from habot.core.replies import Code, Output, Tone, say
from habot.services.outbox import message_payload
from habot.services.ports import AuditLog, Clock, Outbox


class AnchorService:
    """Posts the anchor when the chain has grown since the last one this process posted."""

    def __init__(
        self,
        *,
        settings: Settings,
        audit: AuditLog,
        outbox: Outbox,
        clock: Clock,
        key: str | None,
    ) -> None:
        self._settings = settings
        self._audit = audit
        self._outbox = outbox
        self._clock = clock
        self._key = key
        self._posted_seq: int | None = None

    async def post(self) -> int | None:
        """Queue the current anchor; its outbox id, or None (no alert channel, an empty
        log, or nothing appended since the last anchor)."""
        channel = self._settings.slack.alert_channel
        head = await self._audit.head()
        if not channel or head is None or head.seq == self._posted_seq:
            return None
        line = make_anchor(head, self._key).line()
        keyed = "keyed with the audit key" if self._key else "not keyed: no audit key is set"
        message = render(
            say(
                f"Audit anchor ({keyed}). Keep it; ",
                Code("habot audit verify --anchor '<line>'"),
                " proves the log still holds it:\n",
                Output(line),
                tone=Tone.ANCHOR,
            )
        )
        queued = await self._outbox.enqueue(
            ANCHOR_LANE,
            MessageKind.POST,
            channel,
            message_payload(message),
            self._clock(),
        )
        self._posted_seq = head.seq
        return queued
