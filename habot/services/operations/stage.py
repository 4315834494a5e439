"""What every stage of an operation shares: its collaborators, the audit, the card, and
writes that must not be lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from habot.config import Settings
from habot.core.alert_cards import ended_under_alert
from habot.core.alerts import Announced
from habot.core.approvals import ApprovalPolicy, Request, RequestState
from habot.core.audit import AuditEvent
from habot.core.blocks import Message
from habot.core.cards import approval_card, approver_note
from habot.core.change import ChangeControl, ChangeRule
from habot.core.durations import format_duration
from habot.core.escalation import Escalation, asked_line
from habot.core.oncall import FirstLevel, first_level
from habot.core.operations import Operation, OperationPlan
from habot.core.outbox import Fate
from habot.core.paging import approval_done, approval_wanted, urgent
from habot.core.replies import Part, Person, Reply, say
from habot.core.schedule import Timing
from habot.core.stepup import Confirm, StepUp
from habot.errors import TRANSIENT_STORE_ERRORS, StoreBusy
from habot.services.background import Background
from habot.services.freezes import FreezeService
from habot.services.outage import Outage
from habot.services.paging import Paging
from habot.services.ports import (
    ApproverCodes,
    Approvers,
    AuditLog,
    Clock,
    CommandRunner,
    OnCallLookup,
    ReadingLog,
    Requests,
    Telemetry,
)
from habot.services.status import StatusService

log = logging.getLogger(__name__)
PROGRESS_EVERY = 3.0  # seconds between progress posts in the card's thread
DURABLE_FOR = 60.0  # seconds of quick retries of a must-not-be-lost write; then slower
_T = TypeVar("_T")
#: Approvers told of one request by direct message, at most (a 300-person group is better
#: served by ``[slack] approvers_mention`` on the card).
MAX_DIRECT = 25


class Notifier(Protocol):
    """Where operation messages go. Cards are named by the handle ``post_card`` returns;
    in production every message but a secret goes through the outbox, so a Slack outage
    delays them and loses none."""

    async def post_card(self, pair: str, channel: str, message: Message) -> int:
        """Post a card in the channel; return its handle."""
        ...

    async def update_card(
        self, pair: str, channel: str, card: int, message: Message, version: int
    ) -> None:
        """Replace a card in place with ``message``, which shows its request at
        ``version``; an update older than one the card already got is dropped."""
        ...

    async def thread(self, pair: str, channel: str, card: int, words: Reply) -> None:
        """Add a reply in the card's thread."""
        ...

    async def tell(self, pair: str, channel: str, user: str, words: Reply) -> None:
        """Tell one person something only they see."""
        ...

    async def tell_secret(self, channel: str, user: str, words: Reply) -> None:
        """Tell one person a secret: sent at once and never stored anywhere."""
        ...

    async def direct(self, user: str, words: Reply) -> None:
        """A direct message to one person (their DM with habot)."""
        ...

    async def link(self, card: int) -> str | None:
        """A link to the card once Slack has it, else None."""
        ...

    async def posted(self, card: int) -> tuple[str, str] | None:
        """The card's channel and ts once Slack has it (a file can go in its thread)."""
        ...

    async def settle(self, card: int) -> Fate:
        """Wait briefly for the card's delivery: sent, set aside, or still queued."""
        ...


def _mentions(entries: tuple[str, ...]) -> tuple[Part, ...]:
    parts: list[Part] = []
    for n, entry in enumerate(entries):
        parts += [", "] if n else []
        parts.append(Person(entry))
    return tuple(parts)


def approval_policy(settings: Settings) -> ApprovalPolicy:
    """The configured approval policy."""
    a = settings.approval
    return ApprovalPolicy(
        ttl=a.ttl,
        required=a.required,
        per_operation={
            Operation(k): v.required for k, v in a.operations.items() if v.required is not None
        },
    )


