"""Who served, from when to when, and why it changed (pure): a pair's role history, from
its kept readings and the audit — "When did prod last fail over, and for how long was DR
serving?"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from habot.core.audit import AuditRecord
from habot.core.durations import format_duration
from habot.core.readings import StoredReading
from habot.core.replies import Code, Part, Person, Reply, Strong, When, plural, say
from habot.core.verdict import SERVING

#: Outcome events that end an operation (what may have changed who serves).
ENDED = frozenset({"succeeded", "failed", "unverified", "unknown", "aborted"})


def server(reading: StoredReading) -> str:
    """Who served at this reading: "Primary", "Secondary", "both" (split brain) or
    "nobody"."""
    primary, secondary = reading.primary in SERVING, reading.secondary in SERVING
    if primary and secondary:
        return "both"
    return "Primary" if primary else "Secondary" if secondary else "nobody"


@dataclass(frozen=True)
class Cause:
    """What changed who served: an operation habot ran (by whom, approved by whom), or
    nothing habot did (``request`` None: observed)."""

    request: str | None = None
    operation: str | None = None
    requester: str | None = None
    approvers: tuple[str, ...] = ()
    outcome: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.request is None:
            return {"observed": True}
        return {"observed": False, "request": self.request, "operation": self.operation,
                "requester": self.requester, "approvers": list(self.approvers),
                "outcome": self.outcome}  # fmt: skip


@dataclass(frozen=True)
class Tenure:
    """One stretch of one server serving (``until`` None: still, as of the last reading)."""

    server: str
    since: datetime
    until: datetime | None
    cause: Cause | None  # None: the first stretch the readings show

    def lasted(self, now: datetime) -> timedelta:
        return (self.until or now) - self.since

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "served_by": self.server,
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "seconds": self.lasted(now).total_seconds(),
            "cause": self.cause.as_dict() if self.cause else None,
        }


def role_history(
    readings: Sequence[StoredReading], records: Sequence[AuditRecord], pair: str
) -> list[Tenure]:
    """The pair's tenures, oldest first, from its readings (in time order) and the audit:
    a change between two readings is put down to an operation on the pair that ended
    between them — else it was observed, not made by habot."""
    ordered = sorted((r for r in readings if r.pair == pair), key=lambda r: r.at)
    tenures: list[Tenure] = []
    before: StoredReading | None = None
    for reading in ordered:
        now_serving = server(reading)
        if before is None or now_serving != tenures[-1].server:
            if tenures:
                tenures[-1] = _ended(tenures[-1], reading.at)
            cause = _cause(records, pair, before.at, reading.at) if before else None
            tenures.append(Tenure(now_serving, reading.at, None, cause))
        before = reading
    return tenures


def _ended(tenure: Tenure, at: datetime) -> Tenure:
    return Tenure(tenure.server, tenure.since, at, tenure.cause)


def _cause(records: Sequence[AuditRecord], pair: str, after: datetime, by: datetime) -> Cause:
    """The last operation on ``pair`` that ended in (after, by], as its audit tells it."""
    ended = [
        r for r in records
        if r.event.pair == pair and r.event.kind in ENDED and after < r.event.at <= by
        and isinstance(r.event.detail.get("request"), str)
    ]  # fmt: skip
    if not ended:
        return Cause()
    last = ended[-1]
    request = str(last.event.detail["request"])
    own = [r.event for r in records if r.event.detail.get("request") == request]
    asked = next((e for e in own if e.kind == "requested"), None)
    approvers = tuple(e.actor for e in own if e.kind == "approved")
    operation = str(asked.detail.get("operation")) if asked else None
    return Cause(request, operation, asked.actor if asked else None, approvers, last.event.kind)


MAX_SHOWN = 20  # tenures in a reply (the newest); --json has them all


def role_reply(pair: str, tenures: Sequence[Tenure], now: datetime) -> Reply:
    """The history in words, newest last: "07:05 → 09:12 (2 h 7 min) · the Secondary
    served · after failover `ec340c3a` by @Olivia, approved by @Amir (succeeded)"."""
    if not tenures:
        return say(f"No readings of {pair} are kept yet: who served is not known.")
    shown = tenures[-MAX_SHOWN:]
    count = plural(len(tenures), "stretch", "stretches")
    newest = f", the newest {MAX_SHOWN}" if len(tenures) > MAX_SHOWN else ""
    parts: list[Part] = [Strong(pair), f": who served ({count}{newest})"]
    for t in shown:
        until: tuple[Part, ...] = (When(t.until),) if t.until else ("now",)
        who = "nobody served" if t.server == "nobody" else (
            "both served (split brain)" if t.server == "both" else
            f"the {t.server} {'served' if t.until else 'serves'}"
        )  # fmt: skip
        parts += ["\n", When(t.since), " → ", *until, f" ({format_duration(t.lasted(now))}) · ",
                  who, *_because(t.cause)]  # fmt: skip
    return say(*parts)


def _because(cause: Cause | None) -> tuple[Part, ...]:
    if cause is None:
        return (" · the first reading kept",)
    if cause.request is None:
        return (" · observed: no operation by habot",)
    approved: tuple[Part, ...] = ()
    for n, who in enumerate(cause.approvers):
        approved += (", approved by " if n == 0 else ", ", Person(who))
    by: tuple[Part, ...] = (" by ", Person(cause.requester)) if cause.requester else ()
    return (" · after ", Code(cause.operation or "an operation"), " ", Code(cause.request), *by,
            *approved, f" ({cause.outcome})")  # fmt: skip
