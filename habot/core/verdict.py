"""A pair's verdict, derived from both nodes' own reports and cross-checked between them.

Each node's state is what it says about itself (the role marked "this host", or its
configured role when nothing is marked). Its peer's description of it is compared, and any
difference is a *disagreement*: shown, never silently resolved. The verdict is derived
by ordered rules; anything the rules do not recognise is ``unknown`` with the reason.

What a node says about its peer counts most when habot cannot read the peer itself: habot
losing its own path to a node (a changed host key, a firewall, a route) is not that node
being down. A node habot cannot reach but whose peer still sees it up is
``primary_unreachable`` / ``secondary_unreachable`` — never ``*_down``, which would invite
a failover onto a live server (two Active servers: split brain).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.status_parser import StatusReport

SMB_NEARLY_FULL_PERCENT = 80.0

# "Inactive" is the appliance's umbrella word for a demoted Primary or a standby Secondary.
_EQUIVALENT = {
    NodeState.INACTIVE: {NodeState.DEMOTED, NodeState.STANDBY},
    NodeState.DEMOTED: {NodeState.INACTIVE},
    NodeState.STANDBY: {NodeState.INACTIVE},
}
_DOWN = {NodeState.UNREACHABLE, NodeState.FAILED}
_WAITING = {NodeState.STANDBY, NodeState.INACTIVE}
_NOT_SERVING = {NodeState.DEMOTED, NodeState.INACTIVE, NodeState.STANDBY, *_DOWN}
#: States of a node taking traffic.
SERVING = frozenset({NodeState.ACTIVE, NodeState.PROMOTED_ACTIVE})
#: States that say nothing about a node's role: habot could not read it.
UNREAD = frozenset({NodeState.UNREACHABLE, NodeState.UNKNOWN})
_SEEN_UP = {
    Role.PRIMARY: Verdict.PRIMARY_UNREACHABLE,
    Role.SECONDARY: Verdict.SECONDARY_UNREACHABLE,
}


@dataclass(frozen=True)
class NodeReading:
    """What habot got back from asking one node (input to :func:`judge_pair`)."""

    role: Role
    address: str
    observed_at: datetime
    report: StatusReport | None = None
    error: str | None = None
    reachable: bool = True
    offered: frozenset[str] | None = None  # the ha-* commands its console listed, if any


@dataclass(frozen=True)
class NodeView:
    """One node as the verdict sees it."""

    role: Role
    address: str
    reachable: bool
    state: NodeState
    ip: str | None
    error: str | None
    observed_at: datetime
    raw: str | None
    peer_says: NodeState | None = None  # the peer's description, kept when habot cannot read it
    offered: frozenset[str] | None = None  # what its console listed at login (None: no list)
    #: How its peer's own report describes it, whenever the peer could be read (None: it
    #: could not, or its report has no line for this node).
    seen_by_peer: NodeState | None = None
    #: The lines of its ha-status no rule understood (an appliance upgrade may add some).
    not_understood: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairStatus:
    """The judged status of one pair."""

    pair: str
    verdict: Verdict
    reason: str
    health: Health | None
    floating_ip: str | None
    primary: NodeView
    secondary: NodeView
    disagreements: tuple[str, ...]
    warnings: tuple[str, ...]
    observed_at: datetime

    def node(self, role: Role) -> NodeView:
        """The view of the node with this role."""
        return self.primary if role is Role.PRIMARY else self.secondary

    @property
    def not_understood(self) -> int:
        """How many lines of both nodes' ha-status no rule understood."""
        return len(self.primary.not_understood) + len(self.secondary.not_understood)


def bau_last(verdict: Verdict | None) -> bool:
    """The order people read pairs in (a sort key): those that need a look — not in BAU,
    or not read yet — before those in BAU; a stable sort keeps the configured order."""
    return verdict is Verdict.BAU


