"""When nobody decides: each escalation level is asked in turn (direct messages, the card's
thread, a page to the approvers' on-call), once across replicas, audited — and nothing
is ever approved for lack of an answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from habot.config import parse_settings
from habot.core.approvals import RequestState
from habot.core.escalation import Escalation, asked_line
from habot.core.outbox import MessageKind
from habot.errors import ConfigError
from habot.services.paging import Paging
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.escalation import pages
from tests.kit.fakepager import FakePagers
from tests.kit.fakeslack import FakeSlack
from tests.kit.paging import PAGE_ENV, paging_config
from tests.kit.slack import LEAD2, ask, cards, click, runs
from tests.kit.world import LEAD, OPERATOR, KnownApprovers, World, world_on
from tests.kit.world import world as world  # the fixture

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)
LEVELS = (("U0LEAD1",), ("S0MANAGERS", "U0CTO1"))
GROUPS = {"S0MANAGERS": frozenset({"U0MGR1", "U0MGR2"})}


def test_each_level_is_due_after_the_one_before_has_had_its_time() -> None:
    """Level 1 at once; the next after ``after`` from when the last was asked; none once
    all are asked."""
    escalation = Escalation(LEVELS, FIVE)
    assert escalation.due((), T0) == 0
    assert escalation.due((T0,), T0 + FIVE - timedelta(seconds=1)) is None
    assert escalation.due((T0,), T0 + FIVE) == 1
    assert escalation.due((T0, T0 + FIVE), T0 + 10 * FIVE) is None
    assert escalation.next_at((T0,)) == T0 + FIVE
    assert escalation.next_at((T0, T0 + FIVE)) is None
    line = asked_line(escalation, (T0,))
    assert line is not None
    assert line.startswith("Asked: level 1 (<@U0LEAD1>)")
    assert "next: level 2 (<!subteam^S0MANAGERS>, <@U0CTO1>)" in line


def test_a_level_that_could_never_be_asked_before_expiry_is_refused() -> None:
    """An escalation level that could never be asked before the request expires is refused at
    load."""
    base = {"ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
            "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"level 3 would be asked 10m.* ttl = 10m"):
        parse_settings({**base, "approval": {"ttl": "10m", "escalate_after": "5m",
                        "escalation": [["U0LEAD1"], ["U0LEAD2"], ["U0LEAD3"]]}})  # fmt: skip
    with pytest.raises(ConfigError, match="level 2 is empty"):
        parse_settings({**base, "approval": {"escalation": [["U0LEAD1"], []]}})


@pytest.fixture
async def escalating(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    """The service with two escalation levels, 5 minutes apart, paging PagerDuty."""
    async with world_on(sim, memory) as world:
        approval = world.settings.approval.model_copy(
            update={"escalation": LEVELS, "escalate_after": FIVE}
        )
        slack = world.settings.slack.model_copy(update={"alert_channel": "C0HAOPS"})
        paging = world.settings.paging.model_copy(update={"pagerduty": True})
        settings = world.settings.model_copy(
            update={"approval": approval, "slack": slack, "paging": paging}
        )
        world.settings = settings
        world.service = world.with_service(
            settings=settings,
            approvers=KnownApprovers(frozenset({"U0LEAD1"}), GROUPS),
            paging=Paging(memory.outbox, world.clock),
        )
        world.outbox = memory.outbox  # type: ignore[attr-defined]
        yield world


async def test_nobody_deciding_asks_the_next_level_once_and_never_approves(
    escalating: World,
) -> None:
    """A switchover on a healthy pair: level 1 is told at once (no page: nothing urgent).
    Five quiet minutes later the sweep asks level 2 — its users and its group's members by
    direct message, in the card's thread — and pages the approvers' on-call. Sweeping
    again asks nobody twice. The request still waits for a real approval, and the page
    resolves when it is approved."""
    world = escalating
    await world.ask("switchover prod")
    rid = world.request_id()
    assert [u for u, _ in world.notifier.directs] == ["U0LEAD1"]
    card = json.dumps(world.notifier.last().blocks)
    assert "Asked: level 1 (<@U0LEAD1>)" in card
    assert "next: level 2" in card
    assert await pages(world) == []
    world.clock.now += FIVE
    await world.service.housekeeping()
    await world.service.housekeeping()
    assert sorted(u for u, _ in world.notifier.directs) == ["U0CTO1", "U0LEAD1", "U0MGR1", "U0MGR2"]
    assert any("Nobody has decided in 5 min" in t and "<!subteam^S0MANAGERS>" in t
               for t in world.notifier.threads)  # fmt: skip
    assert "level 2 (<!subteam^S0MANAGERS>, <@U0CTO1>)" in json.dumps(world.notifier.last().blocks)
    assert await pages(world) == [("pagerduty@approvers", "trigger")]
    assert await world.state(rid) is RequestState.PENDING  # never approved by itself
    kinds = [r.event.kind for r in await world.records()]
    assert kinds.count("escalated") == 2
    await world.service.approve(LEAD, rid)
    await world.service.drain()
    assert await pages(world) == [("pagerduty@approvers", "resolve")]


async def test_two_replicas_sweeping_at_once_ask_a_level_once(escalating: World) -> None:
    """Another replica's sweep at the same moment: the level is recorded by one of them,
    so its people get one message each."""
    world = escalating
    other = world.with_service(
        settings=world.settings,
        approvers=KnownApprovers(frozenset({"U0LEAD1"}), GROUPS),
    )
    await world.ask("switchover prod")
    world.clock.now += FIVE
    await asyncio.gather(world.service.housekeeping(), other.housekeeping())
    told = [u for u, _ in world.notifier.directs]
    assert sorted(told) == sorted(set(told))
    assert told.count("U0CTO1") == 1


async def test_an_urgent_request_pages_the_approvers_at_once_and_resolves_when_it_ends(
    escalating: World,
) -> None:
    """With page_approvers, a failover while the Primary is down pages the approvers'
    on-call when it opens; cancelling it resolves the page (once delivered) — and an
    escalation later pages nobody twice."""
    world = escalating
    paging = world.settings.paging.model_copy(update={"page_approvers": True})
    world.settings = world.settings.model_copy(update={"paging": paging})
    world.service = world.with_service(
        settings=world.settings,
        approvers=KnownApprovers(frozenset({"U0LEAD1"}), GROUPS),
        paging=Paging(world.outbox, world.clock),  # type: ignore[attr-defined]
    )
    await world.sim.apply("prod", "primary", "down")
    await world.ask("failover prod")
    rid = world.request_id()
    assert await pages(world) == [("pagerduty@approvers", "trigger")]
    world.clock.now += FIVE
    await world.service.housekeeping()
    assert await pages(world) == []  # level 2 asked; already paged
    await world.service.cancel(OPERATOR, rid)
    assert await pages(world) == [("pagerduty@approvers", "resolve")]


async def test_a_page_for_a_request_goes_to_the_approvers_service(
    escalating: World,
) -> None:
    """Its outbox row is for the approvers' route and carries no key; its summary says
    what waits for approval."""
    world = escalating
    await world.ask("switchover prod")
    world.clock.now += FIVE
    await world.service.housekeeping()
    outbox = world.outbox  # type: ignore[attr-defined]
    [lane] = [lane for lane in await outbox.lanes() if lane.startswith("page:")]
    head = await outbox.head(lane)
    assert head.kind == MessageKind.PAGE
    assert head.payload["summary"].startswith("prod: switchover waits for approval")
    assert head.payload["key"] == f"habot/prod/request/{world.request_id()}"


# -- end to end: the bot as a process ----------------------------------------------------


async def test_the_bot_asks_each_level_at_its_time_and_pages_the_second(
    sim: Simulator, fake: FakeSlack, pagers: FakePagers, tmp_path: Path
) -> None:
    """`habot run` with two levels 2 s apart, paging PagerDuty: the operator's switchover
    DMs level 1 at once; with nobody deciding, level 2 is DM'd a few seconds later and the
    approvers' on-call is paged (linking to the card); level 2's approval runs it and
    resolves the page."""
    extra = (
        paging_config(pagers).replace(
            'approvers = ["U0LEAD1"]', 'approvers = ["U0LEAD1", "U0LEAD2"]'
        )
        + '\n[approval]\nescalation = [["U0LEAD1"], ["U0LEAD2"]]\nescalate_after = "2s"\n'
    )
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=extra, env=PAGE_ENV)
    try:
        await ask(bot, fake, "switchover prod")
        card = cards(fake)[-1]

        def dms(user: str) -> list[Any]:
            return [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == user]

        await fake.wait_for(lambda: dms(LEAD.user))
        assert dms(LEAD2) == []
        [page] = await pagers.wait_for(lambda: pagers.of("pagerduty", "trigger"))
        assert dms(LEAD2)  # the level and its page come together
        assert page.key.startswith("habot/prod/request/")
        assert page.body["links"][0]["href"].startswith("https://habot-test.slack.com/archives/")
        assert "waits for approval" in page.body["payload"]["summary"]
        await click(bot, fake, card, "approve_request", LEAD2)
        await pagers.wait_for(lambda: pagers.of("pagerduty", "resolve"))
        assert pagers.incidents == {page.key: "resolved"}
        await fake.wait_for(lambda: runs(sim, "prod"))
    finally:
        await bot.stop()
