"""The audit as a timeline people read: one sentence per event ("07:05 · @Amir approved
`failover` `ec340c3a` on prod"), people as mentions, moments as dates, identifiers only
where they are what someone types (a request id) — never a Python repr."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from habot.core.audit import AuditEvent, AuditRecord
from habot.core.model import NodeState, Verdict
from habot.core.replies import Code, Part, Person, Reply, When, say, slack_account

_LABELS = {v.value: v.label for v in (*NodeState, *Verdict)}
#: What each kind of event says after who did it (an event of a kind not listed says
#: its kind in words).
_Said = Callable[[AuditEvent, tuple[Part, ...]], tuple[Part, ...]]


def _on(e: AuditEvent) -> str:
    """ " on prod" (and the node, when the event names one)."""
    if not e.pair:
        return ""
    return f" on {e.pair}" + (f" ({e.node})" if e.node else "")


def _why(e: AuditEvent, *keys: str) -> tuple[Part, ...]:
    """ ": what they said" — the first of ``keys`` the event's detail holds (user text:
    shown as typed, never a mention)."""
    for key in keys:
        value = e.detail.get(key)
        if isinstance(value, str) and value:
            return (f": {value}",)
    return ()


def _word(value: object) -> str:
    """A verdict or node state in people's words; anything else as it is."""
    text = str(value)
    return str(_LABELS.get(text, text.replace("_", " ")))


def _requested(e: AuditEvent, op: tuple[Part, ...]) -> tuple[Part, ...]:
    later = e.detail.get("run_at")
    at: tuple[Part, ...] = ()
    if isinstance(later, str):
        at = (" for ", When(_moment(later)))
    return ("asked for ", *op, _on(e), *at, *_why(e, "reason"))


def _outcome(words: str) -> _Said:
    """How a run ended, in the run's own words when it has them (they say the state)."""

    def said(e: AuditEvent, op: tuple[Part, ...]) -> tuple[Part, ...]:
        told = _why(e, "detail")
        return (*op, _on(e), *(told or (f" {words}",)))

    return said


def _did(verb: str, *keys: str) -> _Said:
    def said(e: AuditEvent, op: tuple[Part, ...]) -> tuple[Part, ...]:
        return (f"{verb} ", *op, _on(e), *_why(e, *keys))

    return said


def _refused(e: AuditEvent, op: tuple[Part, ...]) -> tuple[Part, ...]:
    asked = e.detail.get("subcommand") or e.detail.get("action") or e.kind.removesuffix("_refused")
    what: tuple[Part, ...] = op or (Code(str(asked).replace("_", " ")),)
    return ("was refused ", *what, _on(e), *_why(e, "reason"))


_SAID: dict[str, _Said] = {
    "requested": _requested,
    "approved": _did("approved"),
    "scheduled": _did("approved, scheduling"),
    "executing": _did("started"),
    "succeeded": _outcome("succeeded"),
    "failed": _outcome("failed"),
    "unverified": _outcome("ran, but could not be verified"),
    "unknown": _outcome("was interrupted — outcome unknown"),
    "aborted": _outcome("was aborted"),
    "late_outcome": _outcome("ended after habot had given it up"),
    "rejected": _did("rejected", "reason"),
    "cancelled": _did("cancelled", "reason"),
    "expired": _outcome("expired — nobody approved it in time"),
    "resolved": _did("resolved", "finding"),
    "noted": _did("noted on", "note"),
    "escalated": lambda e, op: ("habot asked the next approvers about ", *op, _on(e)),
    "break_glass_used": _did("broke glass and ran", "reason"),
    "break_glass_reviewed": _did("reviewed the break-glass run of", "note"),
    "acknowledged": lambda e, op: (f"acknowledged the alert{_on(e)}",),
    "muted": lambda e, op: (f"muted the alerts{_on(e)}", *_why(e, "reason")),
    "unmuted": lambda e, op: (f"unmuted the alerts{_on(e)}",),
    "frozen": lambda e, op: (f"froze changes{_on(e) or ' on every pair'}", *_why(e, "reason")),
    "unfrozen": lambda e, op: (f"ended the change freeze{_on(e)}", *_why(e, "reason")),
    "status": lambda e, op: (f"read the status{_on(e)}: {_word(e.outcome)}",),
}


#: Events that happen to a request rather than being done by someone: no actor first.
_UNPERSONAL = frozenset(
    {"succeeded", "failed", "unverified", "unknown", "aborted", "late_outcome", "expired",
     "escalated"}
)  # fmt: skip


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def requested(records: Iterable[AuditRecord]) -> list[str]:
    """The request ids these events name."""
    return [r for e in records if isinstance(r := e.event.detail.get("request"), str)]


def who(actor: str) -> Part:
    """A person as a mention; habot itself, or a terminal user, by name."""
    return Person(actor) if slack_account(actor) else actor


def timeline_line(record: AuditRecord, operations: Mapping[str, str]) -> Reply:
    """One event in a sentence: when, who, what (``operations`` names each request's
    operation, by request id, for the events that only carry the id), and its place in
    the chain (#seq)."""
    e = record.event
    request = e.detail.get("request")
    op: tuple[Part, ...] = ()
    if isinstance(request, str):
        named = operations.get(request) or e.detail.get("operation")
        op = (*((Code(str(named)), " ") if named else ()), Code(request))
    said = _SAID.get(e.kind)
    if said is not None:
        words = said(e, op)
    elif e.kind.endswith("_refused") or e.kind == "refused":
        words = _refused(e, op)
    else:
        named = (" ", *op) if op else ()
        words = (e.kind.replace("_", " "), *named, _on(e), f" — {_word(e.outcome)}")
    actor: tuple[Part, ...] = () if e.kind in _UNPERSONAL else (who(e.actor), " ")
    return say(When(e.at), " · ", *actor, *words, f" · #{record.seq}")
