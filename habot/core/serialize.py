"""Pair status as JSON-ready data (the `--json` contract, shared by every consumer), and
back (readings kept for the "raw output" button)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from habot.core.approvals import Request
from habot.core.model import Health, NodeState, Role, Verdict
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
        "peer_says": view.peer_says.value if view.peer_says else None,
        "offered": sorted(view.offered) if view.offered is not None else None,
        "seen_by_peer": view.seen_by_peer.value if view.seen_by_peer else None,
        "not_understood": list(view.not_understood),
    }


def status_from_dict(data: dict[str, Any]) -> PairStatus:
    """The inverse of :func:`status_to_dict`."""
    nodes = data["nodes"]
    return PairStatus(
        pair=data["pair"],
        verdict=Verdict(data["verdict"]),
        reason=data["reason"],
        health=Health(data["health"]) if data["health"] else None,
        floating_ip=data["floating_ip"],
        primary=_view(Role.PRIMARY, nodes[Role.PRIMARY.value]),
        secondary=_view(Role.SECONDARY, nodes[Role.SECONDARY.value]),
        disagreements=tuple(data["disagreements"]),
        warnings=tuple(data["warnings"]),
        observed_at=datetime.fromisoformat(data["observed_at"]),
    )


def _view(role: Role, node: dict[str, Any]) -> NodeView:
    return NodeView(
        role=role,
        address=node["address"],
        reachable=node["reachable"],
        state=NodeState(node["state"]),
        ip=node["ip"],
        error=node["error"],
        observed_at=datetime.fromisoformat(node["observed_at"]),
        raw=node["raw"],
        peer_says=NodeState(node["peer_says"]) if node.get("peer_says") else None,
        offered=frozenset(node["offered"]) if node.get("offered") is not None else None,
        seen_by_peer=NodeState(node["seen_by_peer"]) if node.get("seen_by_peer") else None,
        not_understood=tuple(node.get("not_understood") or ()),
    )


def request_to_dict(request: Request) -> dict[str, Any]:
    """One request in the `habot pending --json` shape (identifiers, ISO times)."""
    verdict, primary, secondary = request.snapshot
    return {
        "id": request.id,
        "operation": request.operation.value,
        "pair": request.pair,
        "node": request.node.value,
        "state": request.state.value,
        "requester": request.requester,
        "approvals": list(request.approvals),
        "required": request.required,
        "created_at": request.created_at.isoformat(),
        "expires_at": request.expires_at.isoformat(),
        "run_at": request.run_at.isoformat() if request.run_at else None,
        "reason": request.reason,
        "ticket": request.ticket,
        "judged_on": {"verdict": verdict.value, "primary": primary.value,
                      "secondary": secondary.value},
        "break_glass": {"by": request.glass.by, "at": request.glass.at.isoformat(),
                        "review_owed": request.glass.owed} if request.glass else None,
    }  # fmt: skip
