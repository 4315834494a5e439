"""Whether an operation may run now, and where (pure).

``preflight`` decides from a fresh :class:`PairStatus` and either returns an
:class:`OperationPlan` or raises :class:`PreconditionFailed` saying which precondition
failed and what to do instead. It fails closed: when the status cannot support a decision,
the answer is no.
"""

from __future__ import annotations

from dataclasses import dataclass

from habot.core.catalogue import HaCommand
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import (
    COMMANDS,
    Expectation,
    Operation,
    OperationPlan,
    PreconditionFailed,
    Procedures,
    SwitchoverVia,
)
from habot.core.verdict import SERVING, NodeView, PairStatus

#: A pair that chose nothing where the vendor's documents disagree.
DEFAULT_PROCEDURES = Procedures()

_DEMOTED = frozenset({NodeState.DEMOTED, NodeState.INACTIVE})
_STANDING_BY = frozenset({NodeState.STANDBY, NodeState.INACTIVE})
_FAILED_OVER: Expectation = (
    (Role.PRIMARY, _DEMOTED),
    (Role.SECONDARY, frozenset({NodeState.PROMOTED_ACTIVE})),
)
_HANDED_OVER: Expectation = ((Role.PRIMARY, _DEMOTED), (Role.SECONDARY, SERVING))
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


@dataclass(frozen=True)
class _Step:
    """What a rule decides: the node, why it is allowed, what should follow."""

    node: Role
    why: str
    expected: Expectation
    command: HaCommand | None = None  # None: the operation's own command
    expect_health_ok: bool = False
    joining_code_from: Role | None = None


def preflight(
    operation: Operation,
    status: PairStatus,
    target: Role | None = None,
    procedures: Procedures = DEFAULT_PROCEDURES,
) -> OperationPlan:
    """Decide whether ``operation`` may run on the pair now, and where."""
    if operation is Operation.MAKE_STANDALONE:
        return _make_standalone(status, target)
    _fail_closed(status)
    step = _RULES[operation](status, procedures)
    command = step.command or COMMANDS[operation]
    view = _offering(status, step.node, command, "It must run the command")
    if step.joining_code_from is not None:
        _offering(
            status, step.joining_code_from, HaCommand.CREATE_JOINING_CODE,
            "It must create the joining code",
        )  # fmt: skip
    return OperationPlan(
        operation,
        status.pair,
        step.node,
        view.address,
        command,
        step.why,
        step.expected,
        expect_health_ok=step.expect_health_ok,
        joining_code_from=step.joining_code_from,
    )


def _reachable(status: PairStatus, role: Role, why: str) -> NodeView:
    """The node's view, or a refusal when there is no usable reading of it."""
    view = status.node(role)
    if view.state not in _REACHABLE_STATES:
        raise PreconditionFailed(
            f"The {role} ({view.address}) is {view.state.label}: "
            f"{view.error or 'no usable reading'}. {why}."
        )
    return view


def _offering(status: PairStatus, role: Role, command: HaCommand, why: str) -> NodeView:
    """The node's view when it can run ``command`` now: reachable, and — when its console
    lists what it offers — listing it. Otherwise a refusal naming what it does offer."""
    view = _reachable(status, role, why)
    if view.offered is None or command.value in view.offered:
        return view
    offers = ", ".join(sorted(view.offered)) or "no ha- commands"
    raise PreconditionFailed(
        f"The {role} ({view.address}) does not offer {command.value} now: its console lists "
        f"{offers}. The appliance decides what each server may run in its role and state; "
        f"check `/ha status {status.pair}` and the vendor's procedure for this state."
    )


def _fail_closed(status: PairStatus) -> None:
    if status.verdict in {Verdict.UNKNOWN, Verdict.UNREACHABLE}:
        raise PreconditionFailed(
            f"habot cannot evaluate the preconditions: the pair is {status.verdict.label} "
            f"({status.reason}). Check `/ha status {status.pair}` and the nodes first."
        )


def _refuse(status: PairStatus, wanted: str, instead: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"{wanted}, but {status.pair} is {status.verdict.label} ({status.reason}). {instead}"
    )


