"""Operations asked for later, end to end: habot as a process, the simulator behind SSH,
Slack faked at its HTTP boundary. Times are a few seconds ahead, typed as ISO times with
seconds in the asker's own Slack time zone."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from habot.sim.simulator import Simulator
from tests.kit.botproc import Bot, start_bot
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import (
    CONFIG,
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

#: A short run window and reminder, so a test waits seconds, not minutes.
SCHEDULED = CONFIG.replace(
    'cooldown = "10m"\n', 'cooldown = "10m"\nrun_window = "20s"\nremind_before = "10s"\n', 1
)
TOKYO = ZoneInfo("Asia/Tokyo")


def in_tokyo(seconds: float) -> tuple[str, datetime]:
    """A moment ``seconds`` from now, as a person in Tokyo types it (their wall clock, no
    offset), and the moment itself."""
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    return at.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M:%S"), at


async def until(moment: datetime) -> None:
    """Sleep until ``moment`` (a real clock: the bot is a process)."""
    await asyncio.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0))


async def started(sim: Simulator, fake: FakeSlack, tmp: Path, name: str = "bot") -> Bot:
    """The bot, its asker living in Tokyo (Slack's users.info says so)."""
    fake.zones[OPS] = "Asia/Tokyo"
    return await start_bot(sim, fake, tmp, http=True, extra=SCHEDULED, name=name)


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
