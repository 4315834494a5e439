"""Readings of prod, good and bad, at a fixed time."""

from __future__ import annotations

from datetime import UTC, datetime

from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.verdict import NodeView, PairStatus

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def status(verdict: Verdict, p: NodeState = NodeState.ACTIVE) -> PairStatus:
    """A prod reading."""
    primary = NodeView(
        Role.PRIMARY,
        "a",
        p is not NodeState.UNREACHABLE,
        p,
        None,
        "connection refused" if p is NodeState.UNREACHABLE else None,
        T0,
        None,
    )
    secondary = NodeView(Role.SECONDARY, "b", True, NodeState.STANDBY, None, None, T0, "")
    health = Health.OK if verdict is Verdict.BAU else Health.DEGRADED
    reason = "Primary Unreachable, Secondary Standby"
    return PairStatus("prod", verdict, reason, health, None, primary, secondary, (), (), T0)


GOOD = status(Verdict.BAU)


BAD = status(Verdict.PRIMARY_DOWN, NodeState.UNREACHABLE)