def timing(settings: Settings) -> Timing:
    """When operations asked for later may be, run and are reminded of ([approval])."""
    a = settings.approval
    return Timing(a.schedule_within, a.run_window, a.remind_before)


def step_up(settings: Settings) -> StepUp:
    """How each operation's approval is confirmed (configured, else the default)."""
    operations = settings.approval.operations
    return StepUp(
        {Operation(name): Confirm(v.confirm) for name, v in operations.items() if v.confirm},
        frozenset(Operation(name) for name, v in operations.items() if v.totp),
    )


def change_control(settings: Settings) -> ChangeControl:
    """The configured change control: each operation's reason and ticket rule."""
    a = settings.approval
    default = ChangeRule(a.reason == "required", a.ticket_pattern)
    return ChangeControl(default, {
        Operation(name): ChangeRule(
            (v.reason or a.reason) == "required",
            v.ticket_pattern if v.ticket_pattern is not None else a.ticket_pattern,
        )
        for name, v in a.operations.items()
    })  # fmt: skip


@dataclass(frozen=True)
class Parts:
    """An operation service's collaborators, shared by its stages."""

    settings: Settings
    status: StatusService
    runner: CommandRunner
    requests: Requests
    audit: AuditLog
    notify: Notifier
    clock: Clock
    policy: ApprovalPolicy
    replica: str
    background: Background
    on_change: Callable[[], None] | None = None
    alive: Callable[[str], Awaitable[bool]] | None = None
    announce: Callable[[str, Announced], Awaitable[None]] | None = None
    #: The pair's open alert, (channel, card), whose thread a request asked now joins.
    alert_of: Callable[[str], Awaitable[tuple[str, int] | None]] | None = None
    on_busy: Callable[[], None] | None = None
    approvers: Approvers | None = None  # who to tell of a new request (Slack's groups)
    readings: ReadingLog | None = None  # an outcome's reading joins the scheduled ones
    outage: Outage | None = None  # a database outage, said once however many writes wait
    paging: Paging | None = None  # pages to the approvers' on-call ([paging])
    telemetry: Telemetry | None = None  # how many break-glass reviews are owed
    oncall: OnCallLookup | None = None  # level 1 is who is on call ([paging] oncall_schedules)
    codes: ApproverCodes | None = None  # approvers' authenticators (step-up with totp)
    freezes: FreezeService | None = None  # change freezes hold planned operations


