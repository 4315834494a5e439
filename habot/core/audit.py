"""The audit log's rules: what an event holds, how rows are chained, how a chain is checked.

Each row stores the hash of the previous row and a hash of its own content including that
link, so an edited, deleted or reordered row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from habot.core.approvals import RequestState

if TYPE_CHECKING:
    from habot.core.verdict import PairStatus

GENESIS = "0" * 64
_SECRET = re.compile(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{6,}|-----BEGIN [A-Z ]*PRIVATE KEY-----")


@dataclass(frozen=True)
class AuditEvent:
    """Something that happened, as habot records it. ``detail`` must hold no secrets."""

    kind: str
    actor: str
    outcome: str
    at: datetime
    pair: str | None = None
    node: str | None = None
    channel: str | None = None
    message_ts: str | None = None
    duration_ms: int | None = None
    output_digest: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """A stored event with its place in the chain."""

    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for list, export and history)."""
        return {
            "seq": self.seq,
            **content(self.event),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class ChainCheck:
    """The result of verifying a chain."""

    ok: bool
    rows: int
    bad_seq: int | None = None
    problem: str | None = None


def redact(value: Any) -> Any:
    """Replace anything shaped like a token or private key, anywhere in nested data."""
    if isinstance(value, str):
        return _SECRET.sub("[redacted]", value)
    if isinstance(value, Mapping):
        return {str(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def content(event: AuditEvent) -> dict[str, Any]:
    """The event's fields as canonical data (times as UTC ISO strings). Field by field,
    not ``asdict``: its deep copy was most of the time `verify` took, for the same JSON."""
    data = {name: getattr(event, name) for name in _FIELDS}
    data["at"] = event.at.isoformat()
    data["detail"] = dict(event.detail)
    return data


_FIELDS = tuple(f.name for f in fields(AuditEvent))


def row_hash(seq: int, event: AuditEvent, prev_hash: str) -> str:
    """The hash of a row: its sequence number, content and the previous row's hash."""
    payload = {"seq": seq, **content(event), "prev_hash": prev_hash}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain(seq: int, event: AuditEvent, prev_hash: str) -> AuditRecord:
    """The record for appending ``event`` after a row whose hash is ``prev_hash``."""
    clean = AuditEvent(**{**asdict(event), "detail": redact(dict(event.detail))})
    return AuditRecord(seq, clean, prev_hash, row_hash(seq, clean, prev_hash))


def verify(records: Iterable[AuditRecord]) -> ChainCheck:
    """Check a chain in sequence order; name the first row that does not fit."""
    expected_seq, prev, count = 1, GENESIS, 0
    for record in records:
        count += 1
        if record.seq != expected_seq:
            return ChainCheck(
                False,
                count,
                record.seq,
                f"expected row {expected_seq} here: rows missing or reordered",
            )
        if record.prev_hash != prev:
            return ChainCheck(
                False,
                count,
                record.seq,
                "its link to the previous row is broken (row removed or reordered)",
            )
        if row_hash(record.seq, record.event, record.prev_hash) != record.hash:
            return ChainCheck(
                False, count, record.seq, "its content does not match its hash (edited)"
            )
        expected_seq, prev = expected_seq + 1, record.hash
    return ChainCheck(True, count)


def digest(text: str) -> str:
    """The digest of command output recorded instead of the output itself."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RequestRow:
    """A request as its table holds it, for checking against the chain."""

    id: str
    state: str
    approvers: frozenset[str]


#: Audit kinds that move a request, and the state each leaves it in (the other state kinds
#: are the state's own name: executing, succeeded, cancelled …).
_STATE_OF_KIND = {"requested": RequestState.PENDING.value}
_STATES = frozenset(state.value for state in RequestState)


def disagreements(requests: Iterable[RequestRow], records: Iterable[AuditRecord]) -> list[str]:
    """Where the requests table and the chain disagree (see :class:`ChainSays`)."""
    said = ChainSays()
    for record in records:
        said.feed(record)
    return said.disagreements(requests)


class ChainSays:
    """What the chain says about each request, read one record at a time (a long log is
    streamed, never held). Every change to a request is written with its audit event in
    one transaction, so the chain's last state event for a request is its state, and its
    ``approved`` events are its approvers; anything else was changed behind habot's back
    (triggers dropped, rows edited)."""

    def __init__(self) -> None:
        self._state: dict[str, str] = {}
        self._approvers: dict[str, set[str]] = {}

    def feed(self, record: AuditRecord) -> None:
        """Take the next record in chain order."""
        request = record.event.detail.get("request")
        if not isinstance(request, str):
            return
        kind = record.event.kind
        if kind == "approved":
            self._approvers.setdefault(request, set()).add(record.event.actor)
        elif _STATE_OF_KIND.get(kind, kind) in _STATES:
            self._state[request] = _STATE_OF_KIND.get(kind, kind)

    def disagreements(self, requests: Iterable[RequestRow]) -> list[str]:
        """Each way the table's rows differ from what the chain said."""
        problems = []
        for row in requests:
            chained = self._state.get(row.id)
            if chained != row.state:
                problems.append(
                    f"request {row.id} is {row.state!r} in its table; the chain says "
                    f"{chained or 'nothing about it'}"
                )
            said = frozenset(self._approvers.get(row.id, ()))
            if row.approvers != said:
                problems.append(
                    f"request {row.id}'s approvers {sorted(row.approvers)} are not the chain's "
                    f"{sorted(said)}"
                )
        return problems


def status_event(
    status: PairStatus, actor: str, channel: str | None, duration_ms: int, at: datetime
) -> AuditEvent:
    """The audit event for a status someone read (in Slack or on the command line)."""
    return AuditEvent(
        kind="status",
        actor=actor,
        outcome=status.verdict.value,
        at=at,
        pair=status.pair,
        channel=channel,
        duration_ms=duration_ms,
        detail={"primary": status.primary.state.value, "secondary": status.secondary.state.value},
    )
