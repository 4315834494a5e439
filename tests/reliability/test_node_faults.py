"""A node breaks while habot is in the middle of a command on it: its sshd (and the
session) killed, or the whole node frozen (SIGSTOP of sshd, its session and the command).
Real OpenSSH for the failing node; a simulated pair, served by the same executor, must
carry on meanwhile."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncssh
import pytest

from habot.config import Settings, parse_settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import Verdict
from habot.errors import CommandTimedOut, ConnectionLostError
from habot.runtime import utc_now
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.botproc import CHANNEL, start_bot
from tests.kit.factories import FAST_SSH
from tests.kit.fakeslack import FakeSlack, form_body, slash_command
from tests.kit.slack import CONFIG, LEAD, OPS, ask, cards, click, final_card, post, runs, started
from tests.kit.sshd import Sshd
from tests.reliability.conftest import Ledger, Row
from tests.reliability.helpers import signal_tree, until

FAILOVER = ha_command(HaCommand.FAILOVER)


def both(sshd: Sshd, sim: Simulator, tmp: Path) -> Settings:
    """One executor's settings for the real sshd (pair "lab") and the simulated "prod"."""
    known = tmp / "known_hosts"
    known.write_text(sshd.known_hosts.read_text() + sim.kit.known_hosts_path.read_text())
    prod = sim.kit.config_path.read_text().split('name = "prod"')[1].split("\n")
    primary, secondary = (line.split('"')[1] for line in prod[1:3])
    return parse_settings(
        {
            "ssh": {
                "username": sshd.username,
                "client_keys": [str(sshd.client_key), str(sim.kit.client_key_path)],
                "known_hosts": str(known),
                **FAST_SSH,
            },
            "pairs": [
                {"name": "lab", "primary": str(sshd.address), "secondary": "127.0.0.1:1"},
                {"name": "prod", "primary": primary, "secondary": secondary},
            ],
        }
    )


@pytest.fixture
async def world(
    sshd: Sshd, sim: Simulator, tmp_path: Path
) -> AsyncIterator[tuple[Settings, SshExecutor]]:
    """The settings and one executor for both."""
    settings = both(sshd, sim, tmp_path)
    async with SshExecutor(settings.ssh) as executor:
        yield settings, executor


async def test_a_frozen_node_times_out_as_unknown_ground_while_other_pairs_answer(
    sshd: Sshd, world: tuple[Settings, SshExecutor], ledger: Ledger
) -> None:
    """The node freezes right as habot answers its confirmation: the command ends with
    CommandTimedOut (the operation service makes that `unknown`: whether the node took
    the answer before it froze cannot be known), and a status read of another pair through the
    same executor answers in well under the frozen command's limit."""
    row = ledger.add(
        Row("node frozen mid-command (SIGSTOP sshd + session)", "unknown; others fine")
    )
    settings, executor = world
    frozen: list[int] = []
    at_the_gate = asyncio.Event()

    async def freeze() -> bool:
        frozen.extend(signal_tree(sshd.process.pid, signal.SIGSTOP))
        at_the_gate.set()
        return True

    command = asyncio.create_task(
        executor.run(sshd.address, FAILOVER, answer_prompt=True, confirm_gate=freeze,
                     time_limit=timedelta(seconds=4))
    )  # fmt: skip
    try:
        await at_the_gate.wait()
        [other] = await StatusService(settings, executor, utc_now).read("prod")
        # answered while the frozen command still waits: not queued behind it
        answered_while_frozen = not command.done()
        with pytest.raises(CommandTimedOut):
            await command
    finally:
        for pid in frozen:
            signal_tree(pid, signal.SIGCONT)
    row.injected, row.operations = 1, 1
    assert other.verdict is Verdict.BAU
    assert answered_while_frozen