_INSTEAD = {
    Verdict.BAU: "The pair is healthy.",
    Verdict.FAILED_OVER: "The Secondary is already serving; use `failback` to return to BAU.",
    Verdict.SPLIT_BRAIN: "Both servers are active: use `demote-primary`, then `failback`.",
    Verdict.DEGRADED: "HA health is Degraded: fix the cause, or `initialise` to re-pair.",
    Verdict.PRIMARY_DOWN: "The Primary is down: use `failover` to promote the Secondary.",
    Verdict.SECONDARY_DOWN: "The Secondary is down: bring it back before any hand-over.",
    Verdict.STANDALONE: "Both servers are standalone: use `initialise` to create the pair.",
    Verdict.PRIMARY_UNREACHABLE: (
        "Check habot's own path to the Primary, not the appliance (the Secondary sees it up): "
        "`habot check` tries the network, the firewall and the host key, step by step."
    ),
    Verdict.SECONDARY_UNREACHABLE: (
        "Check habot's own path to the Secondary, not the appliance (the Primary sees it up): "
        "`habot check` tries the network, the firewall and the host key, step by step."
    ),
    Verdict.HALF_PAIR: (
        "One server is standalone: to rebuild the pair, make the Secondary standalone if it "
        "is not, then `initialise` (habot creates the joining code itself)."
    ),
}


def next_steps(verdict: Verdict) -> str | None:
    """What to do about a pair in this state (None where nothing needs doing)."""
    return None if verdict is Verdict.BAU else _INSTEAD.get(verdict)


_NO_SECOND_ACTIVE = (
    "Failover refused: habot cannot reach the Primary, but the Secondary still sees it "
    "{seen}. Promoting the Secondary now would make two Active servers (split brain, lost "
    "changes), and no override can make that safe. Check habot's path to the Primary "
    "(network, firewall, host key — `habot check`); if the Primary really is lost, the "
    "Secondary will report it Failed and failover will be offered."
)


def _switchover(s: PairStatus, procedures: Procedures) -> _Step:
    if s.verdict is not Verdict.BAU:
        raise _refuse(s, "A planned switchover needs a healthy pair (BAU)", _INSTEAD[s.verdict])
    via = procedures.switchover_via
    node = Role.SECONDARY if via is SwitchoverVia.FAILOVER_ON_SECONDARY else Role.PRIMARY
    command = (
        HaCommand.DEMOTE_PRIMARY if via is SwitchoverVia.DEMOTE_PRIMARY else HaCommand.FAILOVER
    )
    return _Step(
        node,
        "the pair is BAU: a planned hand-over from the active Primary to the Secondary "
        f"(`{command.value}` on the {node}, as configured: switchover_via = {via.value})",
        _HANDED_OVER if command is HaCommand.DEMOTE_PRIMARY else _FAILED_OVER,
        command=command,
    )


def _failover(s: PairStatus, _: Procedures) -> _Step:
    if s.verdict is Verdict.BAU:
        raise PreconditionFailed(
            f"{s.pair} is healthy (BAU): an emergency failover is only for a lost Primary. "
            "For a planned hand-over use `switchover`."
        )
    if s.verdict is Verdict.PRIMARY_UNREACHABLE:
        seen = s.primary.peer_says.label if s.primary.peer_says else "up"
        raise PreconditionFailed(_NO_SECOND_ACTIVE.format(seen=seen))
    if s.verdict is not Verdict.PRIMARY_DOWN:
        raise _refuse(
            s, "Failover needs the Primary down and the Secondary standing by", _INSTEAD[s.verdict]
        )
    return _Step(
        Role.SECONDARY,
        f"the Primary is {s.primary.state.label} and the Secondary is standing by",
        ((Role.SECONDARY, frozenset({NodeState.PROMOTED_ACTIVE})),),
    )


