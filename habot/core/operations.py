"""The HA operations: which appliance command, on which node, allowed when, expected after.

``preflight`` decides from a fresh :class:`PairStatus` and either returns a
:class:`OperationPlan` or raises :class:`PreconditionFailed` saying which precondition
failed and what to do instead. It fails closed: when the status cannot support a decision,
the answer is no.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from habot.core.catalogue import HaCommand
from habot.core.model import NodeState, Role, Verdict
from habot.core.verdict import NodeView, PairStatus
from habot.errors import HabotError


class Operation(StrEnum):
    """The mutating subcommands."""

    SWITCHOVER = "switchover"
    FAILOVER = "failover"
    FAILBACK = "failback"
    DEMOTE_PRIMARY = "demote-primary"
    INITIALISE = "initialise"
    MAKE_STANDALONE = "make-standalone"
    JOINING_CODE = "joining-code"


COMMANDS = {
    Operation.SWITCHOVER: HaCommand.FAILOVER,
    Operation.FAILOVER: HaCommand.FAILOVER,
    Operation.FAILBACK: HaCommand.FAILBACK,
    Operation.DEMOTE_PRIMARY: HaCommand.DEMOTE_PRIMARY,
    Operation.INITIALISE: HaCommand.INITIALISE,
    Operation.MAKE_STANDALONE: HaCommand.MAKE_STANDALONE,
    Operation.JOINING_CODE: HaCommand.CREATE_JOINING_CODE,
}
#: Operations whose output is a secret: shown only to the requester, redacted elsewhere.
SECRET_OUTPUT = frozenset({Operation.JOINING_CODE})

_DEMOTED = frozenset({NodeState.DEMOTED, NodeState.INACTIVE})
_STANDING_BY = frozenset({NodeState.STANDBY, NodeState.INACTIVE})
_REACHABLE_STATES = frozenset(
    {
        NodeState.ACTIVE,
        NodeState.STANDBY,
        NodeState.DEMOTED,
        NodeState.PROMOTED_ACTIVE,
        NodeState.INACTIVE,
        NodeState.STANDALONE,
    }
)
Expectation = tuple[tuple[Role, frozenset[NodeState]], ...]


class PreconditionFailed(HabotError):
    """The operation is not allowed now; the message says why and what to do instead."""


@dataclass(frozen=True)
class OperationPlan:
    """An allowed operation: the command, the node, why it is allowed, what should follow."""

    operation: Operation
    pair: str
    node: Role
    address: str
    command: HaCommand
    why: str
    expected: Expectation
    warning: str | None = None


def preflight(
    operation: Operation,
    status: PairStatus,
    target: Role | None = None,
    failback_on: Role = Role.SECONDARY,
) -> OperationPlan:
    """Decide whether ``operation`` may run on the pair now, and where."""
    if operation is Operation.MAKE_STANDALONE:
        return _make_standalone(status, target)
    _fail_closed(status)
    node, why, expected = _RULES[operation](status, failback_on)
    view = _reachable(status, node, "It must run the command")
    return OperationPlan(
        operation, status.pair, node, view.address, COMMANDS[operation], why, expected
    )


def _reachable(status: PairStatus, role: Role, why: str) -> NodeView:
    """The node's view, or a refusal when there is no usable reading of it."""
    view = status.node(role)
    if view.state not in _REACHABLE_STATES:
        raise PreconditionFailed(
            f"The {role} ({view.address}) is {view.state.value}: "
            f"{view.error or 'no usable reading'}. {why}."
        )
    return view


def _fail_closed(status: PairStatus) -> None:
    if status.verdict in {Verdict.UNKNOWN, Verdict.UNREACHABLE}:
        raise PreconditionFailed(
            f"habot cannot evaluate the preconditions: the pair is {status.verdict.value} "
            f"({status.reason}). Check `/ha status {status.pair}` and the nodes first."
        )


def _refuse(status: PairStatus, wanted: str, instead: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"{wanted}, but {status.pair} is {status.verdict.value} ({status.reason}). {instead}"
    )


_INSTEAD = {
    Verdict.BAU: "The pair is healthy.",
    Verdict.FAILED_OVER: "The Secondary is already serving; use `failback` to return to BAU.",
    Verdict.SPLIT_BRAIN: "Both servers are active: use `demote-primary`, then `failback`.",
    Verdict.DEGRADED: "HA health is Degraded: fix the cause, or `initialise` to re-pair.",
    Verdict.PRIMARY_DOWN: "The Primary is down: use `failover` to promote the Secondary.",
    Verdict.SECONDARY_DOWN: "The Secondary is down: bring it back before any hand-over.",
    Verdict.STANDALONE: "Both servers are standalone: use `initialise` to create the pair.",
}


def _switchover(s: PairStatus, _: Role) -> tuple[Role, str, Expectation]:
    if s.verdict is not Verdict.BAU:
        raise _refuse(s, "A planned switchover needs a healthy pair (BAU)", _INSTEAD[s.verdict])
    return (
        Role.PRIMARY,
        "the pair is BAU: a planned hand-over from the active Primary to the Secondary",
        ((Role.PRIMARY, _DEMOTED), (Role.SECONDARY, frozenset({NodeState.PROMOTED_ACTIVE}))),
    )


