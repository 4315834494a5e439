"""Judged pair statuses to render."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.verdict import NodeView, PairStatus

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def pair_status(verdict: Verdict, name: str = "prod", noise: int = 0, raw: str = "x") -> PairStatus:
    """A status with `noise` disagreements and warnings, and long errors."""

    def view(role: Role) -> NodeView:
        return NodeView(
            role,
            "10.0.0.1:22",
            False,
            NodeState.UNREACHABLE,
            None,
            "e" * 2500 if noise else None,
            NOW - timedelta(seconds=95),
            raw,
        )

    return PairStatus(
        pair=name,
        verdict=verdict,
        reason="r" * (4000 if noise else 10),
        health=Health.DEGRADED,
        floating_ip="10.0.0.10",
        primary=view(Role.PRIMARY),
        secondary=view(Role.SECONDARY),
        disagreements=tuple("d" * 300 for _ in range(noise)),
        warnings=tuple("w" * 300 for _ in range(noise)),
        observed_at=NOW,
    )
