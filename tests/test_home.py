"""The App Home dashboard: valid Block Kit at its largest, and only what the viewer can act on."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from habot.config import parse_settings
from habot.core.approvals import Request, RequestState
from habot.core.audit import AuditEvent, chain
from habot.core.home import PairLine, dashboard
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation
from habot.core.roles import Access
from habot.services.home import HomeRefresher, HomeService
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from tests.botproc import ROLES, Bot, start_bot
from tests.conftest import Clock
from tests.fakeslack import FakeSlack, app_home_opened
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
    assert "alerts muted until <!date^" in text
    assert "|04:00 UTC>" in text
    assert "cooldown until <!date^1795662300^{date_short_pretty} at {time}|03:05 UTC>" in text
    # every reader sees their own time zone, to the second; the age never goes stale
    assert "read <!date^1795661905^{date_short_pretty} at {time_secs}|02:58:25 UTC> (1m35s" in text
    assert "As of <!date^1795662000^{date_short_pretty} at {time_secs}|03:00:00 UTC>" in text


def test_dashboard_says_an_unreachable_pair_in_words() -> None:
    """A pair habot cannot fully reach is explained where to look, not just named."""
    line = PairLine(
        "prod", Verdict.PRIMARY_UNREACHABLE, NodeState.UNREACHABLE, NodeState.STANDBY, NOW
    )
    text = str(dashboard([line], [], [], "/ha", NOW))
    assert "habot cannot reach the Primary; the Secondary still sees it up" in text
    assert "not the appliance" in text


def test_empty_dashboard_says_so() -> None:
    """No readings, requests or operations yet: each section says so."""
    view = dashboard([PairLine("prod", None, None, None, None)], [], [], "/ha", NOW)
    assert problems_in_view(view) == []
    text = str(view)
    assert "no reading yet" in text
    assert "Nothing right now." in text


class RecordingHome:
    """The Home port, recording publishes; each publish can be held up to test coalescing."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()

    async def roles_of(self, user: str) -> frozenset[Access]:
        return frozenset({Access.VIEWER})

    async def publish(self, user: str, view: dict[str, Any]) -> None:
        self.entered.set()
        await self.gate.wait()
        self.published.append(user)


async def test_refreshes_coalesce_and_reach_every_recent_viewer(memory: Stores) -> None:
    """Ten changes during a slow refresh cause one more round, not ten; viewers who have
    not opened their Home for over 30 days are left alone."""
    clock = Clock(NOW)
    settings = parse_settings(
        {
            "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
            "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
        },
        "test",
    )
    await memory.viewers.opened("U0OLD", NOW - timedelta(days=31))
    home = HomeService(
        settings=settings,
        readings=memory.readings,
        alerts=memory.alerts,
        requests=memory.requests,
        audit=memory.audit,
        clock=clock,
        viewers=memory.viewers,
    )
    port = RecordingHome()
    refresher = HomeRefresher(home, port)
    await refresher.opened("U0ONE")
    await refresher.opened("U0TWO")
    assert port.published == ["U0ONE", "U0TWO"]
    port.gate.clear()
    port.entered.clear()
    refresher.refresh()
    await port.entered.wait()  # the first round is now publishing, held at the gate
    for _ in range(10):
        refresher.refresh()
    port.gate.set()
    await refresher.close()
    assert sorted(port.published[2:]) == ["U0ONE", "U0ONE", "U0TWO", "U0TWO"]


async def test_home_is_republished_when_a_reading_changes(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """End to end: a viewer opens Home; the Primary stops; their Home is published again
    showing "Primary down", without them opening it again."""
    extra = ROLES + '\n[schedule]\nstatus_every = "1s"\n'
    bot: Bot = await start_bot(sim, fake, tmp_path, http=False, extra=extra)
    try:
        await fake.send_envelope(
            "events_api", app_home_opened("U0VIEW1"), retry_attempt=0, retry_reason=""
        )
        [first] = await fake.wait_for(lambda: fake.calls_to("views.publish"))
        assert first.args["user_id"] == "U0VIEW1"
        assert "Primary down" not in json.dumps(first.args["view"])
        await sim.apply("prod", "primary", "down")

        def down() -> list[Any]:
            return [
                c
                for c in fake.calls_to("views.publish")
                if c.args["user_id"] == "U0VIEW1" and "Primary down" in json.dumps(c.args["view"])
            ]

        [republished, *_] = await fake.wait_for(down)
        assert problems_in_view(json.loads(json.dumps(republished.args["view"]))) == []
        assert fake.invalid == []
    finally:
        await bot.stop()


def test_a_big_fleet_drops_no_pair_silently() -> None:
    """60 pairs: those not in BAU come first, 40 get their own line, and the other 20 are
    named with where to look; 30 requests waiting: 20 shown, and the rest counted."""

    def line(i: int) -> PairLine:
        verdict = Verdict.DEGRADED if i % 4 == 0 else Verdict.BAU
        return PairLine(f"pair-{i:02d}-with-a-long-name", verdict, NodeState.ACTIVE,
                        NodeState.STANDBY, NOW - timedelta(seconds=95))  # fmt: skip

    lines = [line(i) for i in range(60)]
    view = dashboard(lines, [request()] * 30, [], "/ha", NOW)
    assert problems_in_view(view) == []
    texts = [json.dumps(b, ensure_ascii=False) for b in view["blocks"]]
    own = [t for t in texts if "no reading yet" in t or "long-name*" in t]
    assert len(own) == 40
    assert all(f"pair-{i:02d}-" in "".join(own) for i in range(0, 60, 4))  # every non-BAU
    [more] = [t for t in texts if "more pairs" in t]
    assert "… and 20 more pairs" in more
    assert "see `/ha status PAIR`" in more
    assert all(f"pair-{i:02d}-" in "".join(texts) for i in range(60))  # every pair named
    assert any("… and 10 more waiting for you — see `/ha pending`" in t for t in texts)
