"""When a pair's readings deserve a message: consecutive-bad thresholds, one card per
incident updated in place, recovery with hysteresis, mutes and quiet hours.

Pure: a pair's alert state and a new reading go in; the new state and what to send come out.
Flapping cannot storm the channel: an incident opens only after ``alert_after`` bad readings
in a row and closes only after ``max(alert_after, 2)`` good ones, and while it is open every
further reading only updates the one card.

A shape that habot's own approved operation produced and reported on its card (say, failed
over after a switchover) is *announced*: people have just been told, so readings of that
very shape raise no new alert. If the pair stays so for ``remind_after``, one reminder says
so. Any other shape — anything habot did not cause — alerts as usual.

An open incident nobody has acknowledged calls its people again every ``nudge_every`` (in
the card's thread, naming them) — never once someone has acknowledged it, nor while the
pair is muted or in quiet hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum

from habot.core.model import Health, NodeState, Verdict
from habot.core.replies import not_understood_words
from habot.core.verdict import SMB_NEARLY_FULL_PERCENT, NodeView, PairStatus

_QUIET = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
#: An incident ends only after this many good readings in a row, even with alert_after = 1,
#: so a pair flapping on every reading keeps one open card instead of a message per reading.
MIN_GOOD_TO_RESOLVE = 2


def trouble(status: PairStatus) -> str | None:
    """Why a reading is bad (verdict off BAU, health Degraded, share nearly full), or None."""
    if status.verdict is not Verdict.BAU:
        return f"{status.verdict.label}: {status.reason}"
    if status.health is Health.DEGRADED:
        return "HA health is Degraded"
    full = [w for w in status.warnings if w.startswith("SMB share") and "% full" in w]
    if full:
        return f"{full[0]} (≥ {SMB_NEARLY_FULL_PERCENT:g}%)"
    if status.not_understood:
        return (
            f"ha-status has {not_understood_words(status.not_understood)} (an appliance "
            "upgrade?): the verdict may miss what they say"
        )
    return None


def worth_paging(status: PairStatus) -> bool:
    """Whether a bad reading is worth waking someone for: anything :func:`trouble` finds
    but lines not understood in a pair that is otherwise in BAU (that alert waits for the
    morning, in the channel)."""
    return trouble(replace(status, primary=_read(status.primary),
                           secondary=_read(status.secondary))) is not None  # fmt: skip


def _read(view: NodeView) -> NodeView:
    return replace(view, not_understood=())


@dataclass(frozen=True)
class Incident:
    """An alert that has been raised and not yet resolved."""

    reason: str
    since: datetime
    last_seen: datetime
    readings: int
    acknowledged_by: str | None = None  # someone said they are on it
    acknowledged_at: datetime | None = None
    called_at: datetime | None = None  # people were last called: raised, or nudged since
    paged: tuple[str, ...] = ()  # the paging tools (Pager values) asked to wake someone
    paged_at: datetime | None = None

    def nudge_due(self, now: datetime, every: timedelta | None) -> bool:
        """Whether nobody is on it and its people were last called ``every`` ago or more."""
        if every is None or self.acknowledged_by is not None:
            return False
        return now - (self.called_at or self.since) >= every


@dataclass(frozen=True)
class Acknowledgement:
    """Someone said they are on the incident that began at ``since``. Stored apart from
    the state the poll writes, so neither writer can undo the other."""

    since: datetime
    by: str
    at: datetime


def with_acknowledgement(state: AlertState, ack: Acknowledgement | None) -> AlertState:
    """The state, its open incident marked acknowledged when ``ack`` is that incident's
    (an acknowledgement of an earlier incident says nothing about this one)."""
    incident = state.incident
    if ack is None or incident is None or incident.since != ack.since:
        return state
    if incident.acknowledged_by is not None:
        return state  # the first one stands
    marked = replace(incident, acknowledged_by=ack.by, acknowledged_at=ack.at)
    return replace(state, incident=marked)


Shape = tuple[Verdict, NodeState, NodeState, Health | None]


def shape(status: PairStatus) -> Shape:
    """What must stay the same for a reading to be the announced one."""
    return status.verdict, status.primary.state, status.secondary.state, status.health


@dataclass(frozen=True)
class Announced:
    """A pair shape that habot's own operation produced and reported on its card."""

    shape: Shape
    at: datetime
    request: str
    operation: str


@dataclass(frozen=True)
class AlertState:
    """What habot remembers about one pair between readings (persisted across restarts)."""

    bad_streak: int = 0
    good_streak: int = 0
    first_bad_at: datetime | None = None
    incident: Incident | None = None
    muted_until: datetime | None = None
    announced: Announced | None = None  # stored apart: written by the operation service
    reminded: bool = False  # the one reminder for the announced shape was sent


class Kind(StrEnum):
    """What to send."""

    RAISE = "raise"  # post a new alert card
    UPDATE = "update"  # update the open card in place (count, last seen, reason)
    RESOLVE = "resolve"  # reply "resolved after N min" in the card's thread, mark the card
    REMIND = "remind"  # the announced shape has lasted remind_after: one reminder post
    NUDGE = "nudge"  # an open incident nobody acknowledged: call its people again


