"""Mutating operations: request → preflight → approve → execute → verify → notify.

Exactly once: every state change is a compare-and-set in the store, so double clicks,
retries and other replicas lose the race and are told so. An execution interrupted by a
crash is marked ``unknown`` at the next start and never re-run.

One module per stage, over shared parts (``stage.py``):

- ``asking.py``       an operator's request → preflight, cooldown, one per pair, its card
- ``deciding.py``     approve / reject / cancel from the card; resolve an unknown outcome
- ``executing.py``    the approved run: re-check, send, confirm while owned, verify, finish
- ``breaking.py``     break-glass: a failover nobody answered, run alone and reviewed after
- ``housekeeping.py`` expiry, interrupted runs, the list of open requests

:class:`OperationService` is the one door the front ends (Slack, the scheduler) use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import timedelta
from typing import Any

from habot.config import Settings
from habot.core.alerts import Announced
from habot.core.answers import IncidentAnswer
from habot.core.approvals import RequestAction, closing_problem
from habot.core.asks import OperationRequest
from habot.core.blocks import Form
from habot.core.cards import Where
from habot.core.incident import Selection, as_markdown
from habot.core.replies import Code, Reply, say
from habot.services.background import Background
from habot.services.evidence import incident_timeline, operations_of
from habot.services.freezes import FreezeService
from habot.services.leader import replica_id
from habot.services.operations.asking import Asking
from habot.services.operations.breaking import Breaking
from habot.services.operations.deciding import Deciding
from habot.services.operations.executing import Execution
from habot.services.operations.housekeeping import Housekeeping
from habot.services.operations.stage import (
    DURABLE_FOR,
    PROGRESS_EVERY,
    Notifier,
    Parts,
    approval_policy,
)
from habot.services.outage import Outage
from habot.services.paging import Paging
from habot.services.ports import (
    ApproverCodes,
    Approvers,
    AuditLog,
    Caller,
    Clock,
    CommandRunner,
    OnCallLookup,
    ReadingLog,
    Requests,
    Telemetry,
)
from habot.services.status import StatusService

__all__ = [
    "DURABLE_FOR",
    "PROGRESS_EVERY",
    "Notifier",
    "OperationService",
    "approval_policy",
    "operations_of",
]


class OperationService:
    """Carries mutating operations through four-eyes approval to a verified result."""

    def __init__(
        self,
        *,
        settings: Settings,
        status: StatusService,
        runner: CommandRunner,
        requests: Requests,
        audit: AuditLog,
        notifier: Notifier,
        clock: Clock,
        on_change: Callable[[], None] | None = None,
        replica: str | None = None,
        alive: Callable[[str], Awaitable[bool]] | None = None,
        announce: Callable[[str, Announced], Awaitable[None]] | None = None,
        alert_of: Callable[[str], Awaitable[tuple[str, int] | None]] | None = None,
        on_busy: Callable[[], None] | None = None,
        background: Background | None = None,
        approvers: Approvers | None = None,
        readings: ReadingLog | None = None,
        outage: Outage | None = None,
        paging: Paging | None = None,
        telemetry: Telemetry | None = None,
        oncall: OnCallLookup | None = None,
        codes: ApproverCodes | None = None,
        freezes: FreezeService | None = None,
    ) -> None:
        self._background = background or Background()
        self._settings = settings
        self._requests = requests
        self._audit = audit
        self._notifier = notifier
        parts = Parts(
            settings=settings,
            status=status,
            runner=runner,
            requests=requests,
            audit=audit,
            notify=notifier,
            clock=clock,
            policy=approval_policy(settings),
            replica=replica or replica_id(),  # unique per process unless given
            background=self._background,
            on_change=on_change,
            alive=alive,
            announce=announce,
            alert_of=alert_of,
            on_busy=on_busy,
            approvers=approvers,
            readings=readings,
            outage=outage,
            paging=paging,
            telemetry=telemetry,
            oncall=oncall,
            codes=codes,
            freezes=freezes,
        )
        execution = Execution(parts)
        self._asking = Asking(parts, execution)
        self._deciding = Deciding(parts, execution)
        self._breaking = Breaking(parts, execution)
        self._housekeeping = Housekeeping(parts, execution, self._breaking)

    async def request(self, caller: Caller, ask: OperationRequest) -> Reply:
        """Check an operator's request against fresh status and post its approval card."""
        return await self._asking.request(caller, ask)

    async def click(
        self, action: RequestAction, caller: Caller, request_id: str, block_id: str, where: Where
    ) -> Reply | Form:
        """A button on an approval card (honoured only from that card); a step-up
        Approve gives the form for the pair's name."""
        return await self._deciding.click(action, caller, request_id, block_id, where)

    async def approve(
        self, caller: Caller, request_id: str, typed: str | None = None, code: str | None = None
    ) -> Reply:
        """An approval: counted once; the last needed one starts the run, once (a step-up
        operation's only with its pair's name ``typed``, and its approver's ``code``)."""
        return await self._deciding.approve(caller, request_id, typed, code)

    async def reject(self, caller: Caller, request_id: str, reason: str | None = None) -> Reply:
        """An approver rejects a pending request (saying why)."""
        return await self._deciding.reject(caller, request_id, reason)

    async def cancel(self, caller: Caller, request_id: str, reason: str | None = None) -> Reply:
        """The requester (or an approver) cancels a pending request (saying why)."""
        return await self._deciding.cancel(caller, request_id, reason)

    async def closing_form(
        self, caller: Caller, request_id: str, action: RequestAction
    ) -> Reply | Form:
        """Reject or Cancel on a card: the form for why, or why not."""
        return await self._deciding.closing_form(caller, request_id, action)

    async def resolve(self, caller: Caller, request_id: str, finding: str) -> Reply:
        """An approver closes a request whose outcome was unknown, saying what they found."""
        return await self._deciding.resolve(caller, request_id, finding)

    async def incident(
        self, request_id: str, name_of: Callable[[str], Awaitable[str | None]] | None = None
    ) -> IncidentAnswer | Reply:
        """A request's timeline from the audit chain: its events, and its pair's while it
        was open, as the Markdown `habot audit verify --timeline` checks — for its card's
        thread."""
        request = await self._requests.get(request_id)
        if request is None:
            return say("There is no request ", Code(request_id), ".")
        selection = Selection(request.pair, request=request.id)
        made = await incident_timeline(self._audit, self._requests, selection, name_of)
        _, card = await self._requests.card(request.id)
        thread = await self._notifier.posted(card) if card is not None else None
        return IncidentAnswer(request.id, request.pair, as_markdown(made), len(made.lines),
                              thread)  # fmt: skip

    async def note(self, caller: Caller, request_id: str, words: str) -> Reply:
        """A person pins what they saw to a request's timeline (audited; said in its
        card's thread, and in its alert's)."""
        return await self._deciding.note(caller, request_id, words)

    async def resolve_form(self, caller: Caller, request_id: str) -> Reply | Form:
        """The Resolve button on an unknown outcome's card: the form, or why not."""
        return await self._deciding.resolve_form(caller, request_id)

    async def click_refusal(
        self, caller: Caller, request_id: str, block_id: str, where: Where, action: str
    ) -> Reply | None:
        """Why a click on one of a request's buttons is not from its card (audited)."""
        return await self._deciding.click_refusal(caller, request_id, block_id, where, action)

    def closing_problem(self, reason: str | None) -> str | None:
        """Why a rejection or cancellation needs a reason it lacks ([approval]
        reject_reason), or None."""
        return closing_problem(self._settings.approval.reject_reason, reason)

    async def glass_form(self, caller: Caller, request_id: str) -> Reply | Form:
        """The Break glass button: the form for the reason, or why not."""
        return await self._breaking.form(caller, request_id)

    async def break_glass(self, caller: Caller, request_id: str, reason: str) -> Reply:
        """The requester runs a failover nobody answered alone, if the rules allow it."""
        return await self._breaking.break_glass(caller, request_id, reason)

    async def review(self, caller: Caller, request_id: str, note: str) -> Reply:
        """An approver who did not break the glass reviews a break-glass run."""
        return await self._breaking.review(caller, request_id, note)

    async def expire(self) -> int:
        """Close pending requests past their deadline; how many."""
        return await self._housekeeping.expire()

    async def recover(self) -> int:
        """Runs cut short by a crash (or a dead replica) become unknown; how many."""
        return await self._housekeeping.recover()

    async def housekeeping(self) -> None:
        """The scheduled sweep: expire stale requests, close interrupted runs."""
        await self._housekeeping.sweep()

    async def pending(self) -> Reply:
        """Open requests, for `/ha pending`."""
        return await self._housekeeping.pending()

    async def operations_of(self, request_ids: Iterable[str]) -> dict[str, str]:
        """Each request's operation, by id (see :func:`operations_of`)."""
        return await operations_of(self._requests, request_ids)

    async def drain(self, limit: timedelta = timedelta(minutes=15)) -> None:
        """Wait for running executions (tests, graceful shutdown)."""
        await self._background.drain(limit)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run background work tracked by :meth:`drain`."""
        self._background.spawn(work, name="operation")
