"""Operations × verdicts: allowed (on which node) or refused with what to do instead."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from habot.core.catalogue import HaCommand
from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.operations import Operation, PreconditionFailed, Procedures, SwitchoverVia
from habot.core.outcomes import Outcome, topology, topology_change, verify_outcome
from habot.core.preflight import preflight
from habot.core.verdict import NodeView, PairStatus

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
A, SB, D, PA, U, SA, UNK = (
    NodeState.ACTIVE,
    NodeState.STANDBY,
    NodeState.DEMOTED,
    NodeState.PROMOTED_ACTIVE,
    NodeState.UNREACHABLE,
    NodeState.STANDALONE,
    NodeState.UNKNOWN,
)


def status(
    verdict: Verdict,
    p: NodeState,
    s: NodeState,
    health: Health | None = Health.OK,
    peer_says: NodeState | None = None,
) -> PairStatus:
    """A judged pair with the given node states (``peer_says``: what the peer reports of
    an unreachable node)."""

    def view(role: Role, state: NodeState) -> NodeView:
        return NodeView(
            role,
            f"{role}.example:22",
            state is not U,
            state,
            None,
            "connection refused" if state is U else None,
            T0,
            "raw",
            peer_says if state is U else None,
        )

    return PairStatus(
        "prod",
        verdict,
        f"Primary {p.value}, Secondary {s.value}",
        health,
        None,
        view(Role.PRIMARY, p),
        view(Role.SECONDARY, s),
        (),
        (),
        T0,
    )


PAIRS = {
    "bau": status(Verdict.BAU, A, SB),
    "failed_over": status(Verdict.FAILED_OVER, D, PA),
    "failed_over, primary gone": status(Verdict.FAILED_OVER, U, PA, Health.DEGRADED),
    "split_brain": status(Verdict.SPLIT_BRAIN, A, PA, Health.DEGRADED),
    "degraded": status(Verdict.DEGRADED, A, SB, Health.DEGRADED),
    "primary_down": status(Verdict.PRIMARY_DOWN, U, SB, Health.DEGRADED),
    "secondary_down": status(Verdict.SECONDARY_DOWN, A, U, Health.DEGRADED),
    "unreachable": status(Verdict.UNREACHABLE, U, U, None),
    "standalone": status(Verdict.STANDALONE, SA, SA, None),
    "unknown": status(Verdict.UNKNOWN, UNK, SB),
    "primary_unreachable": status(Verdict.PRIMARY_UNREACHABLE, U, SB, Health.OK, A),
    "secondary_unreachable": status(Verdict.SECONDARY_UNREACHABLE, A, U, Health.OK, SB),
    "half pair, secondary alone": status(Verdict.HALF_PAIR, A, SA, Health.DEGRADED),
    "half pair, primary alone": status(Verdict.HALF_PAIR, SA, SB, Health.DEGRADED),
}
UNREACHABLE_NOT_DOWN = "Check habot's own path"
P, S = Role.PRIMARY, Role.SECONDARY
FAIL_CLOSED = "cannot evaluate the preconditions"

# Each cell: the node it runs on, or a phrase the refusal must contain (what to do instead).
TABLE: dict[Operation, dict[str, Role | str]] = {
    Operation.SWITCHOVER: {
        "bau": P,
        "failed_over": "use `failback`",
        "failed_over, primary gone": "use `failback`",
        "split_brain": "use `demote-primary`",
        "degraded": "`initialise` to re-pair",
        "primary_down": "use `failover`",
        "secondary_down": "bring it back",
        "unreachable": FAIL_CLOSED,
        "standalone": "use `initialise`",
        "unknown": FAIL_CLOSED,
        "primary_unreachable": UNREACHABLE_NOT_DOWN,
        "secondary_unreachable": UNREACHABLE_NOT_DOWN,
        "half pair, secondary alone": "make the Secondary standalone",
        "half pair, primary alone": "make the Secondary standalone",
    },
    Operation.FAILOVER: {
        "bau": "For a planned hand-over use `switchover`",
        "failed_over": "use `failback`",
        "failed_over, primary gone": "use `failback`",
        "split_brain": "use `demote-primary`",
        "degraded": "`initialise` to re-pair",
        "primary_down": S,
        "secondary_down": "bring it back",
        "unreachable": FAIL_CLOSED,
        "standalone": "use `initialise`",
        "unknown": FAIL_CLOSED,
        "primary_unreachable": "no override can make that safe",
        "secondary_unreachable": UNREACHABLE_NOT_DOWN,
        "half pair, secondary alone": "make the Secondary standalone",
        "half pair, primary alone": "make the Secondary standalone",
    },
    Operation.FAILBACK: {
        "bau": "The pair is healthy",
        "failed_over": S,
        "failed_over, primary gone": "Bring it back first",
        "split_brain": "use `demote-primary`",
        "degraded": "`initialise` to re-pair",
        "primary_down": "use `failover`",
        "secondary_down": "bring it back",
        "unreachable": FAIL_CLOSED,
        "standalone": "use `initialise`",
        "unknown": FAIL_CLOSED,
        "primary_unreachable": UNREACHABLE_NOT_DOWN,
        "secondary_unreachable": UNREACHABLE_NOT_DOWN,
        "half pair, secondary alone": "make the Secondary standalone",
        "half pair, primary alone": "make the Secondary standalone",
    },
    Operation.DEMOTE_PRIMARY: {
        "bau": P,
        "failed_over": "use `failback`",
        "failed_over, primary gone": "use `failback`",
        "split_brain": P,
        "degraded": "`initialise` to re-pair",
        "primary_down": "use `failover`",
        "secondary_down": "bring it back",
        "unreachable": FAIL_CLOSED,
        "standalone": "use `initialise`",
        "unknown": FAIL_CLOSED,
        "primary_unreachable": UNREACHABLE_NOT_DOWN,
        "secondary_unreachable": UNREACHABLE_NOT_DOWN,
        "half pair, secondary alone": "make the Secondary standalone",
        "half pair, primary alone": "make the Secondary standalone",
    },
    Operation.INITIALISE: {
        "bau": "The pair is healthy",
        "failed_over": "use `failback`",
        "failed_over, primary gone": "use `failback`",
        "split_brain": "use `demote-primary`",
        "degraded": P,
        "primary_down": "use `failover`",
        "secondary_down": "bring it back",
        "unreachable": FAIL_CLOSED,
        "standalone": P,
        "unknown": FAIL_CLOSED,
        "primary_unreachable": UNREACHABLE_NOT_DOWN,
        "secondary_unreachable": UNREACHABLE_NOT_DOWN,
        "half pair, secondary alone": P,
        "half pair, primary alone": "make the Secondary standalone first",
    },
    Operation.JOINING_CODE: {
        "bau": "Secondary is Standby",
        "failed_over": "Secondary is Promoted Active",
        "failed_over, primary gone": "Secondary is Promoted Active",
        "split_brain": "Secondary is Promoted Active",
        "degraded": "Secondary is Standby",
        "primary_down": "Secondary is Standby",
        "secondary_down": "Secondary is Unreachable",
        "unreachable": FAIL_CLOSED,
        "standalone": S,
        "unknown": FAIL_CLOSED,
        "primary_unreachable": "Secondary is Standby",
        "secondary_unreachable": "Secondary is Unreachable",
        "half pair, secondary alone": S,
        "half pair, primary alone": "Secondary is Standby",
    },
}
CASES = [(op, name, cell) for op, row in TABLE.items() for name, cell in row.items()]


def test_table_covers_every_operation_and_pair_shape() -> None:
    """No operation or verdict is left out of the table."""
    assert set(TABLE) == set(Operation) - {Operation.MAKE_STANDALONE}
    assert all(set(row) == set(PAIRS) for row in TABLE.values())
    assert {s.verdict for s in PAIRS.values()} == set(Verdict)


@pytest.mark.parametrize(
    ("operation", "pair", "cell"), CASES, ids=[f"{op.value}-{name}" for op, name, _ in CASES]
)
def test_decision_table(operation: Operation, pair: str, cell: Role | str) -> None:
    """Each operation on each pair shape: the node it runs on, or the refusal's advice."""
    if isinstance(cell, Role):
        plan = preflight(operation, PAIRS[pair])
        assert plan.node is cell
        assert plan.address == f"{cell}.example:22"
        assert plan.why
        return
    with pytest.raises(PreconditionFailed) as info:
        preflight(operation, PAIRS[pair])
    assert cell in str(info.value)


