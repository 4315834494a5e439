"""habot's own process breaks: killed mid-command, paused past its lease while it runs an
operation, its database locked at the end of one. The bot runs as a real process against
the appliance simulator and the fake Slack."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from habot.core.model import NodeState, Role
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import CONFIG, LEAD, ask, cards, click, final_card, runs, started
from tests.reliability.conftest import Ledger, Row
from tests.reliability.helpers import events, request_id, trail_with, until

FAILOVER_ON_PRIMARY = [["primary", "ha-failover"]]
LONG_COMMANDS = {"command_timeout": "90s"}  # the command outlives the pause


async def test_a_bot_killed_mid_command_is_unknown_never_rerun_and_holds_the_pair(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """kill -9 while the node is still working on the command: after the restart the request
    is unknown (its card says so), the command is never sent again, and the pair stays
    closed to new operations until an approver resolves it with what they found."""
    row = ledger.add(Row("bot SIGKILLed mid-command", "unknown; never re-run; pair held"))
    bot = await started(sim, fake, tmp_path)
    await ask(bot, fake, "switchover prod")
    rid = request_id(cards(fake)[-1])
    await sim.apply("prod", "primary", "think", "3")
    await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
    await until(lambda: runs(sim) == FAILOVER_ON_PRIMARY)
    bot.process.send_signal(signal.SIGKILL)
    await bot.process.wait()
    row.injected, row.operations = 1, 1
    await sim.apply("prod", "primary", "think", "0")
    restarted = await started(sim, fake, tmp_path)
    try:
        assert "will not be re-run" in await final_card(fake, "Interrupted")
        refused = await ask(restarted, fake, "switchover prod")
        assert "is unknown, so prod is closed to new operations" in refused
        resolved = await ask(restarted, fake, f'resolve {rid} "checked: still BAU"', user=LEAD)
        assert "open to operations again" in resolved
        assert "approval needed" in await ask(restarted, fake, "switchover prod")
        kinds = [e["kind"] for e in await events(restarted, rid)]
    finally:
        await restarted.stop()
    assert runs(sim) == FAILOVER_ON_PRIMARY  # sent once, never again
    row.duplicated = len(runs(sim)) - 1
    row.lost = int("unknown" not in kinds)
    assert kinds[-2:] == ["unknown", "resolved"]


async def freeze_outside_a_write(process: asyncio.subprocess.Process, database: Path) -> None:
    """SIGSTOP the process at a moment it holds no SQLite write lock. Frozen inside one of
    its short write transactions (a heartbeat, a lease claim: a few ms, a few times a
    second), it would hold SQLite's single write lock for the whole freeze and stop every
    replica's writes — SQLite's nature, and why docs/running.md asks for PostgreSQL with several
    replicas; it is not the fault this test is about."""
    for _ in range(50):
        process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.05)
        conn = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return  # frozen, and the lock is free
        except sqlite3.OperationalError:
            pass  # frozen mid-write: let it finish, then try again
        finally:
            conn.close()
        process.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.05)
    pytest.fail("the replica held the database's write lock at every one of 50 tries")


async def test_a_paused_replica_never_passes_the_point_of_no_return(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Two replicas on one database. The one running a switchover is frozen (SIGSTOP)
    while the node is about to ask for confirmation; the other declares the run unknown.
    Resumed, the frozen one finds it no longer owns the request and does not answer the
    question: the appliance is unchanged, nothing is recorded after the abandonment but
    the abandonment itself, and the pair stays closed to a second operation."""
    row = ledger.add(
        Row("replica paused past its lease while executing", "no step past the point of no return")
    )
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    leader = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG, name="leader",
                             database=database, ssh=LONG_COMMANDS)  # fmt: skip
    runner = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG, name="runner",
                             polls=False, database=database, ssh=LONG_COMMANDS)  # fmt: skip
    try:
        await ask(runner, fake, "switchover prod")
        rid = request_id(cards(fake)[-1])
        await sim.apply("prod", "primary", "think", "25")  # the question comes after the pause
        await click(runner, fake, cards(fake)[-1], "approve_request", LEAD)
        await until(lambda: runs(sim) == FAILOVER_ON_PRIMARY)
        await freeze_outside_a_write(runner.process, tmp_path / "shared.db")
        row.injected, row.operations = 1, 1
        try:
            await final_card(fake, "Interrupted")  # the leader's housekeeping, ~10-15 s
        finally:
            runner.process.send_signal(signal.SIGCONT)
        refused = await ask(leader, fake, "switchover prod")
        assert "closed to new operations" in refused
        trail = await trail_with(leader, rid, "abandoned", within=40)
    finally:
        await runner.stop()
        await leader.stop()
    kinds = [e["kind"] for e in trail]
    assert kinds[kinds.index("unknown") :] == ["unknown", "abandoned"]
    assert sim.pairs["prod"].nodes[Role.PRIMARY].state is NodeState.ACTIVE  # never confirmed
    assert sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.STANDBY
    assert runs(sim) == FAILOVER_ON_PRIMARY
    row.duplicated = int("prompt_answered" in kinds)
    assert row.duplicated == 0


@pytest.mark.parametrize("moment", ["at the confirmation", "after the change"])
async def test_a_database_locked_during_an_operation_loses_no_outcome(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger, moment: str
) -> None:
    """Another process holds SQLite's write lock for 15 s — from just before the node asks
    for confirmation (habot's ownership check must wait, not give up), or from the moment
    the appliance made the change (the outcome, progress and card writes must wait). Once
    the lock goes, the outcome, its audit and the card all land, the pair has no open
    request, and /metrics counted the busy retries."""
    row = ledger.add(Row(f"database locked 15 s {moment}", "outcome recorded"))
    # The command's own limit must outlast the lock (else it times out: unknown, correctly).
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG, ssh=LONG_COMMANDS)
    try:
        await ask(bot, fake, "switchover prod")
        rid = request_id(cards(fake)[-1])
        if moment == "at the confirmation":
            await sim.apply("prod", "primary", "think", "1")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        if moment == "at the confirmation":
            await until(lambda: runs(sim) == FAILOVER_ON_PRIMARY, every=0.005)
        else:
            secondary = sim.pairs["prod"].nodes[Role.SECONDARY]
            await until(lambda: secondary.state is NodeState.PROMOTED_ACTIVE, every=0.005)
        lock = sqlite3.connect(tmp_path / "habot.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        row.injected, row.operations = 1, 1
        await asyncio.sleep(15)
        assert not [u for u in fake.calls_to("chat.update") if "Succeeded" in str(u.args)]
        lock.execute("ROLLBACK")
        lock.close()
        await final_card(fake, "Succeeded")
        assert "No open requests" in await ask(bot, fake, "pending")
        kinds = [e["kind"] for e in await events(bot, rid)]
        async with aiohttp.ClientSession() as session, session.get(bot.url("/metrics")) as r:
            metrics = await r.text()
    finally:
        await bot.stop()
    row.lost = int("succeeded" not in kinds)
    assert kinds[-1] == "succeeded"
    retries = [
        line for line in metrics.splitlines() if line.startswith("habot_db_busy_retries_total")
    ]
    assert retries
    assert float(retries[0].split()[-1]) > 0
    assert runs(sim) == FAILOVER_ON_PRIMARY
    assert sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.PROMOTED_ACTIVE
