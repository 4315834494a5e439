"""Requests and plans to store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from habot.core.approvals import Request
from habot.core.audit import AuditEvent
from habot.core.catalogue import HaCommand
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation, OperationPlan

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


PLAN = OperationPlan(
    Operation.SWITCHOVER,
    "prod",
    Role.PRIMARY,
    "10.0.0.1",
    HaCommand.FAILOVER,
    "the pair is BAU",
    ((Role.PRIMARY, frozenset({NodeState.DEMOTED})),),
    "a warning",
)


def request(rid: str = "r1", pair: str = "prod", required: int = 1) -> Request:
    """A pending switchover."""
    return Request(
        rid,
        Operation.SWITCHOVER,
        pair,
        Role.PRIMARY,
        "U0OPS",
        T0,
        T0 + timedelta(minutes=15),
        required,
        (Verdict.BAU, NodeState.ACTIVE, NodeState.STANDBY),
        override="maint window",
    )


def said(kind: str, rid: str = "r1") -> AuditEvent:
    """The audit event a change carries."""
    return AuditEvent(kind, "U0OPS", kind, T0, pair="prod", detail={"request": rid})
