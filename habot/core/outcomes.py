"""After an operation: what the pair looked like when it was asked for (its topology), and
whether a fresh reading shows the outcome its plan expected."""

from __future__ import annotations

from enum import StrEnum

from habot.core.model import Health, NodeState, Verdict
from habot.core.operations import OperationPlan
from habot.core.verdict import PairStatus

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
        f"the pair changed since the request: it was {topology_words(before)}, it is now "
        f"{topology_words(after)}"
    )


def topology_words(t: Topology) -> str:
    """A topology as people read it: "Failed over (Primary Demoted, Secondary Active)"."""
    return f"{t[0].label} (Primary {t[1].label}, Secondary {t[2].label})"


class Outcome(StrEnum):
    """How an executed operation ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNVERIFIED = "unverified"


def verify_outcome(
    plan: OperationPlan, failure: str | None, after: PairStatus | None
) -> tuple[Outcome, str]:
    """Judge the result from how the command ended (``failure``: what the node said went
    wrong — an exit status, or the console's refusal) and a fresh reading."""
    if failure is not None:
        return Outcome.FAILED, failure
    if after is None:
        return Outcome.UNVERIFIED, "the pair could not be read after the command"
    misses = [
        f"the {role.label} is {after.node(role).state.label}, expected "
        + " or ".join(sorted(s.label for s in wanted))
        for role, wanted in plan.expected
        if after.node(role).state not in wanted
    ]
    if plan.expect_health_ok and after.health is not Health.OK:
        misses.append(
            f"HA health is {after.health.value.capitalize() if after.health else 'not reported'}"
        )
    if misses:
        return Outcome.UNVERIFIED, "; ".join(misses)
    return Outcome.SUCCEEDED, f"the pair is now {after.verdict.label}"