def serving_changed(known: Mapping[Role, NodeState], after: PairStatus) -> bool:
    """Whether a node started or stopped serving (Active / Promoted Active) since the last
    reading in which it could be read (``known``) — the role change that starts the
    operation cooldown. A node unreadable now, or never read before, is no evidence."""
    for role in Role:
        then, now = known.get(role), after.node(role).state
        if then is None or then in UNREAD or now in UNREAD:
            continue
        if (then in SERVING) is not (now in SERVING):
            return True
    return False


def judge_pair(
    pair: str,
    primary: NodeReading,
    secondary: NodeReading,
    configured_floating_ip: str | None = None,
) -> PairStatus:
    """Judge a pair from both nodes' readings; pure and total."""
    readings = {Role.PRIMARY: primary, Role.SECONDARY: secondary}
    disagreements: list[str] = []
    views = {role: _view(r, readings[role.peer], disagreements) for role, r in readings.items()}
    disagreements += _cross_checks(readings, views, configured_floating_ip)
    health = _pair_health(readings.values())
    verdict, reason = _unreachable_but_seen(views) or _decide(
        views[Role.PRIMARY].state, views[Role.SECONDARY].state, health
    )
    if verdict is Verdict.BAU and disagreements:
        verdict, reason = Verdict.UNKNOWN, "the nodes disagree: " + "; ".join(disagreements)
    return PairStatus(
        pair=pair,
        verdict=verdict,
        reason=reason,
        health=health,
        floating_ip=_floating_ip(readings.values(), configured_floating_ip),
        primary=views[Role.PRIMARY],
        secondary=views[Role.SECONDARY],
        disagreements=tuple(disagreements),
        warnings=tuple(_warnings(readings.values())),
        observed_at=max(primary.observed_at, secondary.observed_at),
    )


def _usable(reading: NodeReading) -> StatusReport | None:
    """The reading's report when it is a parsed HA report (not standalone)."""
    report = reading.report
    if reading.reachable and report and report.parsed and not report.standalone:
        return report
    return None


def _view(reading: NodeReading, peer: NodeReading, disagreements: list[str]) -> NodeView:
    state, ip, error = _self_state(reading, disagreements)
    return NodeView(
        role=reading.role,
        address=reading.address,
        reachable=reading.reachable,
        state=state,
        ip=ip,
        error=error,
        observed_at=reading.observed_at,
        raw=reading.report.raw if reading.report else None,
        peer_says=_peer_says(reading.role, peer) if not reading.reachable else None,
        offered=reading.offered,
        seen_by_peer=_peer_says(reading.role, peer),
        not_understood=reading.report.unrecognised if reading.report else (),
    )


def _peer_says(role: Role, peer: NodeReading) -> NodeState | None:
    """How the peer's own report describes ``role`` (None when the peer cannot be read)."""
    report = _usable(peer)
    entry = report.entry(role) if report else None
    return entry.state if entry else None


def _unreachable_but_seen(views: dict[Role, NodeView]) -> tuple[Verdict, str] | None:
    """habot cannot reach a node that its peer still sees up: habot's path is broken, not
    the node. Checked before every other rule, so no such reading is ever ``*_down``."""
    for role in Role:
        view, peer = views[role], views[role.peer]
        seen = view.peer_says
        if view.state is NodeState.UNREACHABLE and seen is not None and seen not in _DOWN:
            return _SEEN_UP[role], (
                f"habot cannot reach the {role.label}; the {role.peer.label} still sees it "
                f"{_word(seen)} ({role.peer.label} {_word(peer.state)}) — check habot's network "
                "path or the host key, not the appliance"
            )
    return None


