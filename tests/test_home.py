"""The App Home dashboard: valid Block Kit at its largest, and only what the viewer can act on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from habot.core.approvals import Request, RequestState
from habot.core.audit import AuditEvent, chain
from habot.core.home import PairLine, dashboard
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation
from habot.core.roles import Access
from habot.services.home import _can_act
from tests.slackcheck import problems_in_view

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def request(requester: str = "U0OPS", approvals: tuple[str, ...] = ()) -> Request:
    """A pending switchover."""
    return Request(
        "0a1b2c3d",
        Operation.SWITCHOVER,
        "prod",
        Role.PRIMARY,
        requester,
        NOW,
        NOW + timedelta(minutes=15),
        2,
        (Verdict.BAU, NodeState.ACTIVE, NodeState.STANDBY),
        RequestState.PENDING,
        approvals,
    )


def test_largest_dashboard_is_valid() -> None:
    """60 pairs, 30 requests, 30 operations: capped within 100 blocks and valid."""
    lines = [
        PairLine(
            f"pair{i}",
            Verdict.BAU,
            NodeState.ACTIVE,
            NodeState.STANDBY,
            NOW - timedelta(seconds=95),
            NOW + timedelta(hours=1),
            NOW + timedelta(minutes=5),
        )
        for i in range(60)
    ]
    recent = [
        chain(
            i + 1,
            AuditEvent(
                "succeeded", "U0OPS", "succeeded", NOW, pair="prod", detail={"request": "0a1b2c3d"}
            ),
            "0" * 64,
        )
        for i in range(30)
    ]
    view = dashboard(lines, [request()] * 30, recent, "/ha", NOW)
    assert problems_in_view(view) == []
    text = str(view)
    assert "alerts muted until 04:00 UTC" in text
    assert "cooldown until 03:05 UTC" in text
    assert "read 1m35s ago" in text


def test_empty_dashboard_says_so() -> None:
    """No readings, requests or operations yet: each section says so."""
    view = dashboard([PairLine("prod", None, None, None, None)], [], [], "/ha", NOW)
    assert problems_in_view(view) == []
    text = str(view)
    assert "no reading yet" in text
    assert "Nothing right now." in text


def test_who_can_act_on_a_request() -> None:
    """Approvers other than the requester (and not yet approved) can approve; the
    requester can cancel; a plain viewer cannot act."""
    approver = frozenset({Access.VIEWER, Access.APPROVER})
    viewer = frozenset({Access.VIEWER})
    assert _can_act(request(), "U0LEAD", approver)
    assert not _can_act(request(approvals=("U0LEAD",)), "U0LEAD", approver)
    assert _can_act(request(), "U0OPS", viewer)
    assert not _can_act(request(), "U0OTHER", viewer)
