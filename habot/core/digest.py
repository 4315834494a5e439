"""The daily digest: each pair's uptime over a window, computed from stored readings.

Pure. Every reading stands for the time until the next one, but never for more than
``max_gap`` (twice the polling interval): a stretch with no readings — habot stopped, the
database unreachable — counts as *not observed*, not as up or down, and the digest says
how much of the window was observed so nobody reads 100 % into a day habot slept through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from habot.core.blocks import (
    VERDICT_EMOJI,
    Block,
    Message,
    context,
    escape,
    section,
    slack_date,
)
from habot.core.model import Health, NodeState, Verdict
from habot.core.replies import plural
from habot.core.verdict import SERVING

MAX_PAIRS_IN_DIGEST = 45  # one section each, under Slack's 50 blocks with the header


@dataclass(frozen=True)
class Sample:
    """The part of a stored reading the digest needs."""

    at: datetime
    verdict: Verdict
    primary: NodeState
    secondary: NodeState
    health: Health | None = None

    @property
    def serving(self) -> bool:
        """Some node takes traffic (users can log in)."""
        return self.primary in SERVING or self.secondary in SERVING

    @property
    def healthy(self) -> bool:
        """Business as usual: BAU and not Degraded."""
        return self.verdict is Verdict.BAU and self.health is not Health.DEGRADED


@dataclass(frozen=True)
class Uptime:
    """One pair over the window."""

    pair: str
    window: timedelta
    observed: timedelta
    serving: timedelta
    healthy: timedelta
    episodes: int  # times the pair left BAU within the window
    latest: Sample | None

    def share(self, part: timedelta) -> float | None:
        """``part`` as a percentage of the observed time (None when nothing was observed)."""
        if self.observed <= timedelta(0):
            return None
        return 100 * (part / self.observed)


def uptime(
    pair: str,
    samples: Sequence[Sample],
    start: datetime,
    end: datetime,
    max_gap: timedelta,
) -> Uptime:
    """Time-weighted uptime of one pair between ``start`` and ``end``."""
    ordered = sorted((s for s in samples if start <= s.at <= end), key=lambda s: s.at)
    observed = serving = healthy = timedelta(0)
    episodes = 0
    for i, sample in enumerate(ordered):
        until = ordered[i + 1].at if i + 1 < len(ordered) else end
        span = min(until - sample.at, max_gap)
        observed += span
        serving += span if sample.serving else timedelta(0)
        healthy += span if sample.healthy else timedelta(0)
        if not sample.healthy and (i == 0 or ordered[i - 1].healthy):
            episodes += 1
    latest = ordered[-1] if ordered else None
    return Uptime(pair, end - start, observed, serving, healthy, episodes, latest)


def _percent(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}%" if value < 100 else "100%"


@dataclass(frozen=True)
class Digest:
    """The digest as data: every pair's uptime over the window, its mute, when."""

    items: tuple[Uptime, ...]
    muted: dict[str, datetime | None]
    now: datetime
    hours: int
    #: Pairs a change freeze holds now: until when, and why.
    frozen: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def ranked(self) -> list[Uptime]:
        """Worst first (least BAU), then by name."""
        return sorted(self.items, key=lambda u: (u.share(u.healthy) or -1.0, u.pair))

    @property
    def window(self) -> str:
        """Which window it covers, in words."""
        return f"the last {self.hours} h to {self.now:%H:%M} UTC"

    @property
    def summary(self) -> str:
        not_bau = sum(1 for u in self.items if u.latest is None or not u.latest.healthy)
        return f"{TITLE}: {plural(len(self.items), 'pair')}, {not_bau} not in BAU now"

    def muted_until(self, pair: str) -> datetime | None:
        """The pair's mute, when it is still on."""
        until = self.muted.get(pair)
        return until if until is not None and until > self.now else None


TITLE = "HA daily summary"
#: The digest's footnote, for every front end.
LEGEND = "serving = some node took traffic · BAU = Primary active, Secondary ready"
NO_READINGS = "no readings in this window: is habot's scheduled status check running?"


def facts(item: Uptime) -> list[str]:
    """A pair's line as plain facts: now, serving, BAU, episodes (the renderers decorate
    them)."""
    assert item.latest is not None
    return [
        f"now {item.latest.verdict.label}",
        f"serving {_percent(item.share(item.serving))}",
        f"BAU {_percent(item.share(item.healthy))}",
        f"{plural(item.episodes, 'episode')} off BAU",
    ]


def coverage_note(item: Uptime) -> str | None:
    """How much of the window had readings, when it was not (nearly) all of it."""
    coverage = 100 * (item.observed / item.window) if item.window else 0.0
    if coverage >= 99.5:
        return None
    return f"observed {_percent(coverage)} of the window; the rest had no readings"


def _pair_line(
    item: Uptime, muted_until: datetime | None, frozen: tuple[datetime, str] | None = None
) -> str:
    if item.latest is None:
        text = f":grey_question: *{item.pair}* — {NO_READINGS}"
    else:
        emoji = VERDICT_EMOJI[item.latest.verdict]
        text = f"{emoji} *{item.pair}* — " + " · ".join(facts(item))
        if note := coverage_note(item):
            text += f"\n_{note}_"
    if muted_until is not None:
        text += f"\n:mute: muted until {slack_date(muted_until)}"
    if frozen is not None:
        text += f"\n:snowflake: frozen until {slack_date(frozen[0])}: {escape(frozen[1])}"
    return text


def digest_message(digest: Digest) -> Message:
    """The digest post: one line per pair, worst first, then the pairs left out (if any)."""
    ranked = digest.ranked()
    shown = ranked[:MAX_PAIRS_IN_DIGEST]
    window = f"the last {digest.hours} h to {slack_date(digest.now)}"  # each reader's time
    blocks: list[Block] = [section(f"*{TITLE}* — {window}")]
    blocks += [
        section(_pair_line(u, digest.muted_until(u.pair), digest.frozen.get(u.pair))) for u in shown
    ]
    if len(ranked) > len(shown):
        rest = ", ".join(u.pair for u in ranked[len(shown) :])
        blocks.append(context(f"Also watched, each at least as healthy as those above: {rest}"))
    blocks.append(context(LEGEND))
    return Message(digest.summary, tuple(blocks), in_channel=True)