def _self_state(
    reading: NodeReading, disagreements: list[str]
) -> tuple[NodeState, str | None, str | None]:
    """The node's state, its IP and an error, from its own report."""
    report = reading.report
    if not reading.reachable:
        return NodeState.UNREACHABLE, None, reading.error or "not reachable"
    if report is None:
        return NodeState.UNKNOWN, None, reading.error or "no ha-status output"
    if not report.parsed:
        return NodeState.UNKNOWN, None, reading.error or "ha-status output could not be parsed"
    if report.standalone:
        return NodeState.STANDALONE, None, reading.error
    marked = report.this_host
    if marked is not None and marked is not reading.role:
        disagreements.append(
            f"the node configured as {reading.role} ({reading.address}) "
            f"marks the {marked.label} as 'this host'"
        )
        return NodeState.UNKNOWN, None, "it does not report itself as the configured role"
    entry = report.entry(reading.role)
    assert entry is not None, "a parsed HA report describes both roles"
    assert entry.state is not None
    return entry.state, entry.ip, reading.error


def _cross_checks(
    readings: dict[Role, NodeReading],
    views: dict[Role, NodeView],
    configured_floating_ip: str | None,
) -> list[str]:
    found: list[str] = []
    for role in Role:
        own, peer = _usable(readings[role]), _usable(readings[role.peer])
        if own is None or peer is None:
            continue
        seen = peer.entry(role)
        assert seen is not None, "a parsed HA report describes both roles"
        assert seen.state is not None
        view = views[role]
        if view.state is not NodeState.UNKNOWN and not _same_state(seen.state, view.state):
            found.append(
                f"the {role.peer} reports the {role.label} as {_word(seen.state)}; "
                f"the {role} reports itself {_word(view.state)}"
            )
        if seen.ip and view.ip and seen.ip != view.ip:
            found.append(f"the {role.peer} lists the {role} at {seen.ip}; it reports {view.ip}")
    return found + _agreement_checks(readings.values(), configured_floating_ip)


def _agreement_checks(
    readings: Iterable[NodeReading], configured_floating_ip: str | None
) -> list[str]:
    """Health and floating IP must agree between the nodes and with the config."""
    usable = [(r.role, rep) for r in readings if (rep := _usable(r))]
    found: list[str] = []
    healths = {rep.health for _, rep in usable if rep.health}
    if len(healths) > 1:
        said = ", ".join(f"{role} says {_word(rep.health)}" for role, rep in usable if rep.health)
        found.append(f"the nodes report different HA health ({said})")
    floating = {rep.floating_ip for _, rep in usable if rep.floating_ip}
    if len(floating) > 1:
        found.append("the nodes report different floating IPs: " + ", ".join(sorted(floating)))
    elif floating and configured_floating_ip and floating != {configured_floating_ip}:
        found.append(
            f"the nodes report floating IP {next(iter(floating))}; "
            f"the configuration says {configured_floating_ip}"
        )
    return found


def _same_state(a: NodeState, b: NodeState) -> bool:
    return a is b or b in _EQUIVALENT.get(a, set())


def _pair_health(readings: Iterable[NodeReading]) -> Health | None:
    reports = [rep for r in readings if (rep := _usable(r))]
    healths = {rep.health for rep in reports}
    if Health.DEGRADED in healths:
        return Health.DEGRADED
    return Health.OK if Health.OK in healths else None


def _floating_ip(readings: Iterable[NodeReading], configured: str | None) -> str | None:
    reported = [rep.floating_ip for r in readings if (rep := _usable(r)) and rep.floating_ip]
    return reported[0] if reported else configured


def _warnings(readings: Iterable[NodeReading]) -> list[str]:
    """Warnings from every understood report; the same warning from both nodes is one line."""
    found: dict[str, list[str]] = {}
    for reading in readings:
        report = reading.report
        if reading.reachable and report is not None and report.parsed:
            for text in _report_warnings(report):
                found.setdefault(text, []).append(reading.role.value)
    return [f"{text} ({', '.join(roles)})" for text, roles in found.items()]


def _report_warnings(report: StatusReport) -> list[str]:
    found = ["HA health is Degraded"] if report.health is Health.DEGRADED else []
    if report.smb_not_configured:
        found.append("SMB share not configured")
    full = report.smb_percent_full
    if full is not None and full >= SMB_NEARLY_FULL_PERCENT:
        found.append(f"SMB share {full:g}% full")
    return found + list(report.anomalies)


