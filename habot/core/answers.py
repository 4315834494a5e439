"""What a `/ha` command answers, before it is rendered (for Slack in habot/core/blocks.py,
for a terminal in habot/cli/render.py): words (a :class:`Reply`), or one of these records.
Apart from the words themselves, so that the rules that use words (approvals, the audit)
never import what they are used in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from habot.core.audit import AuditRecord
from habot.core.grammar import LogKind, Sub
from habot.core.replies import Reply
from habot.core.verdict import PairStatus


@dataclass(frozen=True)
class StatusAnswer:
    """Readings to show, each with the id of its kept raw output and any mute."""

    statuses: tuple[PairStatus, ...]
    at: datetime
    reading_ids: tuple[str, ...]
    mutes: dict[str, datetime] = field(default_factory=dict)
    #: Each frozen pair's freeze: until when, and why.
    frozen: dict[str, tuple[datetime, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RawAnswer:
    """A kept reading's raw output."""

    status: PairStatus


@dataclass(frozen=True)
class LogsAnswer:
    """The tail of a node's log."""

    pair: str
    node: str
    address: str
    lines: int
    output: str
    log: LogKind


@dataclass(frozen=True)
class HistoryAnswer:
    """Recent audit events (of one pair, or all), with the operation of each request they
    name (request id → operation), so that a line can say what was approved."""

    pair: str | None
    records: tuple[AuditRecord, ...]
    operations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HelpAnswer:
    """The subcommands this person may use."""

    command: str
    allowed: tuple[Sub, ...]


@dataclass(frozen=True)
class IncidentAnswer:
    """A request's timeline from the audit chain, as a file — for its card's thread
    (``thread``: the card's channel and ts, once Slack has it) or, failing that, the
    asker's direct messages."""

    request_id: str
    pair: str
    markdown: str
    events: int
    thread: tuple[str, str] | None = None


Answer = Reply | StatusAnswer | RawAnswer | LogsAnswer | HistoryAnswer | HelpAnswer | IncidentAnswer
