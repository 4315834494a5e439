"""Pair status as JSON-ready data (the `--json` contract, shared by every consumer)."""

from __future__ import annotations

from typing import Any

from habot.core.verdict import NodeView, PairStatus


def status_to_dict(status: PairStatus) -> dict[str, Any]:
    """One pair's status in the documented JSON shape."""
    return {
        "pair": status.pair,
        "verdict": status.verdict.value,
        "reason": status.reason,
        "health": status.health.value if status.health else None,
        "floating_ip": status.floating_ip,
        "nodes": {view.role.value: _node(view) for view in (status.primary, status.secondary)},
        "disagreements": list(status.disagreements),
        "warnings": list(status.warnings),
        "observed_at": status.observed_at.isoformat(),
    }


def _node(view: NodeView) -> dict[str, Any]:
    return {
        "address": view.address,
        "reachable": view.reachable,
        "state": view.state.value,
        "ip": view.ip,
        "error": view.error,
        "observed_at": view.observed_at.isoformat(),
        "raw": view.raw,
    }
