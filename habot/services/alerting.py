"""Turn readings into alert messages — written to the outbox, never sent directly."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from habot.config import Settings
from habot.core import paging
from habot.core.alert_cards import alert_card, nudge_text, reminder_message
from habot.core.alerts import (
    Acknowledgement,
    AlertState,
    Announced,
    Incident,
    Kind,
    Notice,
    in_quiet_hours,
    parse_quiet_hours,
    resolved_after,
    step,
    worth_paging,
)
from habot.core.audit import AuditEvent
from habot.core.blocks import mrkdwn
from habot.core.outbox import MessageKind, reply_to, update_of
from habot.core.paging import Pager
from habot.core.replies import Person, Reply, Strong, Tone, When, refused, say
from habot.core.roles import Access
from habot.core.verdict import PairStatus
from habot.services.freezes import FreezeService
from habot.services.outbox import message_payload
from habot.services.paging import Paging
from habot.services.ports import AlertStates, AuditLog, Caller, Clock, Outbox


class Alerter:
    """Applies each reading to its pair's alert state and queues what must be said."""

    def __init__(
        self,
        *,
        settings: Settings,
        states: AlertStates,
        outbox: Outbox,
        clock: Clock,
        audit: AuditLog | None = None,
        freezes: FreezeService | None = None,
    ) -> None:
        self._audit = audit
        self._freezes = freezes  # an alert during a change freeze says so (and still alerts)
        #: The paging tools that wake the on-call when an incident opens ([paging]).
        self._pagers = settings.paging.pagers
        self._paging = Paging(outbox, clock)
        self._channel = settings.slack.alert_channel
        self._mention = settings.slack.alert_mention
        self._schedule = settings.schedule
        self._quiet = parse_quiet_hours(settings.schedule.quiet_hours)
        self._zone = ZoneInfo(settings.schedule.timezone)
        self._states = states
        self._outbox = outbox
        self._clock = clock
        self._observing = asyncio.Lock()  # one reading at a time: load, decide, save
        self._seen: dict[str, PairStatus] = {}  # the last reading judged, per pair

    async def observe(self, status: PairStatus) -> None:
        """One reading of one pair (does nothing when no alert channel is configured)."""
        if not self._channel:
            return
        async with self._observing:
            await self._observe(status)

    async def _observe(self, status: PairStatus) -> None:
        now = self._clock()
        self._seen[status.pair] = status
        before, card = await self._states.load(status.pair)
        quiet = in_quiet_hours(self._quiet, now.astimezone(self._zone))
        schedule = self._schedule
        state, notices = step(
            before, status, now, schedule.alert_after, quiet, schedule.remind_after,
            schedule.nudge_every,
        )  # fmt: skip
        for notice in notices:
            triggered = self._pages_now(status, notice)
            if triggered:
                notice, state = self._marked_paged(notice, state, now)
            card = await self._queue(status, notice, card, now, state.announced)
            await self._page(status, notice, card, triggered)
        await self._states.save(status.pair, state, card)
        if before.announced is not None and state.announced is None:
            await self._states.forget_announced(status.pair, before.announced)

    def _pages_now(self, status: PairStatus, notice: Notice) -> bool:
        """Whether this notice's incident pages now: once, as soon as it is worth waking
        someone for — when it opens, or later, when an incident opened for lines not
        understood turns into one that is (never while muted)."""
        kinds = (Kind.RAISE, Kind.UPDATE)
        fresh = notice.kind in kinds and not notice.quiet and not notice.incident.paged
        return bool(self._pagers) and fresh and worth_paging(status)

    def _marked_paged(
        self, notice: Notice, state: AlertState, now: datetime
    ) -> tuple[Notice, AlertState]:
        """The incident pages every configured paging tool: its card says so."""
        pagers = tuple(p.value for p in self._pagers)
        paged = replace(notice.incident, paged=pagers, paged_at=now)
        kept = state.incident or notice.incident
        return replace(notice, incident=paged), replace(
            state, incident=replace(kept, paged=pagers, paged_at=now)
        )

    async def _page(
        self, status: PairStatus, notice: Notice, card: int | None, triggered: bool
    ) -> None:
        """The pages a notice calls for: a trigger when the incident pages, a resolve when
        it ends (or the withdrawal of a trigger never delivered)."""
        incident, pagers = notice.incident, [Pager(p) for p in notice.incident.paged]
        if triggered:
            await self._paging.send(pagers, paging.trigger(status, incident, card))
        elif notice.kind is Kind.RESOLVE:
            await self._paging.resolve(pagers, paging.resolve(status.pair, incident))

    async def acknowledge(self, caller: Caller, pair: str) -> Reply:
        """Someone is on it: the open incident says who and since when — on its card at
        once, and in its thread — audited. Operators and approvers."""
        if not caller.roles & {Access.OPERATOR, Access.APPROVER}:
            return refused("Acknowledging an alert needs the ", Strong("operator"), " or ",
                           Strong("approver"), " role.")  # fmt: skip
        async with self._observing:  # not between a reading's load and save
            state, card = await self._states.load(pair)
            incident = state.incident
            if incident is None:
                return say(f"{pair} has no open alert: nothing to acknowledge.")
            now = self._clock()
            ack = Acknowledgement(incident.since, caller.user, now)
            if incident.acknowledged_by is not None or not await self._states.acknowledge(
                pair, ack
            ):
                return await self._already(pair)
        if self._audit is not None:
            await self._audit.append(AuditEvent(
                "acknowledged", caller.user, "acknowledged", now, pair=pair,
                channel=caller.channel, detail={"since": incident.since.isoformat()},
            ))  # fmt: skip
        pagers = [Pager(p) for p in incident.paged]  # the on-call is told too
        await self._paging.send(pagers, paging.acknowledge(pair, incident, caller.user))
        await self._show_acknowledged(pair, incident, ack, card)
        words = say("Acknowledged by ", Person(caller.user), " ", When(now), ".")
        if self._channel and card is not None:
            reply = reply_to(card, mrkdwn(words))
            await self._outbox.enqueue(pair, MessageKind.REPLY, self._channel, reply, now)
        return words

    async def _card(
        self, status: PairStatus, incident: Incident, resolved: bool = False
    ) -> dict[str, Any]:
        """The alert card's payload as it stands: the freeze holding the pair, and — while
        it is open — "For @…" kept on every edit (an edit notifies nobody again)."""
        freeze = await self._freezes.holding(status.pair) if self._freezes else None
        frozen = (freeze.ends_at, freeze.reason) if freeze else None
        notify = None if resolved else self._mention
        card = alert_card(status, incident, resolved=resolved, notify=notify, frozen=frozen)
        return message_payload(card)

    async def _show_acknowledged(
        self, pair: str, incident: Incident, ack: Acknowledgement, card: int | None
    ) -> None:
        """The card shows who is on it at once, not from the next reading (which may be
        ``status_every`` away): edited from the reading this process last judged (on
        another replica, the next reading shows it)."""
        status = self._seen.get(pair)
        if not self._channel or card is None or status is None:
            return
        on_it = replace(incident, acknowledged_by=ack.by, acknowledged_at=ack.at)
        shown = update_of(card, await self._card(status, on_it))
        await self._outbox.enqueue(pair, MessageKind.UPDATE, self._channel, shown, ack.at)

    async def _already(self, pair: str) -> Reply:
        """Someone acknowledged first (on this replica or another): who, and when."""
        incident = (await self._states.load(pair))[0].incident
        if incident is None or incident.acknowledged_by is None:
            return say(f"{pair} has no open alert: nothing to acknowledge.")
        when = (" ", When(incident.acknowledged_at)) if incident.acknowledged_at else ()
        return say("Already acknowledged by ", Person(incident.acknowledged_by), *when, ".")

    async def open_alert(self, pair: str) -> tuple[str, int] | None:
        """The pair's open alert, if it has one with a card: (channel, the card's outbox
        id) — a request asked for now belongs in its thread."""
        state, card = await self._states.load(pair)
        if not self._channel or card is None or state.incident is None:
            return None
        return self._channel, card

    async def announce(self, pair: str, announced: Announced) -> None:
        """habot's own operation produced this shape and said so on its card."""
        await self._states.announce(pair, announced)

    async def _queue(
        self,
        status: PairStatus,
        notice: Notice,
        card: int | None,
        now: Any,
        announced: Announced | None = None,
    ) -> int | None:
        assert self._channel is not None
        lane, channel = status.pair, self._channel
        if notice.kind is Kind.REMIND:
            assert announced is not None
            message = message_payload(reminder_message(status, notice.incident, announced))
            await self._outbox.enqueue(lane, MessageKind.POST, channel, message, now)
            return card
        if notice.kind is Kind.NUDGE:
            if card is not None:
                nudge = reply_to(card, nudge_text(notice.incident, self._mention, now))
                await self._outbox.enqueue(lane, MessageKind.REPLY, channel, nudge, now)
            return card
        resolved = notice.kind is Kind.RESOLVE
        shown = await self._card(status, notice.incident, resolved)
        if notice.kind is Kind.RAISE:
            return await self._outbox.enqueue(lane, MessageKind.POST, channel, shown, now)
        if card is None:
            return None
        await self._outbox.enqueue(lane, MessageKind.UPDATE, channel, update_of(card, shown), now)
        if not resolved:
            return card
        if not notice.quiet:
            words = say(
                f"{status.pair} recovered — {resolved_after(notice.incident)}.", tone=Tone.DONE
            )
            await self._outbox.enqueue(
                lane, MessageKind.REPLY, channel, reply_to(card, mrkdwn(words)), now
            )
        return None
