"""Operations asked for later, end to end: habot as a process, the simulator behind SSH,
Slack faked at its HTTP boundary. Times are a few seconds ahead, typed as ISO times with
seconds in the asker's own Slack time zone."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from habot.sim.simulator import Simulator
from tests.kit.fakeslack import FakeSlack
from tests.kit.scheduled import in_tokyo, started, until
from tests.kit.slack import (
    LEAD,
    OPS,
    ask,
    cards,
    click,
    close_with_form,
    final_card,
    outcome_told,
    runs,
)


async def test_an_approved_switchover_runs_once_at_its_time_read_in_the_askers_zone(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Asked in Tokyo time and approved at once, it waits; its thread is reminded (naming
    the requester and the approver); at its time it runs once and the requester is told.
    Read in UTC (the [schedule] timezone) the same words would be nine hours away."""
    bot = await started(sim, fake, tmp_path)
    try:
        typed, at = in_tokyo(14)
        reply = await ask(bot, fake, f'switchover prod at {typed} "DR rehearsal"')
        assert "once approved" in reply
        assert f"<!date^{int(at.timestamp())}^" in reply
        approved = await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        assert "runs" in approved
        await final_card(fake, ":calendar: Approved")
        assert runs(sim) == []
        reminder = await fake.wait_for(lambda: [
            c.args["text"] for c in fake.calls_to("chat.postMessage")
            if "thread_ts" in c.args and "Reminder" in str(c.args.get("text"))
        ])  # fmt: skip
        assert "<@U0OPS1>" in reminder[0]
        assert "<@U0LEAD1>" in reminder[0]
        assert runs(sim) == []
        told = await outcome_told(fake, "switchover", "prod")
        assert "succeeded" in told
        assert datetime.now(UTC) >= at
        assert [r[1] for r in runs(sim)] == ["ha-failover"]
        await asyncio.sleep(6)  # more sweeps: nothing runs again
        assert len(runs(sim)) == 1
    finally:
        await bot.stop()


async def test_one_whose_pair_changed_shape_before_its_time_aborts_naming_the_check(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Approve-what-you-saw: the Secondary goes down after the approval; at its time habot
    re-reads both nodes, aborts, says which check changed, and nothing runs."""
    bot = await started(sim, fake, tmp_path)
    try:
        typed, _ = in_tokyo(8)
        await ask(bot, fake, f"switchover prod at {typed}")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await sim.apply("prod", "secondary", "down")
        told = await outcome_told(fake, "switchover", "prod")
        assert "Aborted" in told
        assert "Changed since it was approved" in told
        assert runs(sim) == []
    finally:
        await bot.stop()


async def test_cancelled_before_its_time_it_never_runs(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """The scheduled card keeps one button, Cancel; its requester uses it; at its time
    nothing runs, and the pair takes a new request."""
    bot = await started(sim, fake, tmp_path)
    try:
        typed, at = in_tokyo(8)
        await ask(bot, fake, f"switchover prod at {typed}")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        scheduled = json.loads(await final_card(fake, ":calendar: Approved"))
        said = await close_with_form(bot, fake, {"blocks": scheduled}, "cancel_request", OPS)
        assert "cancelled" in said
        await until(at + timedelta(seconds=6))  # past its time and a sweep
        assert runs(sim) == []
        assert "approval needed" in await ask(bot, fake, "switchover prod")
    finally:
        await bot.stop()
