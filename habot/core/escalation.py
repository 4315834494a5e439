"""Who is asked to approve a request, and when the next level is (pure).

``[approval] escalation`` lists levels of approvers. A new request asks level 1 at once;
while it stays pending — nobody has approved enough, rejected or cancelled — each
``escalate_after`` asks the next level, until every level has been asked. The levels only
decide who is *asked*: anyone holding the approver role may approve at any time, and
nothing is ever approved for lack of an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from habot.core.blocks import escape, mention, slack_date
from habot.core.oncall import FirstLevel


@dataclass(frozen=True)
class Escalation:
    """The levels, and how long each is given before the next is asked."""

    levels: tuple[tuple[str, ...], ...] = ()
    after: timedelta = timedelta(minutes=5)

    def due(self, asked: Sequence[datetime], now: datetime) -> int | None:
        """The level (0-based) to ask now, given when the earlier ones were asked; None
        when none is due (all asked, or the last one still has time)."""
        if len(asked) >= len(self.levels):
            return None
        if not asked:
            return 0
        return len(asked) if now - asked[-1] >= self.after else None

    def next_at(self, asked: Sequence[datetime]) -> datetime | None:
        """When the next level will be asked (None: every level has been, or none yet)."""
        if not asked or len(asked) >= len(self.levels):
            return None
        return asked[-1] + self.after

    def all_asked(self, asked: Sequence[datetime]) -> bool:
        """Whether every level has been asked (always, with no levels)."""
        return len(asked) >= len(self.levels)


def asked_line(
    escalation: Escalation, asked: Sequence[datetime], first: FirstLevel | None = None
) -> str | None:
    """The card's line: who has been asked and when (level 1: who was on call, when
    ``first`` says so, or why the configured level was asked), and who is next and when."""
    if not escalation.levels or not asked:
        return None
    parts = [
        f"level {n} ({_who(escalation.levels[n - 1])}) {slack_date(at)}"
        for n, at in enumerate(asked, 1)
    ]
    if first is not None:
        on_call = "" if first.fallback else "on call: "
        parts[0] = f"level 1 ({on_call}{_who(first.entries)}) {slack_date(asked[0])}"
        if first.fallback:
            parts[0] += f" — {escape(first.fallback)}"
    line = "Asked: " + " · ".join(parts)
    if (at := escalation.next_at(asked)) is not None:
        level = len(asked) + 1
        line += f" · next: level {level} ({_who(escalation.levels[level - 1])}) {slack_date(at)}"
    return line


def _who(level: Sequence[str]) -> str:
    return ", ".join(mention(entry) for entry in level)
