"""Pages to the on-call's paging tool: one page per pair incident (pure).

An open alert is what wakes someone: when a pair's incident opens (the same debounce as the
channel's alert card), each configured pager gets a *trigger*; Acknowledge on the card sends
an *acknowledge*; the pair's recovery a *resolve*. All three carry one key per incident —
the pair and the moment its incident began — which every poll, restart and replica derive
alike, so the paging tool folds anything repeated into the one incident.

Pages travel through the outbox like Slack messages (stored first, retried through 429s,
5xx and timeouts, one sender at a time), in a lane per pager and incident so its trigger,
acknowledge and resolve arrive in that order. A resolve whose trigger was never even tried
withdraws the lot instead: nobody is woken for an incident that has already ended.

Nothing secret is in a page: the routing key or API key is added by the adapter when it
sends (from the keyring or the environment), never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from habot.core.alerts import Incident
from habot.core.approvals import Glass, Request
from habot.core.blocks import VERDICT_WORDS, node_state_words
from habot.core.model import Verdict
from habot.core.operations import Operation, OperationPlan
from habot.core.replies import Code, Reply, Tone, say
from habot.core.verdict import NodeView, PairStatus


class Pager(StrEnum):
    """A paging tool habot can page."""

    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"

    @property
    def label(self) -> str:
        """Its name as people write it."""
        return _TITLES[self]


_TITLES = {Pager.PAGERDUTY: "PagerDuty", Pager.OPSGENIE: "Opsgenie"}


class PageAction(StrEnum):
    """What a page does to the incident in the paging tool."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Severity(StrEnum):
    """PagerDuty's severities (Opsgenie's priorities are derived from them)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


#: How bad each verdict is for the people paged. Service is down or at risk of two
#: masters: critical. Serving, but without its standby (or habot cannot see one node):
#: error. A reading habot cannot judge: warning.
SEVERITY = {
    Verdict.PRIMARY_DOWN: Severity.CRITICAL,
    Verdict.SPLIT_BRAIN: Severity.CRITICAL,
    Verdict.UNREACHABLE: Severity.CRITICAL,
    Verdict.FAILED_OVER: Severity.ERROR,
    Verdict.SECONDARY_DOWN: Severity.ERROR,
    Verdict.HALF_PAIR: Severity.ERROR,
    Verdict.DEGRADED: Severity.ERROR,
    Verdict.PRIMARY_UNREACHABLE: Severity.WARNING,
    Verdict.SECONDARY_UNREACHABLE: Severity.WARNING,
    Verdict.STANDALONE: Severity.WARNING,
    Verdict.UNKNOWN: Severity.WARNING,
    Verdict.BAU: Severity.WARNING,  # BAU yet alerting: Degraded health or a full share
}
#: Opsgenie's priority for each severity.
PRIORITY = {
    Severity.CRITICAL: "P1",
    Severity.ERROR: "P2",
    Severity.WARNING: "P3",
    Severity.INFO: "P5",
}
#: How much of each node's own ha-status words a page carries.
NODE_WORDS = 1500


#: The channel suffix of a page for the approvers' own service (its own routing key).
APPROVERS_ROUTE = "approvers"


def pager_of(channel: str) -> Pager:
    """The paging tool a page's outbox channel names (``pagerduty``, ``pagerduty@approvers``)."""
    return Pager(channel.partition("@")[0])


def incident_key(pair: str, since: datetime) -> str:
    """The incident's key in the paging tool (PagerDuty's dedup_key, Opsgenie's alias):
    the same for every poll, restart and replica that sees this incident."""
    return f"habot/{pair}/{since.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def page_lane(pager: Pager, key: str) -> str:
    """The outbox lane of one incident's pages to one pager (in order within it)."""
    return f"page:{pager.value}:{key}"


