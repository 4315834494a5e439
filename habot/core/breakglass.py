"""Break-glass: when nobody answers, the requester of a failover on a Primary that is really
down may run it alone — narrowly, loudly, and owing a review (pure rules).

Narrow: only ``failover``; only once the request has waited ``[approval]
break_glass_after`` with every escalation level asked and nobody rejecting it; only by its
requester, with a reason; only on a fresh reading whose verdict is Primary down *and* whose
Secondary's own report says the Primary is failed or lost (never habot's broken path to a
Primary that may still serve); and never while another break-glass awaits its review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from habot.core.approvals import Glass, Request, RequestState
from habot.core.blocks import VERDICT_WORDS, node_state_words
from habot.core.escalation import Escalation
from habot.core.model import NodeState, Verdict
from habot.core.operations import Operation
from habot.core.replies import Code, Link, Part, Person, Reply, Strong, Tone, When, say
from habot.core.verdict import PairStatus

MIN_REASON = 20
REMIND_EVERY = timedelta(days=1)
#: What the Secondary may say of a Primary that is down: failed, or lost to it too.
_LOST = frozenset({NodeState.FAILED, NodeState.UNREACHABLE})


@dataclass(frozen=True)
class GlassRule:
    """``[approval] break_glass_after`` (None: off) and the escalation it waits for."""

    after: timedelta | None
    escalation: Escalation
    command: str = "/ha"

    @property
    def enabled(self) -> bool:
        """Whether break-glass is configured at all."""
        return self.after is not None

    def opens_at(self, request: Request) -> datetime | None:
        """When the requester may break the glass on ``request`` if nobody has decided:
        ``break_glass_after`` after it opened, and not before every level was asked. None
        when never (off, another operation) or not known yet (levels still to ask)."""
        if self.after is None or request.operation is not Operation.FAILOVER:
            return None
        if not self.escalation.all_asked(request.asked):
            return None
        last_asked = request.asked[-1] if request.asked else request.created_at
        return max(request.created_at + self.after, last_asked)

    def offer_due(self, request: Request, now: datetime) -> bool:
        """Whether the card should start offering the Break glass button now."""
        at = self.opens_at(request)
        return (
            request.state is RequestState.PENDING
            and request.offered is None
            and at is not None
            and at <= now < request.expires_at
        )

    def refusal(
        self, request: Request, user: str, now: datetime, unreviewed: Sequence[Request]
    ) -> tuple[Part, ...] | None:
        """Why ``user`` may not break the glass on ``request`` now (None: they may, subject
        to a fresh reading — :func:`reading_refusal`)."""
        for check in (_enabled, _failover_only, _still_pending, _requester_only):
            if why := check(self, request, user, now):
                return why
        if others := [r for r in unreviewed if r.id != request.id]:
            held = others[0]
            return (
                "Break-glass on request ", Code(held.id), f" ({held.pair}) has not been "
                "reviewed yet; until an approver reviews it (",
                Code(f'{self.command} review {held.id} "what I checked"'), "), no other "
                "break-glass is allowed. Ask an approver to approve this request instead.",
            )  # fmt: skip
        return self._not_yet(request, now)

    def _not_yet(self, request: Request, now: datetime) -> tuple[Part, ...] | None:
        if (level := len(request.asked)) < len(self.escalation.levels):
            nxt = self.escalation.next_at(request.asked)
            when: tuple[Part, ...] = (" (", When(nxt), ")") if nxt else ()
            return (
                f"Not every escalation level has been asked yet: level {level + 1} is next",
                *when, ". Break-glass is possible only after everyone could answer.",
            )  # fmt: skip
        at = self.opens_at(request)
        if at is not None and now < at:
            return (
                "Too early: break-glass on ", Code(request.id), " is possible from ", When(at),
                " if nobody has decided by then. Until then, ask an approver to approve it.",
            )  # fmt: skip
        return None


def _enabled(rule: GlassRule, request: Request, user: str, now: datetime) -> tuple[Part, ...]:
    if rule.enabled:
        return ()
    return (
        "Break-glass is not enabled here (", Code("[approval] break_glass_after"), " is not "
        "set). An approver must approve ", Code(request.id), ".",
    )  # fmt: skip


def _failover_only(rule: GlassRule, request: Request, user: str, now: datetime) -> tuple[Part, ...]:
    if request.operation is Operation.FAILOVER:
        return ()
    return (
        "Break-glass is only for ", Code("failover"), " on a Primary that is down; request ",
        Code(request.id), " is a ", Code(request.operation.value), ", which always needs an "
        "approver.",
    )  # fmt: skip


def _still_pending(rule: GlassRule, request: Request, user: str, now: datetime) -> tuple[Part, ...]:
    if request.state is RequestState.REJECTED:
        return (
            "Request ", Code(request.id), " was rejected by an approver; break-glass never "
            "overrides a rejection. If things have changed, ask for the failover again.",
        )  # fmt: skip
    if request.state is not RequestState.PENDING:
        return (
            "Request ", Code(request.id), f" is {request.state.value}, not waiting for "
            "approval; there is nothing to break glass on.",
        )  # fmt: skip
    if now >= request.expires_at:
        return (
            "Request ", Code(request.id), " expired ", When(request.expires_at), ". Ask for "
            "the failover again.",
        )  # fmt: skip
    return ()


def _requester_only(
    rule: GlassRule, request: Request, user: str, now: datetime
) -> tuple[Part, ...]:
    if user == request.requester:
        return ()
    return (
        "Only the requester (", Person(request.requester), ") may break glass on ",
        Code(request.id), ". An approver approves it instead.",
    )  # fmt: skip


def reading_refusal(status: PairStatus) -> tuple[Part, ...] | None:
    """Why a fresh reading does not allow a break-glass failover (None: it does): the
    verdict must be Primary down, with the Secondary's own report saying the Primary is
    failed or lost."""
    verdict = status.verdict
    if verdict is Verdict.PRIMARY_UNREACHABLE:
        return (
            "habot cannot reach the Primary of ", status.pair, ", but the Secondary still "
            "sees it up: that is habot's path, not an outage. Break-glass never fails over "
            "a Primary that may be serving (two Active servers: split brain).",
        )  # fmt: skip
    if verdict is not Verdict.PRIMARY_DOWN:
        return (
            f"{status.pair} is not Primary down right now ({VERDICT_WORDS[verdict]}): "
            "break-glass is only for a Primary that is down. Nothing was run.",
        )
    seen = status.primary.seen_by_peer
    if seen not in _LOST:
        said = f"it says {node_state_words(seen)}" if seen else "its report says nothing of it"
        return (
            f"The Secondary of {status.pair} does not confirm the Primary is down ({said}); "
            "break-glass needs both nodes' words. An approver must approve it.",
        )
    return None


def reason_problem(reason: str) -> str | None:
    """Why a break-glass reason is not enough (None when it is)."""
    if len(reason) < MIN_REASON:
        return (
            f"Say why in at least {MIN_REASON} characters — the incident and what you saw "
            f"(that was {len(reason)})."
        )
    return None


def reminder_due(glass_at: datetime, reminded_at: datetime | None, now: datetime) -> bool:
    """Whether the card's thread is owed another daily reminder of the missing review."""
    return now - (reminded_at or glass_at) >= REMIND_EVERY


