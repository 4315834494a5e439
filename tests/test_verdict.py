"""A pair's verdict is derived from both nodes' own reports, never invented."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.status_parser import parse_status
from habot.core.verdict import NodeReading, judge_pair, serving_changed

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
WORDS = {"promoted_active": "Promoted Active"}
UNREACHABLE = "unreachable"
GARBAGE = "garbage"
STANDALONE = "standalone"


def ha_output(primary: str, secondary: str, me: Role, health: str = "OK", extra: str = "") -> str:
    """An ha-status text as the node `me` would print it."""
    mark = {me: " - this host", me.peer: ""}
    return (
        f"Primary: {WORDS.get(primary, primary.capitalize())} 10.0.0.1{mark[Role.PRIMARY]}\n"
        f"Secondary: {WORDS.get(secondary, secondary.capitalize())} 10.0.0.2"
        f"{mark[Role.SECONDARY]}\n"
        f"High Availability status: {health}\n{extra}"
    )


def reading(role: Role, text: str) -> NodeReading:
    """A node reading from a text, or from one of the sentinels above."""
    address = "10.0.0.1" if role is Role.PRIMARY else "10.0.0.2"
    if text == UNREACHABLE:
        return NodeReading(role, address, T0, error="connection refused", reachable=False)
    if text == GARBAGE:
        return NodeReading(role, address, T0, report=parse_status("\x00%%garbage"))
    if text == STANDALONE:
        return NodeReading(role, address, T0, report=parse_status("Standalone server."))
    return NodeReading(role, address, T0, report=parse_status(text))


def consistent(p: str, s: str, health: str = "OK") -> tuple[str, str]:
    """Both nodes telling the same story about the pair."""
    return ha_output(p, s, Role.PRIMARY, health), ha_output(p, s, Role.SECONDARY, health)


def peer_sees(p: str, s: str, health: str, who_answers: Role) -> tuple[str, str]:
    """Only one node answers; it reports the pair as given."""
    text = ha_output(p, s, who_answers, health)
    return (text, UNREACHABLE) if who_answers is Role.PRIMARY else (UNREACHABLE, text)


DECISION_TABLE = [
    # (primary output, secondary output), expected verdict, primary state, secondary state
    (consistent("active", "standby"), Verdict.BAU, NodeState.ACTIVE, NodeState.STANDBY),
    (consistent("active", "inactive"), Verdict.BAU, NodeState.ACTIVE, NodeState.INACTIVE),
    (
        consistent("active", "standby", "Degraded"),
        Verdict.DEGRADED,
        NodeState.ACTIVE,
        NodeState.STANDBY,
    ),
    (
        consistent("demoted", "promoted_active", "Degraded"),
        Verdict.FAILED_OVER,
        NodeState.DEMOTED,
        NodeState.PROMOTED_ACTIVE,
    ),
    (
        peer_sees("failed", "promoted_active", "Degraded", Role.SECONDARY),
        Verdict.FAILED_OVER,
        NodeState.UNREACHABLE,
        NodeState.PROMOTED_ACTIVE,
    ),
    (
        (
            ha_output("active", "failed", Role.PRIMARY, "Degraded"),
            ha_output("failed", "promoted_active", Role.SECONDARY, "Degraded"),
        ),
        Verdict.SPLIT_BRAIN,
        NodeState.ACTIVE,
        NodeState.PROMOTED_ACTIVE,
    ),
    (
        consistent("active", "active", "Degraded"),
        Verdict.SPLIT_BRAIN,
        NodeState.ACTIVE,
        NodeState.ACTIVE,
    ),
    (
        peer_sees("failed", "standby", "Degraded", Role.SECONDARY),
        Verdict.PRIMARY_DOWN,
        NodeState.UNREACHABLE,
        NodeState.STANDBY,
    ),
    (
        peer_sees("active", "failed", "Degraded", Role.PRIMARY),
        Verdict.SECONDARY_DOWN,
        NodeState.ACTIVE,
        NodeState.UNREACHABLE,
    ),
    ((UNREACHABLE, UNREACHABLE), Verdict.UNREACHABLE, NodeState.UNREACHABLE, NodeState.UNREACHABLE),
    ((STANDALONE, STANDALONE), Verdict.STANDALONE, NodeState.STANDALONE, NodeState.STANDALONE),
    (
        (GARBAGE, ha_output("active", "standby", Role.SECONDARY)),
        Verdict.UNKNOWN,
        NodeState.UNKNOWN,
        NodeState.STANDBY,
    ),
    (
        (ha_output("active", "failed", Role.PRIMARY, "Degraded"), STANDALONE),
        Verdict.HALF_PAIR,
        NodeState.ACTIVE,
        NodeState.STANDALONE,
    ),
    (
        (STANDALONE, ha_output("failed", "standby", Role.SECONDARY, "Degraded")),
        Verdict.HALF_PAIR,
        NodeState.STANDALONE,
        NodeState.STANDBY,
    ),
    (
        peer_sees("active", "standby", "OK", Role.SECONDARY),
        Verdict.PRIMARY_UNREACHABLE,
        NodeState.UNREACHABLE,
        NodeState.STANDBY,
    ),
    (
        peer_sees("active", "standby", "OK", Role.PRIMARY),
        Verdict.SECONDARY_UNREACHABLE,
        NodeState.ACTIVE,
        NodeState.UNREACHABLE,
    ),
    (consistent("demoted", "standby"), Verdict.UNKNOWN, NodeState.DEMOTED, NodeState.STANDBY),
    ((GARBAGE, UNREACHABLE), Verdict.UNKNOWN, NodeState.UNKNOWN, NodeState.UNREACHABLE),
]


# habot cannot read one node; the other answers, describing it. (unread role, the peer's
# view of it, the peer's own state, health) → verdict. A node its peer sees up is never
# "down": only the peer reporting it Failed makes it so.
UNREAD_TABLE = [
    (Role.PRIMARY, "active", "standby", "OK", Verdict.PRIMARY_UNREACHABLE),
    (Role.PRIMARY, "active", "standby", "Degraded", Verdict.PRIMARY_UNREACHABLE),
    (Role.PRIMARY, "active", "inactive", "OK", Verdict.PRIMARY_UNREACHABLE),
    (Role.PRIMARY, "active", "active", "Degraded", Verdict.PRIMARY_UNREACHABLE),
    (Role.PRIMARY, "demoted", "promoted_active", "OK", Verdict.PRIMARY_UNREACHABLE),
    (Role.PRIMARY, "inactive", "promoted_active", "Degraded", Verdict.PRIMARY_UNREACHABLE),
    (Role.PRIMARY, "standby", "standby", "Degraded", Verdict.PRIMARY_UNREACHABLE),
    (Role.PRIMARY, "failed", "standby", "OK", Verdict.PRIMARY_DOWN),
    (Role.PRIMARY, "failed", "standby", "Degraded", Verdict.PRIMARY_DOWN),
    (Role.PRIMARY, "failed", "inactive", "Degraded", Verdict.PRIMARY_DOWN),
    (Role.PRIMARY, "failed", "promoted_active", "Degraded", Verdict.FAILED_OVER),
    (Role.SECONDARY, "standby", "active", "OK", Verdict.SECONDARY_UNREACHABLE),
    (Role.SECONDARY, "standby", "active", "Degraded", Verdict.SECONDARY_UNREACHABLE),
    (Role.SECONDARY, "inactive", "active", "OK", Verdict.SECONDARY_UNREACHABLE),
    (Role.SECONDARY, "promoted_active", "demoted", "OK", Verdict.SECONDARY_UNREACHABLE),
    (Role.SECONDARY, "active", "active", "Degraded", Verdict.SECONDARY_UNREACHABLE),
    (Role.SECONDARY, "failed", "active", "OK", Verdict.SECONDARY_DOWN),
    (Role.SECONDARY, "failed", "active", "Degraded", Verdict.SECONDARY_DOWN),
]


@pytest.mark.parametrize(("unread", "seen", "peer_state", "health", "verdict"), UNREAD_TABLE)
def test_a_node_habot_cannot_read_is_judged_by_its_peers_words(
    unread: Role, seen: str, peer_state: str, health: str, verdict: Verdict
) -> None:
    """Unreadable node + the peer's view of it + the peer's own state + health → verdict."""
    states = {unread: seen, unread.peer: peer_state}
    outputs = peer_sees(states[Role.PRIMARY], states[Role.SECONDARY], health, unread.peer)
    status = judge_pair(
        "prod", reading(Role.PRIMARY, outputs[0]), reading(Role.SECONDARY, outputs[1])
    )
    assert status.verdict is verdict, status.reason
    assert status.node(unread).state is NodeState.UNREACHABLE
    assert status.node(unread).peer_says is NodeState(seen)


def test_unreachable_verdict_says_where_to_look() -> None:
    """The words point at habot's own path, not at the appliance."""
    status = judge_pair(
        "prod",
        reading(Role.PRIMARY, UNREACHABLE),
        reading(Role.SECONDARY, ha_output("active", "standby", Role.SECONDARY)),
    )
    assert status.reason.startswith(
        "habot cannot reach the Primary; the Secondary still sees it Active"
    )
    assert "check habot's network path or the host key, not the appliance" in status.reason


