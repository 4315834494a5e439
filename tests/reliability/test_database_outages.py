"""The database fails — not busy, gone — right after an appliance changed: PostgreSQL
stopped (a restart, a managed database's fail-over) under two replicas, SQLite's disk
full. The outcome habot holds in memory must outlive the outage: recorded once the
database is back, the requester told, the pair free, and one line said per outage rather
than a traceback a second. The bots run as real processes against the simulator and the
fake Slack."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from habot.core.model import NodeState, Role
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import FakeSlack
from tests.kit.postgres import PostgresServer, fresh_database
from tests.kit.slack import CONFIG, LEAD, ask, cards, click, final_card, outcome_told, runs
from tests.reliability.conftest import Ledger, Row
from tests.reliability.helpers import events, request_id, until

FAILOVER_ON_PRIMARY = [["primary", "ha-failover"]]
UNAVAILABLE = "the database is unavailable"


async def promoted(sim: Simulator) -> None:
    """Until the appliance has made the change (the Secondary is Promoted Active)."""
    secondary = sim.pairs["prod"].nodes[Role.SECONDARY]
    await until(lambda: secondary.state is NodeState.PROMOTED_ACTIVE, every=0.005)


def tracebacks(log: str) -> int:
    """How many tracebacks a bot's output holds."""
    return log.count("Traceback (most recent call last)")


@pytest.mark.parametrize("seconds", [2, 20])
async def test_postgresql_stopped_right_after_the_change_loses_no_outcome(
    sim: Simulator,
    fake: FakeSlack,
    tmp_path: Path,
    ledger: Ledger,
    restartable_postgres: PostgresServer,
    seconds: int,
) -> None:
    """Two replicas on PostgreSQL. The moment the switchover has changed the appliance,
    the server is shut down fast for 2 s (a restart) or 20 s, then started again. The
    outcome is recorded once it is back — the card says Succeeded, the requester is told,
    `/ha pending` is empty and the pair takes a new request — the command ran once, the
    leader did not declare the running replica dead because its own writes had failed
    too, and each replica said the outage in a line, with no traceback a second."""
    row = ledger.add(Row(f"PostgreSQL stopped {seconds} s after the change", "outcome recorded"))
    database = fresh_database(restartable_postgres.url)
    leader = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG, name="leader",
                             database=database)  # fmt: skip
    runner = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG, name="runner",
                             polls=False, database=database)  # fmt: skip
    try:
        await ask(runner, fake, "switchover prod")
        rid = request_id(cards(fake)[-1])
        await click(runner, fake, cards(fake)[-1], "approve_request", LEAD)
        await promoted(sim)
        restartable_postgres.stop()
        row.injected, row.operations = 1, 1
        await asyncio.sleep(seconds)
        restartable_postgres.start()
        await final_card(fake, "Succeeded")
        assert "succeeded" in await outcome_told(fake, "switchover", "prod")
        assert "No open requests" in await ask(leader, fake, "pending")
        kinds = [e["kind"] for e in await events(leader, rid)]
        assert "approval needed" in await ask(runner, fake, 'failback prod --override "test"')
    finally:
        logs = [await runner.stop(), await leader.stop()]
    row.lost = int("succeeded" not in kinds)
    assert kinds[-1] == "succeeded"
    assert "unknown" not in kinds
    assert runs(sim) == FAILOVER_ON_PRIMARY
    row.duplicated = len(runs(sim)) - 1
    assert UNAVAILABLE in logs[0]  # the runner met the outage, and said it
    for log in logs:
        assert tracebacks(log) <= 1, log


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs mounted at ``where`` (as root), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small disk needs root")
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to its last byte; return the file that did it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


async def test_sqlite_on_a_disk_that_fills_right_after_the_change_loses_no_outcome(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """SQLite on a small disk. The moment the switchover has changed the appliance the disk
    is filled to the last byte, and freed 5 s later. Writes meanwhile fail ("database or
    disk is full"); the outcome is recorded once there is room again, the requester is
    told and the pair is free."""
    row = ledger.add(Row("SQLite's disk full after the change", "outcome recorded"))
    with small_disk(tmp_path / "disk") as disk:
        bot = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG,
                              database=f"sqlite:///{disk / 'habot.db'}")  # fmt: skip
        try:
            await ask(bot, fake, "switchover prod")
            rid = request_id(cards(fake)[-1])
            await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
            await promoted(sim)
            filler = fill(disk)
            row.injected, row.operations = 1, 1
            await asyncio.sleep(5)
            filler.unlink()
            await final_card(fake, "Succeeded")
            assert "succeeded" in await outcome_told(fake, "switchover", "prod")
            assert "No open requests" in await ask(bot, fake, "pending")
            kinds = [e["kind"] for e in await events(bot, rid)]
        finally:
            log = await bot.stop()
    row.lost = int("succeeded" not in kinds)
    assert kinds[-1] == "succeeded"
    assert runs(sim) == FAILOVER_ON_PRIMARY
    assert UNAVAILABLE in log  # the full disk was met, and said
    assert tracebacks(log) <= 1, log