def _failback(s: PairStatus, procedures: Procedures) -> _Step:
    if s.verdict is not Verdict.FAILED_OVER:
        raise _refuse(s, "Failback needs a failed-over pair", _INSTEAD[s.verdict])
    if s.primary.state not in _DEMOTED | _STANDING_BY:
        detail = f" ({s.primary.error})" if s.primary.error else ""
        raise PreconditionFailed(
            f"Failback needs the Primary back (Demoted, Standby or Inactive); it is "
            f"{s.primary.state.label}{detail}. Bring it back first, then ask again."
        )
    return _Step(
        procedures.failback_on,
        "the Secondary is Promoted Active and the Primary is reachable again; the Primary's "
        "data will be overwritten from the Secondary and sessions on the Secondary dropped",
        ((Role.PRIMARY, frozenset({NodeState.ACTIVE})), (Role.SECONDARY, _STANDING_BY)),
    )


def _demote_primary(s: PairStatus, _: Procedures) -> _Step:
    if s.verdict is Verdict.BAU:
        return _Step(
            Role.PRIMARY,
            "the pair is BAU: a planned hand-over — the Primary is demoted and operation "
            "switches to the Standby Secondary",
            _HANDED_OVER,
        )
    if s.verdict is not Verdict.SPLIT_BRAIN:
        raise _refuse(s, "demote-primary needs a healthy pair or split brain", _INSTEAD[s.verdict])
    return _Step(
        Role.PRIMARY,
        "split brain: both servers are active; changes made on the Primary during the split "
        "will be lost",
        ((Role.PRIMARY, _DEMOTED),),
    )


_PAIRED: Expectation = (
    (Role.PRIMARY, frozenset({NodeState.ACTIVE})),
    (Role.SECONDARY, _STANDING_BY),
)


def _initialise(s: PairStatus, _: Procedures) -> _Step:
    degraded = s.verdict is Verdict.DEGRADED and s.primary.state is NodeState.ACTIVE
    if degraded:
        return _Step(Role.PRIMARY, "HA health is Degraded", _PAIRED, expect_health_ok=True)
    if s.verdict is Verdict.HALF_PAIR and s.secondary.state is not NodeState.STANDALONE:
        raise PreconditionFailed(
            f"{s.pair} is a half pair ({s.reason}). initialise pairs the Primary with a "
            "standalone Secondary: make the Secondary standalone first "
            f"(`make-standalone {s.pair} secondary`), then ask again."
        )
    if s.verdict not in {Verdict.STANDALONE, Verdict.HALF_PAIR}:
        raise _refuse(
            s, "initialise needs HA health Degraded or two standalone servers", _INSTEAD[s.verdict]
        )
    return _Step(
        Role.PRIMARY,
        "the Secondary is standalone: habot creates a joining code on it (shown to nobody) "
        "and types it when ha-initialise on the Primary asks for it",
        _PAIRED,
        expect_health_ok=True,
        joining_code_from=Role.SECONDARY,
    )


def _joining_code(s: PairStatus, _: Procedures) -> _Step:
    if s.secondary.state is not NodeState.STANDALONE:
        raise PreconditionFailed(
            f"A joining code is created on a standalone Secondary; {s.pair}'s Secondary is "
            f"{s.secondary.state.label}."
        )
    return _Step(
        Role.SECONDARY,
        "the Secondary is standalone",
        ((Role.SECONDARY, frozenset({NodeState.STANDALONE})),),
    )


def _make_standalone(status: PairStatus, target: Role | None) -> OperationPlan:
    if target is None:
        raise PreconditionFailed("Say which node: `make-standalone PAIR primary|secondary`.")
    view = _offering(
        status, target, HaCommand.MAKE_STANDALONE, "It must be reachable to be made standalone"
    )
    return OperationPlan(
        Operation.MAKE_STANDALONE,
        status.pair,
        target,
        view.address,
        HaCommand.MAKE_STANDALONE,
        f"the {target} is reachable ({view.state.label})",
        ((target, frozenset({NodeState.STANDALONE})),),
        warning=f"Redundancy ends: {status.pair} will no longer be an HA pair.",
    )


#: Each operation's preflight rule (make-standalone names its node: its own rule above).
_RULES = {
    Operation.SWITCHOVER: _switchover,
    Operation.FAILOVER: _failover,
    Operation.FAILBACK: _failback,
    Operation.DEMOTE_PRIMARY: _demote_primary,
    Operation.INITIALISE: _initialise,
    Operation.JOINING_CODE: _joining_code,
}