def test_an_unparsed_peer_cannot_vouch_for_an_unreachable_node() -> None:
    """A peer whose report habot cannot read says nothing: the pair is unknown (fail closed)."""
    status = judge_pair(
        "prod", reading(Role.PRIMARY, UNREACHABLE), reading(Role.SECONDARY, GARBAGE)
    )
    assert status.verdict is Verdict.UNKNOWN
    assert status.primary.peer_says is None


@pytest.mark.parametrize(("outputs", "verdict", "p_state", "s_state"), DECISION_TABLE)
def test_decision_table(
    outputs: tuple[str, str], verdict: Verdict, p_state: NodeState, s_state: NodeState
) -> None:
    """Every verdict arises from the node states that define it."""
    status = judge_pair(
        "prod", reading(Role.PRIMARY, outputs[0]), reading(Role.SECONDARY, outputs[1])
    )
    assert (status.verdict, status.primary.state, status.secondary.state) == (
        verdict,
        p_state,
        s_state,
    )
    assert status.reason


def test_every_verdict_is_in_the_decision_table() -> None:
    """The table above covers the whole Verdict vocabulary."""
    assert {row[1] for row in DECISION_TABLE} == set(Verdict)


def test_peer_contradiction_is_a_disagreement_and_not_bau() -> None:
    """If the Primary says the Secondary failed while the Secondary says Standby, it is not BAU."""
    status = judge_pair(
        "prod",
        reading(Role.PRIMARY, ha_output("active", "failed", Role.PRIMARY)),
        reading(Role.SECONDARY, ha_output("active", "standby", Role.SECONDARY)),
    )
    assert status.verdict is Verdict.UNKNOWN
    assert status.disagreements == (
        "the primary reports the Secondary as Failed; the secondary reports itself Standby",
    )