def _word(value: NodeState | Health) -> str:
    return {"promoted_active": "Promoted Active", "ok": "OK"}.get(value, value.capitalize())


Rule = Callable[[NodeState, NodeState, Health | None], tuple[Verdict, str] | None]


def _decide(p: NodeState, s: NodeState, health: Health | None) -> tuple[Verdict, str]:
    for rule in _RULES:
        if decided := rule(p, s, health):
            return decided
    return Verdict.UNKNOWN, f"no known pattern: Primary {_word(p)}, Secondary {_word(s)}"


def _both_unreachable(p: NodeState, s: NodeState, _: Health | None) -> tuple[Verdict, str] | None:
    if p is s is NodeState.UNREACHABLE:
        return Verdict.UNREACHABLE, "neither node could be reached"
    return None


def _standalone(p: NodeState, s: NodeState, _: Health | None) -> tuple[Verdict, str] | None:
    if p is s is NodeState.STANDALONE:
        return Verdict.STANDALONE, "both servers are standalone (no HA pair)"
    return None


def _half_pair(p: NodeState, s: NodeState, _: Health | None) -> tuple[Verdict, str] | None:
    if (p is NodeState.STANDALONE) is not (s is NodeState.STANDALONE):
        alone, other = (Role.PRIMARY, s) if p is NodeState.STANDALONE else (Role.SECONDARY, p)
        said = "cannot be read" if other in UNREAD else "is still configured for HA"
        return Verdict.HALF_PAIR, (
            f"the {alone.label} is standalone; the {alone.peer.label} {said} ({_word(other)}) "
            "— a half pair, as after make-standalone on one server"
        )
    return None


def _split_brain(p: NodeState, s: NodeState, _: Health | None) -> tuple[Verdict, str] | None:
    if p is NodeState.ACTIVE and s in {NodeState.ACTIVE, NodeState.PROMOTED_ACTIVE}:
        return Verdict.SPLIT_BRAIN, f"both servers are active (Secondary {_word(s)})"
    return None


def _primary_down(p: NodeState, s: NodeState, _: Health | None) -> tuple[Verdict, str] | None:
    if p in _DOWN and s in _WAITING:
        return Verdict.PRIMARY_DOWN, f"Primary {_word(p)}, Secondary {_word(s)}"
    return None


def _failed_over(p: NodeState, s: NodeState, _: Health | None) -> tuple[Verdict, str] | None:
    if s is NodeState.PROMOTED_ACTIVE and p in _NOT_SERVING:
        return Verdict.FAILED_OVER, f"Secondary Promoted Active, Primary {_word(p)}"
    return None


def _secondary_down(p: NodeState, s: NodeState, _: Health | None) -> tuple[Verdict, str] | None:
    if p is NodeState.ACTIVE and s in _DOWN:
        return Verdict.SECONDARY_DOWN, f"Primary Active, Secondary {_word(s)}"
    return None


def _degraded(p: NodeState, s: NodeState, health: Health | None) -> tuple[Verdict, str] | None:
    if health is Health.DEGRADED:
        return Verdict.DEGRADED, f"HA health Degraded (Primary {_word(p)}, Secondary {_word(s)})"
    return None


def _bau(p: NodeState, s: NodeState, health: Health | None) -> tuple[Verdict, str] | None:
    if p is NodeState.ACTIVE and s in _WAITING:
        said = f", health {_word(health)}" if health else ", health not reported"
        return Verdict.BAU, f"Primary Active, Secondary {_word(s)}{said}"
    return None


_RULES: tuple[Rule, ...] = (
    _both_unreachable,
    _standalone,
    _half_pair,
    _split_brain,
    _primary_down,
    _failed_over,
    _secondary_down,
    _degraded,
    _bau,
)
