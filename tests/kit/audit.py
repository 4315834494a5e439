"""Audit events to chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from habot.core.audit import AuditEvent

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def event(i: int, **extra: object) -> AuditEvent:
    """A command event at T0 + i seconds."""
    return AuditEvent(
        kind="status",
        actor=f"U{i:04d}",
        outcome="ok",
        at=T0 + timedelta(seconds=i),
        pair="prod",
        channel="C0HAOPS",
        detail={"verdict": "bau", **extra},
    )