def _failover(s: PairStatus, _: Role) -> tuple[Role, str, Expectation]:
    if s.verdict is Verdict.BAU:
        raise PreconditionFailed(
            f"{s.pair} is healthy (BAU): an emergency failover is only for a lost Primary. "
            "For a planned hand-over use `switchover`."
        )
    if s.verdict is not Verdict.PRIMARY_DOWN:
        raise _refuse(
            s, "Failover needs the Primary down and the Secondary standing by", _INSTEAD[s.verdict]
        )
    return (
        Role.SECONDARY,
        f"the Primary is {s.primary.state.value} and the Secondary is standing by",
        ((Role.SECONDARY, frozenset({NodeState.PROMOTED_ACTIVE})),),
    )


def _failback(s: PairStatus, failback_on: Role) -> tuple[Role, str, Expectation]:
    if s.verdict is not Verdict.FAILED_OVER:
        raise _refuse(s, "Failback needs a failed-over pair", _INSTEAD[s.verdict])
    if s.primary.state not in _DEMOTED | _STANDING_BY:
        detail = f" ({s.primary.error})" if s.primary.error else ""
        raise PreconditionFailed(
            f"Failback needs the Primary back (Demoted, Standby or Inactive); it is "
            f"{s.primary.state.value}{detail}. Bring it back first, then ask again."
        )
    return (
        failback_on,
        "the Secondary is Promoted Active and the Primary is reachable again; the Primary's "
        "data will be overwritten from the Secondary and sessions on the Secondary dropped",
        ((Role.PRIMARY, frozenset({NodeState.ACTIVE})), (Role.SECONDARY, _STANDING_BY)),
    )


def _demote_primary(s: PairStatus, _: Role) -> tuple[Role, str, Expectation]:
    if s.verdict is not Verdict.SPLIT_BRAIN:
        raise _refuse(s, "demote-primary is only for split brain", _INSTEAD[s.verdict])
    return (
        Role.PRIMARY,
        "split brain: both servers are active; changes made on the Primary during the split "
        "will be lost",
        ((Role.PRIMARY, _DEMOTED),),
    )


def _initialise(s: PairStatus, _: Role) -> tuple[Role, str, Expectation]:
    degraded = s.verdict is Verdict.DEGRADED and s.primary.state is NodeState.ACTIVE
    if not (degraded or s.verdict is Verdict.STANDALONE):
        raise _refuse(
            s, "initialise needs HA health Degraded or two standalone servers", _INSTEAD[s.verdict]
        )
    why = "HA health is Degraded" if degraded else "both servers are standalone"
    return (
        Role.PRIMARY,
        why,
        ((Role.PRIMARY, frozenset({NodeState.ACTIVE})), (Role.SECONDARY, _STANDING_BY)),
    )


def _joining_code(s: PairStatus, _: Role) -> tuple[Role, str, Expectation]:
    if s.secondary.state is not NodeState.STANDALONE:
        raise PreconditionFailed(
            f"A joining code is created on a standalone Secondary; {s.pair}'s Secondary is "
            f"{s.secondary.state.value}."
        )
    return (
        Role.SECONDARY,
        "the Secondary is standalone",
        ((Role.SECONDARY, frozenset({NodeState.STANDALONE})),),
    )


def _make_standalone(status: PairStatus, target: Role | None) -> OperationPlan:
    if target is None:
        raise PreconditionFailed("Say which node: `make-standalone PAIR primary|secondary`.")
    view = _reachable(status, target, "It must be reachable to be made standalone")
    return OperationPlan(
        Operation.MAKE_STANDALONE,
        status.pair,
        target,
        view.address,
        HaCommand.MAKE_STANDALONE,
        f"the {target} is reachable ({view.state.value})",
        ((target, frozenset({NodeState.STANDALONE})),),
        warning=f"Redundancy ends: {status.pair} will no longer be an HA pair.",
    )


_RULES = {
    Operation.SWITCHOVER: _switchover,
    Operation.FAILOVER: _failover,
    Operation.FAILBACK: _failback,
    Operation.DEMOTE_PRIMARY: _demote_primary,
    Operation.INITIALISE: _initialise,
    Operation.JOINING_CODE: _joining_code,
}


Topology = tuple[Verdict, NodeState, NodeState]


def topology(status: PairStatus) -> Topology:
    """What the approval card was judged on: the verdict and both nodes' states."""
    return status.verdict, status.primary.state, status.secondary.state


def topology_change(before: Topology, now: PairStatus) -> str | None:
    """How the pair differs from the snapshot, or None when it is the same."""
    after = topology(now)
    if after == before:
        return None
    return (
        f"the pair changed since the request: it was {before[0].value} (Primary "
        f"{before[1].value}, Secondary {before[2].value}), it is now {after[0].value} "
        f"(Primary {after[1].value}, Secondary {after[2].value})"
    )


class Outcome(StrEnum):
    """How an executed operation ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNVERIFIED = "unverified"


def verify_outcome(
    plan: OperationPlan, exit_status: int | None, after: PairStatus | None
) -> tuple[Outcome, str]:
    """Judge the result from the exit status and a fresh reading."""
    if exit_status != 0:
        return Outcome.FAILED, f"{plan.command.value} exited with status {exit_status}"
    if after is None:
        return Outcome.UNVERIFIED, "the pair could not be read after the command"
    misses = [
        f"{role} is {after.node(role).state.value}, expected "
        + " or ".join(sorted(s.value for s in wanted))
        for role, wanted in plan.expected
        if after.node(role).state not in wanted
    ]
    if misses:
        return Outcome.UNVERIFIED, "; ".join(misses)
    return Outcome.SUCCEEDED, f"the pair is now {after.verdict.value}"