def test_failback_node_follows_per_pair_config() -> None:
    """`failback_on = "primary"` runs ha-failback on the Primary instead."""
    assert (
        preflight(
            Operation.FAILBACK, PAIRS["failed_over"], procedures=Procedures(failback_on=P)
        ).node
        is P
    )


@pytest.mark.parametrize(
    ("via", "node", "command"),
    [
        (SwitchoverVia.FAILOVER_ON_PRIMARY, P, HaCommand.FAILOVER),
        (SwitchoverVia.FAILOVER_ON_SECONDARY, S, HaCommand.FAILOVER),
        (SwitchoverVia.DEMOTE_PRIMARY, P, HaCommand.DEMOTE_PRIMARY),
    ],
)
def test_switchover_follows_the_pairs_configured_procedure(
    via: SwitchoverVia, node: Role, command: HaCommand
) -> None:
    """`switchover_via` picks the command and node of a planned hand-over; the reason names
    them, and the same hand-over is expected afterwards whichever way it is made."""
    plan = preflight(Operation.SWITCHOVER, PAIRS["bau"], procedures=Procedures(switchover_via=via))
    assert (plan.node, plan.command) == (node, command)
    assert f"`{command.value}` on the {node}" in plan.why
    assert verify_outcome(plan, None, PAIRS["failed_over"])[0] is Outcome.SUCCEEDED


