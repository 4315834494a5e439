"""The SSH executor against the appliance simulator over real SSH on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncssh
import pytest

from habot.config import Settings
from habot.core.catalogue import HaCommand, ha_command, tail_log
from habot.core.model import NodeState, Role
from habot.core.status_parser import parse_status
from habot.errors import (
    AuthenticationFailed,
    CommandTimedOut,
    ConnectionLostError,
    HostKeyChanged,
    HostKeyUnknown,
    NodeUnreachable,
    UnexpectedPrompt,
)
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.factories import settings_from

STATUS = ha_command(HaCommand.STATUS)
FAILOVER = ha_command(HaCommand.FAILOVER)
P, S = Role.PRIMARY, Role.SECONDARY


async def test_status_is_read_from_each_node(sim: Simulator, executor: SshExecutor) -> None:
    """ha-status runs on a node and describes the pair from that node's point of view."""
    result = await executor.run(sim.address("prod", S), STATUS)
    report = parse_status(result.output)
    assert result.exit_status == 0
    assert report.this_host is S
    assert report.entry(P).state is NodeState.ACTIVE  # type: ignore[union-attr]


async def test_confirmation_is_answered_when_asked(sim: Simulator, executor: SshExecutor) -> None:
    """With answer_prompt the y/N question gets "y" and the command takes effect once."""
    result = await executor.run(sim.address("prod", P), FAILOVER, answer_prompt=True)
    assert result.prompt_answered
    assert result.exit_status == 0
    assert sim.pairs["prod"].nodes[S].state is NodeState.PROMOTED_ACTIVE
    assert sim.pairs["prod"].runs == [("primary", "ha-failover")]


async def test_unrequested_prompt_aborts_and_changes_nothing(
    sim: Simulator, executor: SshExecutor
) -> None:
    """A y/N question nobody agreed to answer aborts the command; the pair is unchanged."""
    with pytest.raises(UnexpectedPrompt, match=r"ha-failover asked a confirmation"):
        await executor.run(sim.address("prod", P), FAILOVER)
    await asyncio.sleep(0.1)  # let the simulated node see the channel close
    assert sim.pairs["prod"].nodes[S].state is NodeState.STANDBY
    assert sim.pairs["prod"].nodes[P].log[-1].endswith("ha-failover: aborted: not confirmed")


async def test_log_tail_returns_the_last_lines(sim: Simulator, executor: SshExecutor) -> None:
    """tail -n N of the HA command log returns exactly the last N lines."""
    await executor.run(sim.address("prod", P), FAILOVER, answer_prompt=True)
    result = await executor.run(
        sim.address("prod", P), tail_log("/var/log/osirium/ha-commands.log", 1)
    )
    assert result.output.count("\n") == 1
    assert "ha-failover: completed" in result.output


async def test_changed_host_key_is_refused_as_possible_mitm(
    sim: Simulator, sim_settings: Settings
) -> None:
    """A node presenting a key other than the known one is never connected to."""
    address = sim.address("prod", P)
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    sim.kit.known_hosts_path.write_text(f"[{address.host}]:{address.port} {impostor}")
    async with SshExecutor(sim_settings.ssh) as ex:
        with pytest.raises(HostKeyChanged, match="man-in-the-middle"):
            await ex.run(address, STATUS)
    assert sim.pairs["prod"].runs == []


async def test_unknown_host_key_is_refused(sim: Simulator, sim_settings: Settings) -> None:
    """A node whose key is not in known_hosts is refused; habot never trusts on first use."""
    sim.kit.known_hosts_path.write_text("")
    async with SshExecutor(sim_settings.ssh) as ex:
        with pytest.raises(HostKeyUnknown, match="ssh-keyscan"):
            await ex.run(sim.address("prod", P), STATUS)


async def test_refused_key_is_an_authentication_failure(sim: Simulator, tmp_path: object) -> None:
    """A client key the node does not accept gives AuthenticationFailed."""
    other = sim.kit.dir / "other_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(other)
    settings = settings_from(sim.kit.config_path, client_keys=[str(other)])
    async with SshExecutor(settings.ssh) as ex:
        with pytest.raises(AuthenticationFailed, match="refused habot's client keys"):
            await ex.run(sim.address("prod", P), STATUS)


async def test_node_down_is_unreachable(sim: Simulator, executor: SshExecutor) -> None:
    """A node that is down refuses the connection: NodeUnreachable with the reason."""
    await sim.apply("prod", "primary", "down")
    with pytest.raises(NodeUnreachable, match="connection refused"):
        await executor.run(sim.address("prod", P), STATUS)


async def test_hanging_command_times_out(sim: Simulator, executor: SshExecutor) -> None:
    """A command that never finishes is stopped at its time limit."""
    await sim.apply("prod", "secondary", "hang", "on")
    with pytest.raises(CommandTimedOut, match=r"did not finish within 0\.3s"):
        await executor.run(sim.address("prod", S), STATUS, time_limit=timedelta(seconds=0.3))


async def test_node_dying_mid_command_is_connection_lost(
    sim: Simulator, executor: SshExecutor
) -> None:
    """A node that drops the connection while a command runs gives ConnectionLostError."""
    await sim.apply("prod", "primary", "crash", "on")
    with pytest.raises(ConnectionLostError, match="connection lost while ha-status ran"):
        await executor.run(sim.address("prod", P), STATUS)


async def test_connections_are_reused(sim: Simulator, executor: SshExecutor) -> None:
    """Sequential commands to one node share one pooled connection."""
    address = sim.address("prod", P)
    for _ in range(5):
        await executor.run(address, STATUS)
    assert executor.pool(address).opened == 1


async def test_pool_is_bounded(sim: Simulator, executor: SshExecutor) -> None:
    """Twelve concurrent commands to one node never open more than pool_size connections."""
    address = sim.address("prod", P)
    results = await asyncio.gather(*(executor.run(address, STATUS) for _ in range(12)))
    assert all(r.ok for r in results)
    assert executor.pool(address).opened == 2


async def test_pool_recovers_after_node_restart(sim: Simulator, executor: SshExecutor) -> None:
    """A pooled connection cut by a restart is replaced; the next command succeeds."""
    address = sim.address("prod", P)
    await executor.run(address, STATUS)
    await sim.apply("prod", "primary", "down")
    await sim.apply("prod", "primary", "up")
    result = await executor.run(address, STATUS)
    assert result.ok
    assert executor.pool(address).opened == 2


async def test_mutating_commands_get_a_fresh_connection(
    sim: Simulator, executor: SshExecutor
) -> None:
    """A mutating command never rides a pooled connection; reads keep reusing theirs."""
    address = sim.address("prod", P)
    await executor.run(address, STATUS)
    await executor.run(address, FAILOVER, answer_prompt=True)
    await executor.run(address, STATUS)
    assert executor.pool(address).opened == 2


async def test_slow_node_answers_late_but_answers(sim: Simulator, executor: SshExecutor) -> None:
    """The slow fault delays the answer: within the limit it arrives, beyond it times out."""
    await sim.apply("prod", "primary", "slow", "0.4")
    with pytest.raises(CommandTimedOut):
        await executor.run(sim.address("prod", P), STATUS, time_limit=timedelta(seconds=0.1))
    result = await executor.run(sim.address("prod", P), STATUS, time_limit=timedelta(seconds=5))
    assert result.ok