@dataclass(frozen=True)
class Notice:
    """One thing to tell the alert channel."""

    kind: Kind
    incident: Incident
    quiet: bool = False  # muted or quiet hours: edit the card, but post nothing new


def step(
    state: AlertState,
    status: PairStatus,
    now: datetime,
    alert_after: int,
    in_quiet_hours: bool = False,
    remind_after: timedelta = timedelta(hours=24),
    nudge_every: timedelta | None = None,
) -> tuple[AlertState, list[Notice]]:
    """Apply one reading; return the new state and the notices to send (maybe none). A
    returned state without the ``announced`` it came with means: forget the announcement."""
    if state.announced is not None and status.observed_at < state.announced.at:
        return state, []  # taken before the operation reported its outcome: stale, not news
    muted = state.muted_until is not None and now < state.muted_until
    reason = trouble(status)  # muted: no new alert is raised, nothing new is posted
    known = state.announced is not None and state.announced.shape == shape(status)
    if state.announced is not None and not known:  # left the shape: what follows is news
        state = replace(state, announced=None, reminded=False, bad_streak=0, first_bad_at=None)
    if reason is None:
        return _good(state, now, alert_after, muted, in_quiet_hours)
    if known and state.incident is None:
        return _announced(state, reason, now, remind_after, muted)
    nudge = None if in_quiet_hours else nudge_every
    return _bad(state, reason, now, alert_after, muted, nudge)


def _announced(
    state: AlertState, reason: str, now: datetime, remind_after: timedelta, muted: bool
) -> tuple[AlertState, list[Notice]]:
    """A shape habot's own operation produced and reported: no alert; one reminder when it
    has lasted ``remind_after``."""
    assert state.announced is not None
    first = state.first_bad_at or now
    base = replace(state, bad_streak=state.bad_streak + 1, good_streak=0, first_bad_at=first)
    if state.reminded or muted or now - state.announced.at < remind_after:
        return base, []
    incident = Incident(reason, state.announced.at, now, base.bad_streak)
    return replace(base, reminded=True), [Notice(Kind.REMIND, incident)]


def _bad(
    state: AlertState,
    reason: str,
    now: datetime,
    alert_after: int,
    muted: bool,
    nudge_every: timedelta | None = None,
) -> tuple[AlertState, list[Notice]]:
    streak = state.bad_streak + 1
    first = state.first_bad_at or now
    base = replace(state, bad_streak=streak, good_streak=0, first_bad_at=first)
    if state.incident is not None:
        incident = replace(
            state.incident, reason=reason, last_seen=now, readings=state.incident.readings + 1
        )
        # An edit in place notifies nobody, so it happens even while muted.
        notices = [Notice(Kind.UPDATE, incident, quiet=muted)]
        if not muted and incident.nudge_due(now, nudge_every):
            incident = replace(incident, called_at=now)
            notices.append(Notice(Kind.NUDGE, incident))
        return replace(base, incident=incident), notices
    if streak < alert_after or muted:
        return base, []
    incident = Incident(reason, first, now, streak, called_at=now)
    return replace(base, incident=incident), [Notice(Kind.RAISE, incident)]


def _good(
    state: AlertState, now: datetime, alert_after: int, muted: bool, quiet: bool
) -> tuple[AlertState, list[Notice]]:
    streak = state.good_streak + 1
    if state.incident is None:
        return replace(state, bad_streak=0, good_streak=streak, first_bad_at=None), []
    if streak < max(alert_after, MIN_GOOD_TO_RESOLVE):  # hysteresis
        return replace(state, bad_streak=0, good_streak=streak), []
    cleared = AlertState(
        good_streak=streak, muted_until=state.muted_until, announced=state.announced
    )
    ended = replace(state.incident, last_seen=now)
    # The card must not go on claiming an incident that ended, muted or not.
    return cleared, [Notice(Kind.RESOLVE, ended, quiet=quiet or muted)]


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """ "22:00-07:00" → (22:00, 07:00); "" → None; ValueError otherwise."""
    if not text.strip():
        return None
    match = _QUIET.match(text.strip())
    if not match:
        raise ValueError(f"{text!r}: write quiet hours as HH:MM-HH:MM, e.g. '22:00-07:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise ValueError(f"{text!r}: not a valid time range")
    return time(h1, m1), time(h2, m2)


def in_quiet_hours(window: tuple[time, time] | None, local: datetime) -> bool:
    """Whether a local time falls in the window (which may span midnight)."""
    if window is None:
        return False
    start, end = window
    now = local.time().replace(second=0, microsecond=0)
    return start <= now < end if start < end else now >= start or now < end


def resolved_after(incident: Incident) -> str:
    """ "resolved after 12 min" for the card and the thread reply."""
    minutes = max(round((incident.last_seen - incident.since) / timedelta(minutes=1)), 1)
    return f"resolved after {minutes} min"