def test_override_cannot_make_a_failover_onto_a_live_primary() -> None:
    """The refusal on primary_unreachable says why and what to check; preflight has no
    override parameter at all, so no typed reason reaches past it."""
    with pytest.raises(PreconditionFailed) as info:
        preflight(Operation.FAILOVER, PAIRS["primary_unreachable"])
    words = str(info.value)
    assert "the Secondary still sees it Active" in words
    assert "two Active servers" in words
    assert "host key" in words


def test_demote_primary_on_bau_is_a_planned_hand_over() -> None:
    """On a healthy pair it hands operation to the Secondary: both ends are verified."""
    plan = preflight(Operation.DEMOTE_PRIMARY, PAIRS["bau"])
    assert "planned hand-over" in plan.why
    assert verify_outcome(plan, None, PAIRS["failed_over"])[0] is Outcome.SUCCEEDED
    half_done = status(Verdict.UNKNOWN, D, SB)
    assert verify_outcome(plan, None, half_done)[0] is Outcome.UNVERIFIED


def test_initialise_of_standalone_servers_brings_its_own_joining_code() -> None:
    """Two standalone servers (or a half pair with a standalone Secondary): the plan creates
    a joining code on the Secondary, and success needs Active/Standby with health OK."""
    for shape in ("standalone", "half pair, secondary alone"):
        plan = preflight(Operation.INITIALISE, PAIRS[shape])
        assert (plan.node, plan.joining_code_from) == (P, S)
    plan = preflight(Operation.INITIALISE, PAIRS["standalone"])
    assert verify_outcome(plan, None, PAIRS["bau"])[0] is Outcome.SUCCEEDED
    assert verify_outcome(plan, None, PAIRS["degraded"]) == (
        Outcome.UNVERIFIED,
        "HA health is Degraded",
    )
    assert preflight(Operation.INITIALISE, PAIRS["degraded"]).joining_code_from is None