def test_inactive_and_demoted_are_not_a_disagreement() -> None:
    """ "Inactive" is the appliance's umbrella word for a demoted Primary."""
    status = judge_pair(
        "prod",
        reading(Role.PRIMARY, ha_output("demoted", "promoted_active", Role.PRIMARY)),
        reading(Role.SECONDARY, ha_output("inactive", "promoted_active", Role.SECONDARY)),
    )
    assert status.disagreements == ()
    assert status.verdict is Verdict.FAILED_OVER


def test_node_claiming_the_other_role_is_unknown_with_disagreement() -> None:
    """A node configured as Primary that marks the Secondary as "this host" is not trusted."""
    status = judge_pair(
        "prod",
        reading(Role.PRIMARY, ha_output("active", "standby", Role.SECONDARY)),
        reading(Role.SECONDARY, ha_output("active", "standby", Role.SECONDARY)),
    )
    assert status.primary.state is NodeState.UNKNOWN
    assert status.verdict is Verdict.UNKNOWN
    assert "marks the Secondary as 'this host'" in status.disagreements[0]


def test_unmarked_output_uses_the_configured_role() -> None:
    """Without a "this host" marker, a node is read as the role it is configured as."""
    text = "Primary: Active 10.0.0.1\nSecondary: Standby 10.0.0.2\nHA status: OK"
    status = judge_pair("prod", reading(Role.PRIMARY, text), reading(Role.SECONDARY, text))
    assert status.verdict is Verdict.BAU