@dataclass(frozen=True)
class Page:
    """One event for one incident, as the outbox stores it."""

    action: PageAction
    key: str
    pair: str
    summary: str
    severity: Severity = Severity.ERROR
    #: What the responder reads before logging in: both nodes' words, the verdict.
    details: dict[str, str] = field(default_factory=dict)
    card: int | None = None  # the alert card's outbox id (its link is added when sent)
    by: str | None = None  # who acknowledged, when someone did
    test: bool = False  # `habot check --page-test`

    def payload(self) -> dict[str, Any]:
        """The outbox row's payload (JSON; nothing secret)."""
        return {
            "action": self.action.value, "key": self.key, "pair": self.pair,
            "summary": self.summary, "severity": self.severity.value,
            "details": dict(self.details), "card": self.card, "by": self.by, "test": self.test,
        }  # fmt: skip

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Page:
        """Back from the outbox row."""
        return cls(
            PageAction(payload["action"]),
            str(payload["key"]),
            str(payload["pair"]),
            str(payload["summary"]),
            Severity(payload.get("severity", Severity.ERROR.value)),
            {str(k): str(v) for k, v in (payload.get("details") or {}).items()},
            payload.get("card"),
            payload.get("by"),
            bool(payload.get("test", False)),
        )


def overtaken(head: Page, behind: Iterable[Page]) -> bool:
    """Whether a trigger not yet delivered is overtaken by a resolve of its incident
    queued behind it: it is then never sent — the resolve alone closes whatever an earlier
    attempt may have opened, and nobody is woken for what is already over. (A resolve
    queues behind a trigger whose attempt was in flight; that attempt may then fail.) An
    acknowledge still goes: it tells the tool who took the incident."""
    return head.action is PageAction.TRIGGER and any(
        p.action is PageAction.RESOLVE and p.key == head.key for p in behind
    )


def trigger(status: PairStatus, incident: Incident, card: int | None) -> Page:
    """The page that wakes someone for a pair's new incident."""
    words = VERDICT_WORDS[status.verdict]
    return Page(
        PageAction.TRIGGER,
        incident_key(status.pair, incident.since),
        status.pair,
        f"{status.pair}: {words} — {incident.reason}",
        SEVERITY[status.verdict],
        {
            "pair": status.pair,
            "verdict": words,
            "why": incident.reason,
            "since": incident.since.astimezone(UTC).isoformat(),
            "primary": _node(status.primary),
            "secondary": _node(status.secondary),
            **({"health": status.health.value} if status.health else {}),
            **({"warnings": "; ".join(status.warnings)} if status.warnings else {}),
        },
        card,
    )


def request_key(request: Request) -> str:
    """A request's page key: one per request, whichever replica or sweep sends it."""
    return f"habot/{request.pair}/request/{request.id}"


def urgent(request: Request) -> bool:
    """Whether a request pages the approvers as soon as it opens ([paging]
    page_approvers): the emergency verb, or any request while its pair is not BAU."""
    return request.operation is Operation.FAILOVER or request.snapshot[0] is not Verdict.BAU


def approval_wanted(request: Request, plan: OperationPlan, card: int | None) -> Page:
    """The page that asks the approvers' on-call to decide a request (on its card)."""
    verdict = request.snapshot[0]
    return Page(
        PageAction.TRIGGER,
        request_key(request),
        request.pair,
        f"{request.pair}: {request.operation.value} waits for approval "
        f"(request {request.id}) — {VERDICT_WORDS[verdict]}",
        Severity.CRITICAL if request.operation is Operation.FAILOVER else Severity.ERROR,
        {
            "pair": request.pair,
            "operation": request.operation.value,
            "runs": f"{plan.command.value} on the {plan.node} ({plan.address})",
            "why": plan.why,
            "request": request.id,
            "requested by (Slack user)": request.requester,
            "approvals": request.tally,
            "expires": request.expires_at.astimezone(UTC).isoformat(),
            "judged on": VERDICT_WORDS[verdict],
        },
        card,
    )


def approval_done(request: Request) -> Page:
    """The request no longer waits for the approvers (approved, rejected, cancelled or
    expired)."""
    return Page(PageAction.RESOLVE, request_key(request), request.pair,
                f"{request.pair}: request {request.id} {request.state.value}")  # fmt: skip


def glass_key(request: Request) -> str:
    """A break-glass's page key: one per break-glass, open until it is reviewed."""
    return f"habot/{request.pair}/break-glass/{request.id}"


