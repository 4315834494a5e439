"""An operation asked for later meets habot down at its time: stopped across its time and
its run window (it expires on restart and never runs late), restarted within its window
(it runs, once), and — two replicas on PostgreSQL — the leader killed as its time comes
(the other replica runs it, exactly once)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import FakeSlack
from tests.kit.postgres import fresh_database
from tests.kit.scheduled import SCHEDULED, in_tokyo, started, until
from tests.kit.slack import LEAD, ask, audit_export, cards, click, final_card, outcome_told, runs
from tests.reliability.conftest import Ledger, Row


async def approved_then_stopped(
    sim: Simulator, fake: FakeSlack, tmp: Path, seconds: float
) -> datetime:
    """A switchover asked for ``seconds`` ahead and approved; then habot stops. Its time."""
    bot = await started(sim, fake, tmp)
    typed, at = in_tokyo(seconds)
    await ask(bot, fake, f"switchover prod at {typed}")
    await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
    await final_card(fake, ":calendar: Approved")
    await bot.stop()
    return at


async def test_the_bot_down_across_its_time_expires_it_and_it_never_runs_late(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Approved, then habot stops; its time and its 20 s window pass; on restart the
    first sweep expires it, its card says it never runs late, and nothing runs."""
    row = ledger.add(Row("bot down across a scheduled time and its window",
                         "expires on restart; never runs late"))  # fmt: skip
    at = await approved_then_stopped(sim, fake, tmp_path, seconds=6)
    row.injected = 1
    await until(at + timedelta(seconds=21))  # the run window is 20 s
    restarted = await started(sim, fake, tmp_path, name="restarted")
    try:
        card = await final_card(fake, ":alarm_clock: Expired")
        assert "its run window ended" in card
        assert "never runs late" in card
        assert runs(sim) == []
        assert "approval needed" in await ask(restarted, fake, "switchover prod")
    finally:
        await restarted.stop()


async def test_the_bot_back_within_the_window_runs_it_once(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Approved, then habot stops across its time but is back inside the window: it runs
    at once, once."""
    row = ledger.add(Row("bot down at a scheduled time, back within its window",
                         "runs once, late within the window only"))  # fmt: skip
    at = await approved_then_stopped(sim, fake, tmp_path, seconds=5)
    row.injected = 1
    await until(at + timedelta(seconds=2))
    restarted = await started(sim, fake, tmp_path, name="restarted")
    try:
        assert "succeeded" in await outcome_told(fake, "switchover", "prod")
        row.operations = len(runs(sim))
        assert [r[1] for r in runs(sim)] == ["ha-failover"]
    finally:
        await restarted.stop()


async def test_the_leader_killed_as_its_time_comes_the_other_replica_runs_it_once(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger, postgres_admin: str
) -> None:
    """Two replicas on PostgreSQL. The leader is SIGKILLed a moment before the scheduled
    time; the other takes the lead and runs it — exactly once: one command on the node,
    one ``executing`` in the audit."""
    row = ledger.add(Row("leader killed at a scheduled time (two replicas, PostgreSQL)",
                         "the other runs it exactly once"))  # fmt: skip
    database = fresh_database(postgres_admin)
    fake.zones["U0OPS1"] = "Asia/Tokyo"
    leader = await start_bot(sim, fake, tmp_path, http=True, extra=SCHEDULED, name="leader",
                             database=database)  # fmt: skip
    other = await start_bot(sim, fake, tmp_path, http=True, extra=SCHEDULED, name="other",
                            polls=False, database=database)  # fmt: skip
    try:
        typed, at = in_tokyo(8)
        await ask(leader, fake, f"switchover prod at {typed}")
        await click(leader, fake, cards(fake)[-1], "approve_request", LEAD)
        await final_card(fake, ":calendar: Approved")
        await until(at - timedelta(seconds=1))
        leader.process.kill()
        await leader.process.wait()
        row.injected = 1
        assert "succeeded" in await outcome_told(fake, "switchover", "prod")
        assert [r[1] for r in runs(sim)] == ["ha-failover"]
        row.operations = 1
        row.duplicated = len(runs(sim)) - 1
        audit = (await audit_export(other)).decode()
        assert audit.count('"kind": "executing"') == 1
    finally:
        await other.stop()
        await leader.stop()
