"""Change freezes: while one covers a pair, planned operations are refused (and a pending
one is held); the emergency verb, failover, stays possible with a typed reason and is
marked as run during the freeze (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from habot.core.firing import starts_between
from habot.core.operations import Operation
from habot.core.replies import Code, Part, Person, When

ALL = "all"
MAX_FREEZE = timedelta(days=31)
#: What a freeze holds back: every operation but the emergency one.
PLANNED = frozenset(o for o in Operation if o is not Operation.FAILOVER)


@dataclass(frozen=True)
class Freeze:
    """A freeze over some pairs (or all), from when to when, why, by whom."""

    id: str
    pairs: tuple[str, ...]  # ("all",) for every pair
    starts_at: datetime
    ends_at: datetime
    reason: str
    by: str

    def covers(self, pair: str, at: datetime) -> bool:
        """Whether the freeze holds ``pair`` at ``at``."""
        return (ALL in self.pairs or pair in self.pairs) and self.starts_at <= at < self.ends_at

    @property
    def scope(self) -> str:
        """Its pairs in words."""
        return "every pair" if ALL in self.pairs else ", ".join(self.pairs)


@dataclass(frozen=True)
class Window:
    """A recurring freeze from the configuration: from each crontab ``start`` for
    ``lasts``."""

    pairs: tuple[str, ...]
    start: str
    lasts: timedelta
    reason: str


#: Who a configured freeze is "by", in messages and the audit.
CONFIGURED = "configuration"


def windows_holding(windows: Sequence[Window], zone: ZoneInfo, at: datetime) -> list[Freeze]:
    """The configured freezes holding at ``at``: each window started within ``lasts``
    before it (the latest start, which ends last)."""
    found = []
    for n, window in enumerate(windows, 1):
        starts = starts_between(window.start, zone, at - window.lasts, at)
        if starts:  # in UTC: a freeze lasts its hours even across a change of the clocks
            began = starts[-1].astimezone(UTC)
            found.append(Freeze(f"config-{n}", window.pairs, began, began + window.lasts,
                                window.reason, CONFIGURED))  # fmt: skip
    return found


def covering(freezes: Sequence[Freeze], pair: str, at: datetime) -> Freeze | None:
    """The freeze holding ``pair`` at ``at`` that lasts longest, or None."""
    found = [f for f in freezes if f.covers(pair, at)]
    return max(found, key=lambda f: f.ends_at) if found else None


def frozen_refusal(
    operation: Operation, freeze: Freeze | None, override: str | None, command: str = "/ha"
) -> tuple[Part, ...] | None:
    """Why ``operation`` may not be asked for now (None: it may): a planned one never
    inside a freeze; failover only with a typed reason."""
    if freeze is None:
        return None
    said = _said(freeze)
    if operation in PLANNED:
        return (
            *said, " Planned operations wait until it ends; an approver can lift it with ",
            Code(f"{command} unfreeze {freeze.pairs[0]}"), ".",
        )  # fmt: skip
    if not override:
        return (
            *said, " A failover is still possible for a Primary that is really down: ask again "
            "with ", Code('--override "reason"'), " (audited; the card says it ran during the "
            "freeze).",
        )  # fmt: skip
    return None


def held(freeze: Freeze) -> tuple[Part, ...]:
    """Why an approval of a planned operation is not counted while a freeze holds it."""
    return (*_said(freeze), " The request is held: approve it after the freeze ends, "
            "before it expires.")  # fmt: skip


def _said(freeze: Freeze) -> tuple[Part, ...]:
    return (
        f"{freeze.scope} is frozen until ", When(freeze.ends_at), " by ", Person(freeze.by),
        f": {freeze.reason}.",
    )  # fmt: skip