@pytest.mark.parametrize("pair", list(PAIRS))
@pytest.mark.parametrize("node", [P, S])
def test_make_standalone_needs_only_a_reachable_node(pair: str, node: Role) -> None:
    """make-standalone runs on the named node whenever it is reachable, warning of the end
    of redundancy; an unreachable or unknown node is refused."""
    view = PAIRS[pair].node(node)
    if view.state in {U, UNK}:
        with pytest.raises(PreconditionFailed, match="must be reachable"):
            preflight(Operation.MAKE_STANDALONE, PAIRS[pair], node)
        return
    plan = preflight(Operation.MAKE_STANDALONE, PAIRS[pair], node)
    assert (plan.node, plan.warning) == (
        node,
        "Redundancy ends: prod will no longer be an HA pair.",
    )


def test_make_standalone_without_a_node_says_how() -> None:
    """The node is part of the request."""
    with pytest.raises(PreconditionFailed, match="make-standalone PAIR primary"):
        preflight(Operation.MAKE_STANDALONE, PAIRS["bau"])


def test_topology_change_is_described() -> None:
    """A snapshot compared with a later reading names both shapes; identical is None."""
    snapshot = topology(PAIRS["bau"])
    assert topology_change(snapshot, PAIRS["bau"]) is None
    change = topology_change(snapshot, PAIRS["failed_over"])
    assert change == (
        "the pair changed since the request: it was BAU (Primary Active, Secondary Standby), "
        "it is now Failed over (Primary Demoted, Secondary Promoted Active)"
    )


def test_outcome_is_verified_against_expected_states() -> None:
    """Exit 0 and the expected states: succeeded; exit 0 otherwise: unverified; else failed."""
    plan = preflight(Operation.SWITCHOVER, PAIRS["bau"])
    assert verify_outcome(plan, None, PAIRS["failed_over"]) == (
        Outcome.SUCCEEDED,
        "the pair is now Failed over",
    )
    assert verify_outcome(plan, None, PAIRS["bau"]) == (
        Outcome.UNVERIFIED,
        "the Primary is Active, expected Demoted or Inactive; "
        "the Secondary is Standby, expected Promoted Active",
    )
    assert verify_outcome(plan, "ha-failover exited with status 1", PAIRS["failed_over"]) == (
        Outcome.FAILED,
        "ha-failover exited with status 1",
    )
    assert verify_outcome(plan, None, None) == (
        Outcome.UNVERIFIED,
        "the pair could not be read after the command",
    )


def listing(state: PairStatus, role: Role, *commands: str) -> PairStatus:
    """The pair with ``role``'s console listing only ``commands``."""
    views = {r: state.node(r) for r in Role}
    views[role] = replace(views[role], offered=frozenset(commands))
    return replace(state, primary=views[Role.PRIMARY], secondary=views[Role.SECONDARY])


def test_a_command_its_console_does_not_list_is_refused_naming_what_it_offers() -> None:
    """The node's banner is what it offers now: not listed → no, whatever the rules say;
    listed, or no list at all (exec) → the rules decide alone."""
    bau = PAIRS["bau"]
    refused = listing(bau, Role.PRIMARY, "ha-status", "ha-make-standalone")
    with pytest.raises(PreconditionFailed) as info:
        preflight(Operation.DEMOTE_PRIMARY, refused)
    assert str(info.value).startswith(
        "The primary (primary.example:22) does not offer ha-demote-primary now: its console "
        "lists "
        "ha-make-standalone, ha-status."
    )
    listed = listing(bau, Role.PRIMARY, "ha-status", "ha-demote-primary")
    assert preflight(Operation.DEMOTE_PRIMARY, listed).node is Role.PRIMARY
    assert preflight(Operation.DEMOTE_PRIMARY, bau).node is Role.PRIMARY
    with pytest.raises(PreconditionFailed, match="does not offer ha-make-standalone"):
        preflight(Operation.MAKE_STANDALONE, listing(bau, Role.SECONDARY), Role.SECONDARY)


def test_initialise_needs_the_joining_code_command_on_the_secondary_too() -> None:
    """The code is created on the Secondary: its console must list that command as well."""
    half = listing(PAIRS["half pair, secondary alone"], Role.SECONDARY, "ha-status")
    with pytest.raises(PreconditionFailed, match="does not offer ha-create-joining-code"):
        preflight(Operation.INITIALISE, half)