# -- what people read ----------------------------------------------------------------------


def _review_command(request: Request, command: str) -> Code:
    return Code(f'{command} review {request.id} "what you checked"')


def announcement(request: Request, glass: Glass, approvers: Sequence[str], command: str) -> Reply:
    """The in-channel post when the glass is broken: who, what, why, and who owes the
    review."""
    named: list[Part] = []
    for n, entry in enumerate(approvers):
        named += [", ", Person(entry)] if n else [Person(entry)]
    owed: tuple[Part, ...] = (*named, ": a review is owed — ") if named else (
        "An approver owes a review: ",
    )  # fmt: skip
    return say(
        Strong("Break-glass"), ": ", Person(glass.by), " ran ",
        Code(request.operation.value), f" on {request.pair} without a second approver "
        "(request ", Code(request.id), "), saying: ", glass.reason, "\n", *owed,
        _review_command(request, command), ". Until it is reviewed, no other break-glass "
        "is possible.",
        tone=Tone.WARNING, in_channel=True,
    )  # fmt: skip


def approver_dm(request: Request, glass: Glass, link: str | None, command: str) -> Reply:
    """The direct message every approver gets when the glass is broken."""
    card: tuple[Part, ...] = (" (", Link(link, "its card"), ")") if link else ()
    return say(
        Person(glass.by), " broke the glass: ",
        Code(request.operation.value), f" on {request.pair} ran without a second approver "
        "(request ", Code(request.id), ")", *card, ". Reason: ", glass.reason, ". Please "
        "check what was done and review it: ", _review_command(request, command), ".",
        tone=Tone.WARNING,
    )  # fmt: skip


def offered(request: Request, command: str) -> Reply:
    """Said in the card's thread (and to the requester) when break-glass becomes
    possible."""
    return say(
        "Nobody has decided on ", Code(request.id), ". If the Primary is still down, ",
        Person(request.requester), " may break the glass: the ", Strong("Break glass"),
        " button on the card, or ", Code(f'{command} break-glass {request.id} "why it '
        'cannot wait"'), ". It runs the failover without a second approver, is announced "
        "to every approver, and owes a review. An approver can still approve or reject it.",
    )  # fmt: skip


def reminder(request: Request, glass: Glass, command: str) -> Reply:
    """The daily reminder in the card's thread while the review is owed."""
    return say(
        "Reminder: the break-glass ", Code(request.operation.value), f" on {request.pair} "
        "by ", Person(glass.by), " (", When(glass.at), ") has not been reviewed. An approver "
        "other than ", Person(glass.by), ": ", _review_command(request, command), ". Until "
        "then no other break-glass is possible.",
        tone=Tone.WARNING,
    )  # fmt: skip