async def test_a_node_whose_sshd_dies_mid_command_is_connection_lost(
    sshd: Sshd, world: tuple[Settings, SshExecutor], ledger: Ledger
) -> None:
    """sshd and the session are killed while the command waits for its confirmation:
    ConnectionLostError (`unknown` for an operation — it may have gone either way), and the
    other pair still answers."""
    row = ledger.add(Row("node's sshd killed mid-command", "unknown; others fine"))
    settings, executor = world

    async def kill() -> bool:
        signal_tree(sshd.process.pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        return True

    with pytest.raises(ConnectionLostError):
        await executor.run(sshd.address, FAILOVER, answer_prompt=True, confirm_gate=kill)
    row.injected, row.operations = 1, 1
    [other] = await StatusService(settings, executor, utc_now).read("prod")
    assert other.verdict is Verdict.BAU


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("down", "connection"), ("silent", "did not finish within")],
)
async def test_an_operation_on_a_node_that_dies_or_goes_silent_ends_unknown_with_the_reason(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger, fault: str, reason: str
) -> None:
    """End to end: during an approved switchover the Primary goes down mid-command (its
    connections cut) or goes silent past the command's limit. The card ends "Outcome
    unknown" with the reason, the pair is held for a person to resolve, and another pair's
    status is answered while it happens."""
    row = ledger.add(Row(f"node {fault} mid-operation (bot as a process)", "unknown + reason"))
    bot = await started(sim, fake, tmp_path)
    try:
        await ask(bot, fake, "switchover prod")
        await sim.apply("prod", "primary", "think", "3" if fault == "down" else "60")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await until(lambda: runs(sim) == [["primary", "ha-failover"]])
        if fault == "down":
            await sim.apply("prod", "primary", "down")
        url, rid = fake.response_url()
        await post(bot, form_body(slash_command("status dr", OPS, CHANNEL, url)))
        assert (await fake.response(rid))["text"] == "dr: BAU"
        # a silent node: answered while the operation still waits on it, not behind it
        ended = [u for u in fake.calls_to("chat.update") if "Outcome unknown" in str(u.args)]
        answered_while_waiting = fault == "down" or not ended
        final = await final_card(fake, "Outcome unknown")
        row.injected, row.operations = 1, 1
        assert reason in final
        await sim.apply("prod", "primary", "think", "0")
        if fault == "down":
            await sim.apply("prod", "primary", "up")
        assert "closed to new operations" in await ask(bot, fake, "switchover prod")
    finally:
        await bot.stop()
    assert answered_while_waiting
    assert runs(sim) == [["primary", "ha-failover"]]


async def test_a_changed_host_key_is_refused_and_the_peers_view_is_shown(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """One node presents a host key habot does not know (a rebuilt node — or someone in
    the middle): habot refuses to talk to it, says so, shows what its peer reports about
    it, and refuses an operation on the pair; nothing runs."""
    row = ledger.add(Row("host key changed on one node", "refused; peer's view shown"))
    config = sim.kit.config_path.read_text()
    secondary = config.split('name = "prod"')[1].split('secondary = "')[1].split('"')[0]
    port = secondary.rsplit(":", 1)[1]
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    known = tmp_path / "known_hosts"
    known.write_text(
        "".join(
            f"[127.0.0.1]:{port} {stranger}\n"
            if line.startswith(f"[127.0.0.1]:{port} ")
            else line + "\n"
            for line in sim.kit.known_hosts_path.read_text().splitlines()
        )
    )
    bot = await start_bot(  # not waiting for the first round: one node never answers it
        sim, fake, tmp_path, http=True, extra=CONFIG, polls=False, ssh={"known_hosts": str(known)}
    )
    try:
        url, rid = fake.response_url()
        await post(bot, form_body(slash_command("status prod", OPS, CHANNEL, url)))
        card = await fake.response(rid)
        refused = await ask(bot, fake, "switchover prod")
    finally:
        await bot.stop()
    row.injected = 1
    shown = json.dumps(card["blocks"])
    assert card["text"] == "prod: Secondary unreachable from habot"
    assert "host key" in shown
    assert "sees it" in shown
    assert ":no_entry:" in refused
    assert runs(sim) == []
