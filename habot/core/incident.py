"""An incident's timeline, checkable against the audit chain (pure).

Every event of one request (and, while it was open, of its pair), or of a pair over a
window, in chain order: when, who, what happened in a sentence, how long since the line
before — and each line's audit sequence number and hash. The closing line names the
chain's head when it was exported. ``check`` compares a timeline with the chain and names
each line that was edited, dropped or added.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from habot.core.audit import AuditRecord
from habot.core.durations import format_duration
from habot.core.replies import Person, plain
from habot.core.timeline import timeline_line

FORMAT = "habot-incident-timeline v1"


@dataclass(frozen=True)
class Selection:
    """Which events a timeline holds: one request's (and its pair's while it was open),
    or one pair's from ``since`` to ``until``."""

    pair: str
    request: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def holds(self, record: AuditRecord, opened: datetime | None, ended: datetime | None) -> bool:
        """Whether ``record`` belongs (``opened``/``ended``: the request's first and last
        events, when it is a request's timeline)."""
        e = record.event
        if self.request is not None:
            if e.detail.get("request") == self.request:
                return True
            return (e.pair == self.pair and opened is not None and ended is not None
                    and opened <= e.at <= ended)  # fmt: skip
        if e.pair != self.pair:
            return False
        return (self.since is None or e.at >= self.since) and (
            self.until is None or e.at <= self.until
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "request": self.request,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        def when(key: str) -> datetime | None:
            return datetime.fromisoformat(data[key]) if data.get(key) else None

        return cls(str(data["pair"]), data.get("request"), when("since"), when("until"))


@dataclass(frozen=True)
class Line:
    """One event of the timeline."""

    seq: int
    hash: str
    at: datetime
    actor: str
    what: str
    since_last: timedelta | None


@dataclass(frozen=True)
class Timeline:
    """The lines, and the chain's head when it was made."""

    selection: Selection
    lines: tuple[Line, ...]
    head_seq: int
    head_hash: str
    #: Slack user id → the name shown for them (kept in the file: a check re-renders the
    #: lines with the same names; the ids themselves are what the chain holds).
    names: Mapping[str, str] = field(default_factory=dict)


def select(records: Sequence[AuditRecord], selection: Selection) -> list[AuditRecord]:
    """The events of ``selection``, in chain order (``records``: the whole chain)."""
    opened = ended = None
    if selection.request is not None:
        own = [r.event.at for r in records if r.event.detail.get("request") == selection.request]
        opened, ended = (min(own), max(own)) if own else (None, None)
    return [r for r in records if selection.holds(r, opened, ended)]


def timeline(
    records: Sequence[AuditRecord],
    selection: Selection,
    operations: Mapping[str, str],
    names: Mapping[str, str] | None = None,
) -> Timeline:
    """The timeline of ``selection`` from the whole chain (``records``, in order)."""
    chosen = select(records, selection)
    asked = {str(r.event.detail["request"]): str(r.event.detail["operation"]) for r in records
             if r.event.kind == "requested" and "operation" in r.event.detail
             and "request" in r.event.detail}  # fmt: skip
    operations = {**asked, **operations}  # what the chain says, else what the store does
    shown = {u: n for u, n in (names or {}).items() if n}
    lines: list[Line] = []
    last: datetime | None = None
    for r in chosen:
        gap = r.event.at - last if last is not None else None
        who = shown.get(r.event.actor, r.event.actor)
        lines.append(Line(r.seq, r.hash, r.event.at, who, _what(r, operations, shown), gap))
        last = r.event.at
    head = records[-1] if records else None
    return Timeline(selection, tuple(lines), head.seq if head else 0,
                    head.hash if head else "", shown)  # fmt: skip


def actors(records: Sequence[AuditRecord], selection: Selection) -> list[str]:
    """The people whose events ``selection`` holds (to look their names up)."""
    return sorted({r.event.actor for r in select(records, selection)})


def _what(record: AuditRecord, operations: Mapping[str, str], names: Mapping[str, str]) -> str:
    """The line's sentence without its time and chain number (the file has columns),
    people by name where one is known."""
    parts = [f"@{names[p.user]}" if isinstance(p, Person) and p.user in names else p
             for p in timeline_line(record, operations).parts]  # fmt: skip
    words = plain(parts)
    return words.split(" · ", 1)[1].rsplit(" · #", 1)[0]


def as_json(t: Timeline) -> str:
    """The timeline as JSON: what `habot audit verify --timeline` reads back."""
    return json.dumps({
        "format": FORMAT,
        "selection": t.selection.as_dict(),
        "names": dict(t.names),
        "events": [
            {"seq": x.seq, "hash": x.hash, "at": x.at.isoformat(), "actor": x.actor,
             "what": x.what,
             "since_last_s": x.since_last.total_seconds() if x.since_last is not None else None}
            for x in t.lines
        ],
        "head": {"seq": t.head_seq, "hash": t.head_hash},
    }, indent=2, ensure_ascii=False)  # fmt: skip


def as_markdown(t: Timeline) -> str:
    """The timeline as a Markdown table people read (and `verify --timeline` checks)."""
    s = t.selection
    scope = f"request {s.request} on {s.pair}" if s.request else f"{s.pair}"
    if s.since or s.until:
        scope += (
            f", {_when(s.since) if s.since else 'start'} to {_when(s.until) if s.until else 'now'}"
        )
    rows = [
        f"# Incident timeline: {scope}",
        "",
        f"<!-- {FORMAT} {json.dumps({**s.as_dict(), 'names': dict(t.names)})} -->",
        "",
        "| time (UTC) | who | what happened | after | seq | hash |",
        "|---|---|---|---|---:|---|",
    ]
    for x in t.lines:
        after = format_duration(x.since_last) if x.since_last is not None else "—"
        rows.append(f"| {_when(x.at)} | {_cell(x.actor)} | {_cell(x.what)} | {after} | "
                    f"{x.seq} | `{x.hash}` |")  # fmt: skip
    rows += ["", f"Chain head when exported: seq {t.head_seq}, hash `{t.head_hash}`.", ""]
    return "\n".join(rows)


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class Finding:
    """What is wrong with one line of a timeline checked against the chain."""

    seq: int
    problem: str  # "edited", "dropped", "added"
    detail: str


def parse(text: str) -> Timeline:
    """A timeline file (JSON or Markdown) as written by as_json / as_markdown; ValueError
    says what is not one."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        lines = tuple(
            Line(int(e["seq"]), str(e["hash"]), datetime.fromisoformat(e["at"]), str(e["actor"]),
                 str(e["what"]), None)
            for e in data["events"]
        )  # fmt: skip
        head = data["head"]
        return Timeline(Selection.from_dict(data["selection"]), lines, int(head["seq"]),
                        str(head["hash"]), dict(data.get("names") or {}))  # fmt: skip
    return _parse_markdown(text)


def _parse_markdown(text: str) -> Timeline:
    marker = f"<!-- {FORMAT} "
    meta = next((ln for ln in text.splitlines() if ln.startswith(marker)), None)
    if meta is None:
        raise ValueError(f"not a {FORMAT} file (its selection line is missing)")
    data = json.loads(meta[len(marker) :].removesuffix(" -->"))
    selection, names = Selection.from_dict(data), dict(data.get("names") or {})
    lines, head_seq, head_hash = [], 0, ""
    for row in text.splitlines():
        if row.startswith("| ") and row.rstrip().endswith("` |"):
            cells = [c.strip() for c in _split_row(row)]
            at, actor, what, _, seq, digest = (c.replace("\\|", "|") for c in cells)
            moment = datetime.fromisoformat(at + "+00:00")
            lines.append(Line(int(seq), digest.strip("`"), moment, actor, what, None))
        elif row.startswith("Chain head when exported: seq "):
            head_seq = int(row.split("seq ")[1].split(",")[0])
            head_hash = row.split("`")[1]
    return Timeline(selection, tuple(lines), head_seq, head_hash, names)


def _split_row(row: str) -> list[str]:
    """A table row's cells ("\\|" inside a cell is not a border)."""
    cells, cell, escaped = [], "", False
    for ch in row.strip()[1:-1]:
        if ch == "|" and not escaped:
            cells.append(cell)
            cell = ""
        else:
            cell += ch
        escaped = ch == "\\" and not escaped
    return [*cells, cell]


def check(
    given: Timeline, records: Sequence[AuditRecord], operations: Mapping[str, str]
) -> list[Finding]:
    """Each line of ``given`` that the chain does not hold as written (edited), each event
    the chain holds for its selection that it left out (dropped), each line the chain has
    no such event for (added); and its head, if the chain no longer holds it."""
    made = timeline(records, given.selection, operations, given.names)
    truth = {x.seq: x for x in made.lines}
    findings: list[Finding] = []
    seen: set[int] = set()
    for x in given.lines:
        seen.add(x.seq)
        real = truth.get(x.seq)
        if real is None:
            findings.append(Finding(x.seq, "added", f"the chain has no event {x.seq} here"))
        elif (x.hash, x.actor, x.what, _second(x.at)) != (
            real.hash, real.actor, real.what, _second(real.at)
        ):  # fmt: skip
            findings.append(Finding(x.seq, "edited", f"the chain says: {real.what}"))
    findings += [Finding(seq, "dropped", f"left out: {truth[seq].what}")
                 for seq in sorted(set(truth) - seen)]  # fmt: skip
    by_seq = {r.seq: r for r in records}
    head = by_seq.get(given.head_seq)
    if given.head_seq and (head is None or head.hash != given.head_hash):
        findings.append(Finding(given.head_seq, "edited",
                                "the chain no longer holds the head this file names"))  # fmt: skip
    return sorted(findings, key=lambda f: f.seq)


def _second(at: datetime) -> datetime:
    """A moment to the second (the Markdown table shows no more)."""
    return at.replace(microsecond=0)


def findings_text(findings: Iterable[Finding]) -> list[str]:
    """One line per finding, for a terminal."""
    return [f"line seq {f.seq}: {f.problem} — {f.detail}" for f in findings]
