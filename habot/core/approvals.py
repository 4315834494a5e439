"""Four-eyes rules: who may approve, reject or cancel a request, and when it is ready.

Pure: the request as it is stored, the clicking user and their roles, and the time come in;
a decision comes out. Counting happens in the store under a compare-and-set, so these
functions only decide whether a click may count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from habot.core.model import Check, Role
from habot.core.oncall import FirstLevel
from habot.core.operations import Operation
from habot.core.outcomes import Topology
from habot.core.replies import Code, Part, Person, Reply, Strong, When, joined, plain, plural, say
from habot.core.roles import Access


class RequestState(StrEnum):
    """Where a request is in its life."""

    PENDING = "pending"
    SCHEDULED = "scheduled"  # approved; runs at its time (``run_at``), re-checked then
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNVERIFIED = "unverified"
    ABORTED = "aborted"
    UNKNOWN = "unknown"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RESOLVED = "resolved"  # was unknown; a person checked the pair and said what they found


#: States that hold the pair: one open request per pair. An ``unknown`` outcome keeps the
#: pair closed to new operations until a person resolves it (`/ha resolve ID "…"`); a
#: scheduled one holds it for planned operations (an emergency failover aborts it).
OPEN = frozenset({
    RequestState.PENDING, RequestState.SCHEDULED, RequestState.EXECUTING, RequestState.UNKNOWN
})  # fmt: skip
#: States a request waits in: for its approvals, or (approved) for its time.
WAITING = frozenset({RequestState.PENDING, RequestState.SCHEDULED})
#: States its requester or an approver may still cancel: any in which it waits.
CANCELLABLE = WAITING


@dataclass(frozen=True)
class ApprovalPolicy:
    """How many approvals each operation needs, and how long a request stays open."""

    ttl: timedelta = timedelta(minutes=15)
    required: int = 1
    per_operation: Mapping[Operation, int] = field(default_factory=dict)

    def required_for(self, operation: Operation) -> int:
        """Approvals needed for ``operation`` (0 = operators may run it directly)."""
        return self.per_operation.get(operation, self.required)


@dataclass(frozen=True)
class Glass:
    """A break-glass on a request: its requester ran it alone, saying why — and the review
    a second person owes it afterwards."""

    by: str
    at: datetime
    reason: str
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review: str | None = None
    #: When the card's thread was last reminded that the review is owed.
    reminded_at: datetime | None = None

    @property
    def owed(self) -> bool:
        """Whether its review is still owed."""
        return self.reviewed_by is None


@dataclass(frozen=True)
class Request:
    """A request for an operation, as stored."""

    id: str
    operation: Operation
    pair: str
    node: Role
    requester: str
    created_at: datetime
    expires_at: datetime
    required: int
    snapshot: Topology
    state: RequestState = RequestState.PENDING
    approvals: tuple[str, ...] = ()
    override: str | None = None
    #: How many times it has changed (each state move, each approval): a card showing an
    #: older version than one already queued for it is stale.
    version: int = 0
    #: When each level of [approval] escalation was asked (level 1 first).
    asked: tuple[datetime, ...] = ()
    #: When its card first offered the Break glass button ([approval] break_glass_after).
    offered: datetime | None = None
    glass: Glass | None = None
    #: Who level 1 asked, when it was whoever PagerDuty had on call ([paging]
    #: oncall_schedules); None: the configured level 1.
    first: FirstLevel | None = None
    #: Why it was asked, and its change ticket ([approval] reason, ticket_pattern).
    reason: str | None = None
    ticket: str | None = None
    #: What habot checked before opening it (shown on the card, compared before the run).
    checks: tuple[Check, ...] = ()
    #: When it runs, for an operation asked for later (`/ha switchover prod at sat 02:00`);
    #: None: as soon as it is approved. Its deadline is then that time + [approval] run_window.
    run_at: datetime | None = None
    #: When its card's thread was reminded that it runs soon ([approval] remind_before).
    run_reminded: datetime | None = None
    #: The pair's alert when it was asked — (channel, the alert card's outbox id): that
    #: alert's thread is told it was asked and how it ended.
    alert: tuple[str, int] | None = None

    @property
    def missing(self) -> int:
        """Approvals still needed."""
        return max(self.required - len(self.approvals), 0)

    @property
    def tally(self) -> str:
        """ "1/2 approvals": how far its approvals have come (the one way it is written)."""
        return f"{len(self.approvals)}/{self.required} approvals"


class Ruling(StrEnum):
    """What a click amounts to."""

    REFUSED = "refused"
    COUNTED = "counted"
    READY = "ready"


@dataclass(frozen=True)
class Decision:
    """The result of judging a click, with the words to show the clicker."""

    ruling: Ruling
    words: tuple[Part, ...]

    @property
    def message(self) -> str:
        """The words as plain text (for the audit log)."""
        return plain(self.words)


def _decision(ruling: Ruling, *words: Part) -> Decision:
    return Decision(ruling, words)


def _closed(request: Request, now: datetime) -> tuple[Part, ...]:
    """Why a request can no longer be decided (nothing when it still can)."""
    if request.state is RequestState.EXECUTING:
        return (f"Request {request.id} is already running.",)
    if request.state is RequestState.SCHEDULED and request.run_at is not None:
        return (
            f"Request {request.id} is approved and runs ", When(request.run_at),
            "; nothing to do (its requester or an approver may still cancel it).",
        )  # fmt: skip
    if request.state is not RequestState.PENDING:
        return (f"Request {request.id} is already {request.state.value}; nothing to do.",)
    if now >= request.expires_at:
        return (
            f"Request {request.id} expired ", When(request.expires_at),
            ". Ask for it again if it is still needed.",
        )  # fmt: skip
    return ()


def judge_approval(
    request: Request, user: str, roles: frozenset[Access], now: datetime
) -> Decision:
    """Whether ``user`` may approve now, and whether that makes the request ready."""
    if reason := _closed(request, now):
        return _decision(Ruling.REFUSED, *reason)
    if user == request.requester:
        return _decision(
            Ruling.REFUSED,
            "You asked for this operation; a second person with the approver role must approve it.",
        )
    if Access.APPROVER not in roles:
        return _decision(Ruling.REFUSED, "Approving needs the ", Strong("approver"), " role.")
    if user in request.approvals:
        return _decision(
            Ruling.REFUSED,
            f"You already approved; {plural(request.missing, 'more approval')} needed from "
            "other approvers.",
        )
    if len(request.approvals) + 1 >= request.required:
        if request.run_at is not None and now < request.run_at:
            return _decision(Ruling.READY, "Approved: it runs ", When(request.run_at), ".")
        return _decision(Ruling.READY, "Approved: running it now.")
    left = request.required - len(request.approvals) - 1
    return _decision(Ruling.COUNTED, f"Approval counted; {left} more needed.")


def judge_rejection(
    request: Request, user: str, roles: frozenset[Access], now: datetime
) -> Decision:
    """Approvers may reject a pending request (the requester cancels instead)."""
    if reason := _closed(request, now):
        return _decision(Ruling.REFUSED, *reason)
    if Access.APPROVER not in roles:
        return _decision(Ruling.REFUSED, "Rejecting needs the ", Strong("approver"), " role.")
    return _decision(Ruling.READY, f"Request {request.id} rejected.")


def judge_cancel(request: Request, user: str, roles: frozenset[Access], now: datetime) -> Decision:
    """The requester or any approver may cancel a request that has not started: pending,
    or approved and scheduled for later."""
    if request.state not in CANCELLABLE:
        return _decision(Ruling.REFUSED, *_closed(request, now))
    if user != request.requester and Access.APPROVER not in roles:
        return _decision(
            Ruling.REFUSED,
            "Only the requester (",
            Person(request.requester),
            f") or an approver can cancel request {request.id}; ask one of them.",
        )
    return _decision(Ruling.READY, f"Request {request.id} cancelled.")


class RequestAction(StrEnum):
    """What someone may try to do to a request — from a typed command, a button or Home."""

    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"


_JUDGES = {
    RequestAction.APPROVE: judge_approval,
    RequestAction.REJECT: judge_rejection,
    RequestAction.CANCEL: judge_cancel,
}


def judge(
    action: RequestAction, request: Request, user: str, roles: frozenset[Access], now: datetime
) -> Decision:
    """The one rule for who may do what to a request: allowed, or the reason it is not."""
    return _JUDGES[action](request, user, roles, now)


def actions_for(
    request: Request, user: str, roles: frozenset[Access], now: datetime
) -> tuple[RequestAction, ...]:
    """The actions ``user`` may take on ``request`` now (what App Home offers them)."""
    return tuple(
        a for a in RequestAction if judge(a, request, user, roles, now).ruling is not Ruling.REFUSED
    )


def closing_problem(rule: str, reason: str | None) -> str | None:
    """Why a rejection or cancellation may not close the request yet (``[approval]
    reject_reason`` is "required" and no reason was given), or None."""
    if rule == "required" and not reason:
        return ("Say why: a reason is required to reject or cancel a request here (it is told "
                "to the requester and kept in the audit).")  # fmt: skip
    return None


def cooldown_refusal(
    last_change: datetime | None, cooldown: timedelta, now: datetime, override: str | None
) -> tuple[Part, ...] | None:
    """Refuse inside the cooldown after a role change, unless a typed reason overrides it."""
    if last_change is None or now >= last_change + cooldown or override:
        return None
    until = last_change + cooldown
    return (
        "The pair changed roles ",
        When(last_change),
        "; new operations wait until ",
        When(until),
        ". If it cannot wait, ask again with ",
        Code('--override "reason"'),
        " (the reason is audited and shown on the card).",
    )


def open_requests(
    requests: Sequence[Request], command: str = "/ha", owed: Sequence[Request] = ()
) -> Reply:
    """`pending`: each request that holds its pair on a line — waiting, running, or of
    unknown outcome (with how to close it) — or that there are none; then each break-glass
    whose review is owed."""
    lines = [_open_line(r, command) for r in requests] or [("No open requests.",)]
    if owed:
        lines.append(("Break-glass reviews owed:",))
        lines += [("• ", *owed_parts(r, command)) for r in owed]
    return say(*joined(lines, "\n"))


def owed_parts(request: Request, command: str) -> tuple[Part, ...]:
    """A break-glass whose review is owed: which, by whom, when, and how to review it."""
    glass = request.glass
    assert glass is not None
    return (
        Code(request.id), f" {request.operation.value} on {request.pair} by ", Person(glass.by),
        " ", When(glass.at), " — an approver other than ", Person(glass.by), ": ",
        Code(f'{command} review {request.id} "what you checked"'),
    )  # fmt: skip


def _open_line(r: Request, command: str) -> tuple[Part, ...]:
    if r.state is RequestState.UNKNOWN:
        return (
            Code(r.id), f" {r.operation.value} {r.pair} ({r.node}) — outcome unknown, asked by ",
            Person(r.requester), f"; {r.pair} is closed until an approver checks it and runs ",
            Code(f'{command} resolve {r.id} "what you found"'),
        )  # fmt: skip
    when: tuple[Part, ...] = ()
    if r.run_at is not None:
        when = (", runs ", When(r.run_at)) if r.state is RequestState.SCHEDULED else (
            ", to run ", When(r.run_at), " once approved",
        )  # fmt: skip
    return (
        Code(r.id), f" {r.operation.value} {r.pair} ({r.node}) — {r.state.value}", *when,
        ", asked by ", Person(r.requester), f", {r.tally}",
    )  # fmt: skip
