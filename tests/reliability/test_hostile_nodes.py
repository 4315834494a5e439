"""Nodes that misbehave in ordinary ways: one that never stops printing, a console whose
banner never ends. The time limits must still fire (on Python 3.11 too), memory must stay
bounded, and the other pairs must still be answered. The simulator over real SSH; the bot
as a process where the promise is about the process."""

from __future__ import annotations

import asyncio
import faulthandler
import resource
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from habot.config import Settings
from habot.core.model import Role, Verdict
from habot.runtime import node_logins, utc_now
from habot.secrets import Secrets
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.botproc import start_bot
from tests.kit.factories import settings_from
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import CONFIG, ask
from tests.reliability.conftest import Ledger, Row

#: However long the limits, a read must end well within this (the guard of every test).
GUARD = 60
#: What a bounded read may add to the peak memory of the process reading it.
GROWTH_KB = 200 * 1024


@pytest.fixture(autouse=True)
def hard_guard() -> Iterator[None]:
    """Past twice the guard, end the process with every thread's traceback: the bug these
    tests catch swallows an ``asyncio`` timeout — the guard's own, too — and would hang the
    run instead of failing it."""
    faulthandler.dump_traceback_later(2 * GUARD, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def peak_kb() -> int:
    """This process's peak memory so far (KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.fixture
async def console_sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """Two simulated pairs: prod behind the interactive console, dr over exec."""
    async with Simulator(tmp_path / "sim", ("prod", "dr"), console=("prod",)) as simulator:
        yield simulator


async def babbling_read(sim: Simulator, settings: Settings) -> tuple[str, bool, Verdict]:
    """Make the prod Primary babble, read prod while reading dr meanwhile. Returns what
    the Primary's reading said, whether dr was answered while prod's read still ran, and
    dr's verdict."""
    await sim.apply("prod", "primary", "babble", "on")
    secrets = Secrets({"HABOT_SSH_PASSWORD": sim.kit.console_password()}, lambda s, n: None)
    async with SshExecutor(settings.ssh, None, node_logins(settings, secrets)) as ex:
        status = StatusService(settings, ex, utc_now)
        async with asyncio.timeout(GUARD):
            prod = asyncio.create_task(status.read("prod"))
            await asyncio.sleep(0.5)  # the babble is under way
            [dr] = await status.read("dr")
            answered_meanwhile = not prod.done()
            [reading] = await prod
    return reading.node(Role.PRIMARY).error or "", answered_meanwhile, dr.verdict


async def test_a_node_that_never_stops_printing_is_stopped_by_its_time_limit(
    sim: Simulator, ledger: Ledger
) -> None:
    """Over exec, ha-status prints 8 KB writes without end: the read ends at its time limit
    (said on the node), memory stays bounded, and the other pair is answered meanwhile."""
    row = ledger.add(Row("node that never stops printing (exec)", "time limit; bounded"))
    before = peak_kb()
    said, meanwhile, dr = await babbling_read(sim, settings_from(sim.kit.config_path))
    row.injected = 1
    assert "did not finish within 3s" in said
    assert peak_kb() - before < GROWTH_KB
    assert meanwhile
    assert dr is Verdict.BAU


async def test_a_console_banner_that_never_ends_is_stopped_by_the_login_limit(
    console_sim: Simulator, ledger: Ledger
) -> None:
    """The console's banner never reaches a prompt: the login ends at its limit (saying the
    last line seen and to set the pair's `prompt`), without holding the event loop — the
    other pair is answered meanwhile — and in bounded memory."""
    row = ledger.add(Row("console banner that never ends", "login limit; loop free"))
    before = peak_kb()
    # the command's own limit longer than the login's, so the login's is the one that fires
    settings = settings_from(console_sim.kit.config_path, status_timeout="8s")
    said, meanwhile, dr = await babbling_read(console_sim, settings)
    row.injected = 1
    assert "the console showed no prompt within 3s" in said
    assert "(last line seen: 'Primary:   Active" in said
    assert "set the pair's `prompt` pattern" in said
    assert peak_kb() - before < GROWTH_KB
    assert meanwhile
    assert dr is Verdict.BAU


def rss_kb(pid: int) -> int:
    """A process's resident memory now (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_the_bot_outlasts_a_babbling_node(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """The bot as a process; the prod Primary babbles through two status rounds and two
    `/ha status prod`: each read ends at its limit and says so, `/ha status dr` is
    answered, /healthz stays honest (200: the bot is fine; the node is not), and the
    bot's memory stays bounded."""
    row = ledger.add(Row("node that never stops printing (bot)", "limits fire; others answer"))
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG,
                          ssh={"status_timeout": "2s"})  # fmt: skip
    try:
        before = rss_kb(bot.process.pid)
        await sim.apply("prod", "primary", "babble", "on")
        row.injected = 1
        for _ in range(2):
            async with asyncio.timeout(GUARD):
                prod = await ask(bot, fake, "status prod")
                dr = await ask(bot, fake, "status dr")
            assert "did not finish within 2s" in prod
            assert "*dr*: BAU" in dr
        async with aiohttp.ClientSession() as session, session.get(bot.url("/healthz")) as r:
            assert r.status == 200
        assert rss_kb(bot.process.pid) - before < GROWTH_KB
    finally:
        await bot.stop()