def test_health_disagreement_is_reported_and_pair_is_degraded() -> None:
    """Nodes reporting different health: shown, and Degraded wins."""
    status = judge_pair(
        "prod",
        reading(Role.PRIMARY, ha_output("active", "standby", Role.PRIMARY, "OK")),
        reading(Role.SECONDARY, ha_output("active", "standby", Role.SECONDARY, "Degraded")),
    )
    assert status.health is Health.DEGRADED
    assert status.verdict is Verdict.DEGRADED
    assert status.disagreements == (
        "the nodes report different HA health (primary says OK, secondary says Degraded)",
    )


def test_floating_ip_differs_from_configuration() -> None:
    """A floating IP other than the configured one is a disagreement."""
    extra = "Floating IP: 10.0.0.10\n"
    p = ha_output("active", "standby", Role.PRIMARY, extra=extra)
    s = ha_output("active", "standby", Role.SECONDARY, extra=extra)
    status = judge_pair("prod", reading(Role.PRIMARY, p), reading(Role.SECONDARY, s), "10.0.0.99")
    assert status.floating_ip == "10.0.0.10"
    assert status.disagreements == (
        "the nodes report floating IP 10.0.0.10; the configuration says 10.0.0.99",
    )
    assert status.verdict is Verdict.UNKNOWN


def test_smb_warnings_are_listed_once_per_node() -> None:
    """SMB advice and nearly-full shares are warnings, not verdicts."""
    p = ha_output("active", "standby", Role.PRIMARY, extra="SMB share is 91% full\n")
    s = ha_output("active", "standby", Role.SECONDARY, extra="SMB share: not configured\n")
    status = judge_pair("prod", reading(Role.PRIMARY, p), reading(Role.SECONDARY, s))
    assert status.verdict is Verdict.BAU
    assert status.warnings == (
        "SMB share 91% full (primary)",
        "SMB share not configured (secondary)",
    )


def test_share_below_threshold_is_not_a_warning() -> None:
    """79% full is below the vendor's 80% warning level."""
    p = ha_output("active", "standby", Role.PRIMARY, extra="SMB share is 79% full\n")
    status = judge_pair("prod", reading(Role.PRIMARY, p), reading(Role.SECONDARY, UNREACHABLE))
    assert status.warnings == ()


def test_unreachable_node_keeps_its_reason() -> None:
    """An unreachable node carries the error that made it so."""
    status = judge_pair(
        "prod", reading(Role.PRIMARY, UNREACHABLE), reading(Role.SECONDARY, UNREACHABLE)
    )
    assert status.primary.error == "connection refused"
    assert not status.primary.reachable


@pytest.mark.parametrize(
    ("known", "now", "changed"),
    [
        ({Role.PRIMARY: "active", Role.SECONDARY: "standby"}, ("demoted", "promoted_active"), True),
        ({Role.PRIMARY: "active", Role.SECONDARY: "standby"}, ("unreachable", "standby"), False),
        (
            {Role.PRIMARY: "active", Role.SECONDARY: "standby"},
            ("unreachable", "promoted_active"),
            True,
        ),
        ({Role.PRIMARY: "active", Role.SECONDARY: "standby"}, ("active", "standalone"), False),
        ({Role.PRIMARY: "active", Role.SECONDARY: "promoted_active"}, ("active", "unknown"), False),
        ({}, ("active", "standby"), False),
    ],
)
def test_a_role_change_is_a_readable_node_starting_or_stopping_serving(
    known: dict[Role, str], now: tuple[str, str], changed: bool
) -> None:
    """Compared with each node's last readable state; an unreadable node is no evidence."""
    p, s = now
    status = judge_pair(
        "prod",
        NodeReading(Role.PRIMARY, "a", T0, reachable=p != "unreachable"),
        NodeReading(Role.SECONDARY, "b", T0),
    )
    views = {Role.PRIMARY: p, Role.SECONDARY: s}
    status = replace(
        status,
        primary=replace(status.primary, state=NodeState(views[Role.PRIMARY])),
        secondary=replace(status.secondary, state=NodeState(views[Role.SECONDARY])),
    )
    before = {role: NodeState(state) for role, state in known.items()}
    assert serving_changed(before, status) is changed