def glass_used(request: Request, glass: Glass, card: int | None) -> Page:
    """The page that tells the approvers' on-call a failover ran without a second person
    and that its review is owed."""
    return Page(
        PageAction.TRIGGER,
        glass_key(request),
        request.pair,
        f"{request.pair}: break-glass failover by one person (request {request.id}) — review owed",
        Severity.WARNING,
        {
            "pair": request.pair,
            "operation": request.operation.value,
            "request": request.id,
            "broken by (Slack user)": glass.by,
            "reason": glass.reason,
            "at": glass.at.astimezone(UTC).isoformat(),
            "review": "owed: an approver who is not the requester reviews it in Slack",
        },
        card,
    )


def glass_reviewed(request: Request) -> Page:
    """Its review is in: the break-glass page resolves."""
    return Page(PageAction.RESOLVE, glass_key(request), request.pair,
                f"{request.pair}: break-glass on request {request.id} reviewed")  # fmt: skip


def unknown_key(request: Request) -> str:
    """An unknown outcome's page key: one per request, open until a person resolves it."""
    return f"habot/{request.pair}/unknown/{request.id}"


def outcome_unknown(request: Request, words: str, card: int | None) -> Page:
    """The page that tells the approvers' on-call an operation's outcome is unknown: the
    pair stays closed to operations until one of them checks it and resolves it."""
    return Page(
        PageAction.TRIGGER,
        unknown_key(request),
        request.pair,
        f"{request.pair}: outcome of {request.operation.value} unknown (request "
        f"{request.id}) — check the pair and resolve it in Slack",
        Severity.ERROR,
        {
            "pair": request.pair,
            "operation": request.operation.value,
            "request": request.id,
            "requested by (Slack user)": request.requester,
            "what habot saw": words,
            "to close it": "check the pair, then Resolve on the card (or /ha resolve ID)",
        },
        card,
    )


def unknown_resolved(request: Request) -> Page:
    """A person resolved it: the unknown outcome's page resolves."""
    return Page(PageAction.RESOLVE, unknown_key(request), request.pair,
                f"{request.pair}: request {request.id} resolved")  # fmt: skip


def acknowledge(pair: str, incident: Incident, by: str) -> Page:
    """Someone said in Slack they are on it."""
    key = incident_key(pair, incident.since)
    return Page(PageAction.ACKNOWLEDGE, key, pair, f"{pair}: acknowledged in Slack", by=by)


def resolve(pair: str, incident: Incident) -> Page:
    """The pair recovered."""
    key = incident_key(pair, incident.since)
    return Page(PageAction.RESOLVE, key, pair, f"{pair}: recovered")


def test_page(now: datetime, action: PageAction) -> Page:
    """`habot check --page-test`: one event that says it is a test (then resolved)."""
    key = f"habot/test/{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    summary = "habot test page from habot check --page-test: nothing is wrong"
    return Page(action, key, "test", summary, Severity.INFO, {"test": "true"}, test=True)


def _node(node: NodeView) -> str:
    """One node in its own words and habot's: state, what its peer says, the error, and
    the start of its ha-status output (so a responder sees a habot-only partition)."""
    parts = [f"{node.address}: {node_state_words(node.state)}"]
    if node.peer_says is not None:
        parts.append(f"its peer says {node_state_words(node.peer_says)}")
    if node.error:
        parts.append(f"habot: {node.error}")
    text = "; ".join(parts)
    if node.raw:
        text += "\n" + node.raw[:NODE_WORDS]
    return text


_DOING = {
    PageAction.TRIGGER: "the page",
    PageAction.ACKNOWLEDGE: "the acknowledgement",
    PageAction.RESOLVE: "the recovery",
}


def failed_page(pager: Pager, action: PageAction, error: str | None) -> Reply:
    """Said in the alert's thread when a page was set aside: nobody may believe the on-call
    was woken (or told it is over) when they were not."""
    consequence = (
        "nobody has been woken by habot: call the on-call yourself."
        if action is PageAction.TRIGGER
        else f"close or update the incident in {pager.label} yourself."
    )
    if error == "no_key":
        return say(f"habot could not send {pager.label} {_DOING[action]}: it has no key for "
                   f"{pager.label} (", Code("habot check"), " says where to put it) — ",
                   consequence, tone=Tone.FAILED)  # fmt: skip
    return say(f"habot could not send {pager.label} {_DOING[action]} (it said ",
               Code(error or "unknown"), ") — ", consequence, tone=Tone.FAILED)  # fmt: skip
