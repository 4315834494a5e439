"""Paging when things break: the paging tool unreachable for a whole incident (the alert
still reaches Slack; nobody is woken afterwards for an incident already over; a page is
delivered once the tool is back, if its incident is still open), and the leading replica
killed between the trigger and the resolve (the other takes over: one trigger, one
resolve). The bots run as real processes against the simulator, the fake Slack and the
fake paging tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakepager import FakePagers
from tests.kit.fakeslack import FakeSlack
from tests.kit.paging import PAGE_ENV, alert_cards, paging_config
from tests.kit.postgres import fresh_database
from tests.reliability.conftest import Ledger, Row

TOOLS = ("pagerduty", "opsgenie")


def resolved_cards(fake: FakeSlack) -> list[Any]:
    """Alert cards edited to say their incident ended."""
    return [u for u in fake.calls_to("chat.update")
            if "resolved after" in json.dumps(u.args.get("blocks", ""))]  # fmt: skip


async def test_a_paging_tool_down_for_a_whole_incident_wakes_nobody_afterwards(
    sim: Simulator, fake: FakeSlack, pagers: FakePagers, tmp_path: Path, ledger: Ledger
) -> None:
    """Both paging tools refuse connections for a whole incident: the alert card and its
    recovery still reach Slack, and once the tools are back no trigger arrives for it.
    During a second incident the tools come back while it is still open: its page is
    delivered then — once — and resolved when the pair recovers."""
    promise = "alert in Slack; no late page; delivered once back if still open"
    row = ledger.add(Row("paging tool down for a whole incident", promise))
    port = pagers.port
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=paging_config(pagers),
                          env=PAGE_ENV)  # fmt: skip
    try:
        await pagers.stop()
        await sim.apply("prod", "primary", "down")
        row.injected = 1
        await fake.wait_for(lambda: alert_cards(fake))
        await sim.apply("prod", "primary", "up")
        await fake.wait_for(lambda: resolved_cards(fake))
        await pagers.start(port)
        await sim.apply("prod", "primary", "down")  # the second incident, tools down again
        await pagers.stop()
        row.injected = 2
        await fake.wait_for(lambda: len(alert_cards(fake)) == 2)
        await pagers.start(port)
        for tool in TOOLS:
            await pagers.wait_for(lambda t=tool: pagers.of(t, "trigger"))  # type: ignore[misc]
        await sim.apply("prod", "primary", "up")
        for tool in TOOLS:
            await pagers.wait_for(
                lambda t=tool: [e for e in pagers.of(t, "resolve")
                                if e.key == pagers.of(t, "trigger")[0].key]  # type: ignore[misc]
            )  # fmt: skip
        for tool in TOOLS:
            [second] = pagers.of(tool, "trigger")  # never one for the first incident
            late = [e.action for e in pagers.of(tool) if e.key != second.key]
            assert late in ([], ["resolve"])  # a resolve of nothing, harmless; never a trigger
        row.lost = sum(len(pagers.of(t, "trigger")) != 1 for t in TOOLS)
        await fake.wait_for(lambda: len(resolved_cards(fake)) >= 2)
    finally:
        await bot.stop()


async def test_the_leader_killed_between_trigger_and_resolve_pages_once(
    sim: Simulator,
    fake: FakeSlack,
    pagers: FakePagers,
    tmp_path: Path,
    ledger: Ledger,
    postgres_admin: str,
) -> None:
    """Two replicas on PostgreSQL, paging both tools. The Primary's power is cut: one
    trigger each, however many polls and replicas see it. The leader is killed; the other
    replica takes over the polls and, at recovery, sends the one resolve. Nothing is
    paged twice and the channel has one alert card."""
    row = ledger.add(Row("leader killed between trigger and resolve", "one trigger, one resolve"))
    database = fresh_database(postgres_admin)
    config = paging_config(pagers)
    leader = await start_bot(sim, fake, tmp_path, http=True, extra=config, name="leader",
                             database=database, env=PAGE_ENV)  # fmt: skip
    other = await start_bot(sim, fake, tmp_path, http=True, extra=config, name="other",
                            polls=False, database=database, env=PAGE_ENV)  # fmt: skip
    try:
        await sim.apply("prod", "primary", "down")
        for tool in TOOLS:
            await pagers.wait_for(lambda t=tool: pagers.of(t, "trigger"))  # type: ignore[misc]
        updates = len(fake.calls_to("chat.update"))
        await fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= updates + 2)
        leader.process.kill()
        row.injected = 1
        await leader.process.wait()
        updates = len(fake.calls_to("chat.update"))
        await fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= updates + 2)  # other polls
        await sim.apply("prod", "primary", "up")
        for tool in TOOLS:
            await pagers.wait_for(lambda t=tool: pagers.of(t, "resolve"))  # type: ignore[misc]
        for tool in TOOLS:
            assert [e.action for e in pagers.of(tool)] == ["trigger", "resolve"]
        row.duplicated = sum(len(pagers.of(t, "trigger")) - 1 for t in TOOLS)
        assert len(alert_cards(fake)) == 1
        assert pagers.refused == []
    finally:
        await other.stop()
        await leader.stop()