class Stage:
    """The helpers every stage uses, over the shared :class:`Parts`."""

    def __init__(self, parts: Parts) -> None:
        self._settings = parts.settings
        self._status = parts.status
        self._runner = parts.runner
        self._requests = parts.requests
        self._audit = parts.audit
        self._notify = parts.notify
        self._clock = parts.clock
        self._policy = parts.policy
        self._replica = parts.replica
        self._background = parts.background
        self._on_change = parts.on_change
        self._alive = parts.alive
        self._announce = parts.announce
        self._alert_of = parts.alert_of
        self._on_busy = parts.on_busy
        self._approvers = parts.approvers
        self._readings = parts.readings
        self._outage = parts.outage or Outage()
        self._paging = parts.paging
        self._telemetry = parts.telemetry
        self._oncall = parts.oncall
        self._codes = parts.codes
        self._freezes = parts.freezes
        approval = parts.settings.approval
        self._escalation = Escalation(approval.escalation, approval.escalate_after)
        self._change = change_control(parts.settings)
        self._step_up = step_up(parts.settings)
        self._timing = timing(parts.settings)

    async def _durably(self, write: Callable[[], Awaitable[_T]]) -> _T:
        """A write (or the read it needs) that must not be lost — an outcome, its audit, its
        card. A busy database, or one that is unreachable or cannot write (a restart, a
        managed fail-over, a full disk), is retried with back-off for as long as this
        process lives, the outcome kept in memory meanwhile: quickly for DURABLE_FOR, then
        every few seconds. Busy retries are counted (``on_busy``); an outage is logged once."""
        started, delay, warned, failed = time.monotonic(), 0.2, False, False
        while True:
            try:
                result = await write()
            except TRANSIENT_STORE_ERRORS as exc:
                failed = True
                if isinstance(exc, StoreBusy):
                    if self._on_busy is not None:
                        self._on_busy()
                else:
                    self._outage.failed(exc, "recording an operation")
                if not warned and time.monotonic() - started > DURABLE_FOR:
                    log.error("an operation's record is still waiting for the database; kept")
                    warned = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if failed:
                self._outage.worked()
            return result

    async def _card_channel(self, request: Request) -> tuple[str | None, int | None]:
        return await self._requests.card(request.id)

    async def _refresh_card(
        self, request: Request, note: Reply | None = None, outcome: str | None = None
    ) -> None:
        channel, card = await self._card_channel(request)
        if channel is None or card is None:
            return
        # Always what the database holds now, with its version: a slower writer's card
        # (an approval that lost to a cancel) is then older and dropped, never shown.
        current = await self._requests.get(request.id) or request
        plan = await self._requests.plan(request.id)
        message = self._card(current, plan, note, outcome)
        await self._notify.update_card(current.pair, channel, card, message, current.version)

    def _card(
        self,
        request: Request,
        plan: OperationPlan,
        note: Reply | None = None,
        outcome: str | None = None,
    ) -> Message:
        """The request's card as it stands: who is named and asked, how approving it is
        confirmed."""
        return approval_card(
            request, plan, note, outcome,
            approvers=self._settings.slack.approvers_mention,
            asked=asked_line(self._escalation, request.asked, request.first),
            confirm=self._step_up.confirm(request.operation),
            code=self._step_up.needs_code(request.operation),
            now=self._clock(), command=self._settings.slack.command,
        )  # fmt: skip

    # -- who is asked: escalation levels, DMs, the approvers' pages -------------------------

    async def _ask(self, request: Request, level: int, now: datetime) -> Request | None:
        """Ask one escalation level (0: the first) about a pending request: recorded once
        across replicas (audited with it), then its members are told by direct message —
        and, asked past the first, in the card's thread and by a page. None when another
        sweep asked it first or the request stopped waiting."""
        entries, first = self._escalation.levels[level], None
        if level == 0 and self._oncall is not None:
            first = await self._on_call_now(entries)
            entries = first.entries
        detail: dict[str, Any] = {"request": request.id, "level": level + 1, "asked": list(entries)}
        if first is not None:
            detail["on_call"] = first.fallback or "looked up"
        said = self._event("escalated", "habot", request.pair, f"level {level + 1}", detail)
        if not await self._requests.escalate(request.id, request.asked, now, said, first):
            return None
        asked = replace(request, asked=(*request.asked, now), first=first or request.first)
        channel, card = await self._card_channel(request)
        plan = await self._requests.plan(request.id)
        link = await self._notify.link(card) if card is not None else None
        await self._tell(asked, await self._members(entries), plan, channel, link)
        if level and channel and card is not None:
            words = say(f"Nobody has decided in {format_duration(self._escalation.after)}: "
                        f"asking level {level + 1} (", *_mentions(entries), ").")  # fmt: skip
            await self._notify.thread(request.pair, channel, card, words)
        if level == 1 and not self._pages_at_once(asked):
            await self._page_approvers(asked, plan, card)
        self._changed()
        await self._refresh_card(asked)
        return asked

    async def _on_call_now(self, configured: tuple[str, ...]) -> FirstLevel:
        """Level 1 as PagerDuty has it now: the on-call approvers — or the configured
        level, saying why."""
        assert self._oncall is not None
        approvers = await self._approvers.who_can_approve() if self._approvers else None
        return first_level(configured, await self._oncall.now(), approvers)

    async def _everyone_approving(self) -> frozenset[str]:
        """Everyone who can approve, and every member of an escalation level: who is told
        when something needs an approver whoever is on call (a break-glass, an unknown
        outcome)."""
        everyone = await self._approvers.who_can_approve() if self._approvers else None
        levels = await self._members(tuple(e for lvl in self._escalation.levels for e in lvl))
        return (everyone or frozenset()) | levels

    async def _members(self, entries: tuple[str, ...]) -> frozenset[str]:
        if self._approvers is None:
            return frozenset(e for e in entries if not e.startswith("S"))
        return await self._approvers.members(entries)

    async def _tell(
        self,
        request: Request,
        users: frozenset[str],
        plan: OperationPlan,
        channel: str | None,
        link: str | None,
    ) -> None:
        """A direct message to each of ``users`` who can still act (not the requester,
        nobody who approved already), at most MAX_DIRECT of them."""
        who = sorted(users - {request.requester} - set(request.approvals))
        if len(who) > MAX_DIRECT:
            log.warning("%d approvers can act on request %s: told the first %d by direct "
                        "message", len(who), request.id, MAX_DIRECT)  # fmt: skip
        if channel is None:
            return
        note = approver_note(request, plan, channel, link)
        for user in who[:MAX_DIRECT]:
            await self._notify.direct(user, note)

    def _pages_at_once(self, request: Request) -> bool:
        """Whether the request paged the approvers when it opened."""
        return self._paging is not None and self._settings.paging.page_approvers and urgent(request)

    def _paged(self, request: Request) -> bool:
        """Whether the approvers were paged about the request (at once, or when it was
        escalated past its first level)."""
        return self._pages_at_once(request) or (
            self._paging is not None and len(request.asked) >= 2
        )

    async def _page_approvers(
        self, request: Request, plan: OperationPlan, card: int | None
    ) -> None:
        if self._paging is not None:
            page = approval_wanted(request, plan, card)
            await self._paging.send(self._settings.paging.pagers, page, approvers=True)

    async def _tell_alert(self, request: Request, words: Reply) -> None:
        """Say ``words`` in the thread of the alert the request was asked under, if any:
        the incident's story stays in one place."""
        if request.alert is not None:
            channel, card = request.alert
            await self._durably(lambda: self._notify.thread(request.pair, channel, card, words))

    async def _ended(self, request: Request, state: RequestState, how: Reply) -> None:
        """A request ended (ran, closed, expired, aborted, resolved): its alert's thread,
        if it was asked under one, says how, with a link to its card."""
        if request.alert is None:
            return
        _, card = await self._durably(lambda: self._card_channel(request))
        link = await self._notify.link(card) if card is not None else None
        await self._tell_alert(request, ended_under_alert(request, state, how, link))

    async def _unpage(self, request: Request) -> None:
        """The request stopped waiting for the approvers: resolve its page, if it paged."""
        if self._paging is not None and self._paged(request):
            pagers = self._settings.paging.pagers
            await self._paging.resolve(pagers, approval_done(request), approvers=True)

    async def _record(
        self,
        kind: str,
        actor: str,
        pair: str | None,
        outcome: str,
        detail: dict[str, Any],
        node: str | None = None,
        output_digest: str | None = None,
    ) -> None:
        """Audit something that is not a change of the request itself (those are written
        with the change, in its transaction)."""
        event = self._event(kind, actor, pair, outcome, detail, node, output_digest)
        await self._durably(lambda: self._audit.append(event))
        self._changed()

    def _event(
        self,
        kind: str,
        actor: str,
        pair: str | None,
        outcome: str,
        detail: dict[str, Any],
        node: str | None = None,
        output_digest: str | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            kind=kind,
            actor=actor,
            outcome=outcome,
            at=self._clock(),
            pair=pair,
            node=node,
            output_digest=output_digest,
            detail=detail,
        )

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()  # every recorded change can change someone's Home

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run background work tracked by :meth:`drain`."""
        self._background.spawn(work, name="operation")
