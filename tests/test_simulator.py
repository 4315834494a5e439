"""The simulated pair follows the documented procedures end to end over SSH."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import pytest

from habot.config import Settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import NodeState, Role, Verdict
from habot.errors import UnexpectedPrompt
from habot.services.status import StatusService
from habot.sim.appliance import PairSim
from habot.sim.simulator import Simulator, control
from habot.ssh.executor import SshExecutor

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
P, S = Role.PRIMARY, Role.SECONDARY


async def verdict(settings: Settings, ex: SshExecutor, pair: str = "prod") -> Verdict:
    """The pair's verdict as habot reads it right now."""
    [status] = await StatusService(settings, ex, lambda: T0).read(pair)
    return status.verdict


async def run(sim: Simulator, ex: SshExecutor, role: Role, command: HaCommand) -> int | None:
    """Run an HA command on a simulated node, confirming its question."""
    result = await ex.run(sim.address("prod", role), ha_command(command), answer_prompt=True)
    return result.exit_status


async def test_switchover_then_failback_returns_to_bau(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor
) -> None:
    """ha-failover on the active Primary hands over; ha-failback restores BAU."""
    assert await run(sim, executor, P, HaCommand.FAILOVER) == 0
    assert await verdict(sim_settings, executor) is Verdict.FAILED_OVER
    assert await run(sim, executor, S, HaCommand.FAILBACK) == 0
    assert await verdict(sim_settings, executor) is Verdict.BAU


async def test_unplanned_failover_split_brain_and_recovery(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor
) -> None:
    """Primary lost → failover → Primary returns Active (split brain) → demote → failback."""
    await sim.apply("prod", "primary", "down")
    assert await verdict(sim_settings, executor) is Verdict.PRIMARY_DOWN
    assert await run(sim, executor, S, HaCommand.FAILOVER) == 0
    assert await verdict(sim_settings, executor) is Verdict.FAILED_OVER
    await sim.apply("prod", "primary", "up")
    assert await verdict(sim_settings, executor) is Verdict.SPLIT_BRAIN
    assert await run(sim, executor, S, HaCommand.FAILBACK) == 1  # refused: demote first
    assert await run(sim, executor, P, HaCommand.DEMOTE_PRIMARY) == 0
    assert await run(sim, executor, S, HaCommand.FAILBACK) == 0
    assert await verdict(sim_settings, executor) is Verdict.BAU


async def test_make_standalone_joining_code_and_initialise(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor
) -> None:
    """Both servers made standalone, a joining code issued, then ha-initialise asks for it:
    a wrong code changes nothing, no code at all is a question habot refuses, the right
    one (typed, never echoed into the output) pairs them."""
    assert await run(sim, executor, S, HaCommand.MAKE_STANDALONE) == 0
    assert await run(sim, executor, P, HaCommand.MAKE_STANDALONE) == 0
    assert await verdict(sim_settings, executor) is Verdict.STANDALONE
    code = await executor.run(sim.address("prod", S), ha_command(HaCommand.CREATE_JOINING_CODE))
    assert code.output.startswith("Joining code: ")
    secret = code.output.split()[2]
    assert all(secret not in line for line in sim.pairs["prod"].nodes[S].log)
    initialise, primary = ha_command(HaCommand.INITIALISE), sim.address("prod", P)
    wrong = await executor.run(primary, initialise, answer_prompt=True, joining_code="NOPE")
    assert (wrong.exit_status, "Invalid joining code" in wrong.output) == (1, True)
    with pytest.raises(UnexpectedPrompt, match="does not recognise"):
        await executor.run(primary, initialise, answer_prompt=True)
    assert await verdict(sim_settings, executor) is Verdict.STANDALONE
    right = await executor.run(primary, initialise, answer_prompt=True, joining_code=secret)
    assert right.exit_status == 0
    assert secret not in right.output
    assert "High Availability initialised" in right.output  # not "Failback complete"
    assert "Failback" not in right.output
    assert await verdict(sim_settings, executor) is Verdict.BAU


def test_commands_on_the_wrong_node_are_refused() -> None:
    """The simulated appliance refuses commands whose preconditions do not hold."""
    pair = PairSim("prod", "10.0.0.1", "10.0.0.2")
    assert pair.plan(S, "ha-demote-primary", T0).exit_status == 1
    assert pair.plan(P, "ha-create-joining-code", T0).exit_status == 1
    assert pair.plan(P, "ha-initialise", T0).exit_status == 1  # healthy: nothing to do
    assert pair.plan(P, "rm -rf /", T0).exit_status == 127
    assert pair.plan(P, "ha-status --all", T0).exit_status == 127
    assert pair.nodes[P].state is NodeState.ACTIVE


async def test_control_port_switches_faults_with_token(sim: Simulator) -> None:
    """Another process can switch faults through the control port (token required)."""
    reply = await control(
        sim.kit.dir, {"op": "fault", "pair": "prod", "target": "primary", "fault": "down"}
    )
    assert reply["ok"]
    assert reply["state"]["prod"]["primary"]["up"] is False
    bad = await control(sim.kit.dir, {"op": "fault", "pair": "prod", "target": "x", "fault": "up"})
    assert bad == {"ok": False, "error": "target must be primary, secondary or pair, not 'x'"}


async def test_host_keys_survive_a_restart(tmp_path: Path) -> None:
    """A restarted simulator presents the same host keys, so known_hosts stays valid."""
    async with Simulator(tmp_path / "sim", ("prod",)) as first:
        before = [line.split()[1:] for line in first.kit.known_hosts_path.read_text().splitlines()]
    async with Simulator(tmp_path / "sim", ("prod",)) as second:
        after = [line.split()[1:] for line in second.kit.known_hosts_path.read_text().splitlines()]
    assert after == before
    assert len({key for _, key in before}) == 2  # each node has its own key


_A, _SB, _D, _PA, _SA = (
    NodeState.ACTIVE, NodeState.STANDBY, NodeState.DEMOTED, NodeState.PROMOTED_ACTIVE,
    NodeState.STANDALONE,
)  # fmt: skip
OFFERS = [
    # (primary, secondary, node, what its console lists besides ha-status)
    (_A, _SB, P, {"ha-failover", "ha-demote-primary", "ha-make-standalone"}),
    (_A, _SB, S, {"ha-failover", "ha-make-standalone"}),
    (_D, _PA, P, {"ha-failback", "ha-make-standalone"}),
    (_D, _PA, S, {"ha-failback", "ha-make-standalone"}),
    (_A, _SA, P, {"ha-failover", "ha-demote-primary", "ha-initialise", "ha-make-standalone"}),
    (_A, _SA, S, {"ha-create-joining-code"}),
]


@pytest.mark.parametrize(("primary", "secondary", "node", "offers"), OFFERS)
def test_the_console_lists_what_the_nodes_role_and_state_allow(
    primary: NodeState, secondary: NodeState, node: Role, offers: set[str]
) -> None:
    """The banner's list follows the guide's procedures: ha-status always; ha-failback only
    while the Secondary is Promoted Active; a joining code only from a standalone
    Secondary; ha-initialise only on a Primary whose HA is not healthy."""
    pair = PairSim("prod", "10.0.0.11", "10.0.0.12")
    pair.nodes[P].state, pair.nodes[S].state = primary, secondary
    assert set(pair.offered(node)) == offers | {"ha-status"}
    assert all(f"  {name}\n" in pair.banner(node) for name in offers)


async def test_a_console_node_takes_only_its_password_and_refuses_exec(tmp_path: Path) -> None:
    """`--console`: the node's password logs in to the console; a key or a wrong password
    does not; an exec request gets the refusal and exit status 1."""
    async with Simulator(tmp_path / "sim", ("prod",), console=("prod",)) as sim:
        address = sim.address("prod", P)
        options = {
            "known_hosts": str(sim.kit.known_hosts_path), "username": "habot",
            "agent_path": None, "config": [],
        }  # fmt: skip
        async with asyncssh.connect(
            address.host, address.port, password=sim.kit.console_password(),
            client_keys=None, **options,
        ) as conn:  # fmt: skip
            exec_result = await conn.run("ha-status", check=False)
        for wrong in ({"password": "guess"}, {"client_keys": [str(sim.kit.client_key_path)]}):
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh.connect(address.host, address.port, **options, **wrong)
    assert exec_result.exit_status == 1
    assert "offers its HA console only" in str(exec_result.stdout)


def test_console_mode_for_a_pair_not_simulated_is_refused(tmp_path: Path) -> None:
    """A typo in --console names the pair instead of simulating nothing."""
    with pytest.raises(ValueError, match="not simulated: prdo"):
        Simulator(tmp_path / "sim", ("prod",), console=("prdo",))


async def test_power_and_path_faults_compose_in_any_order(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor
) -> None:
    """`up` on a running node changes nothing (it used to fail to bind its port); cutting
    habot's path to a node that is off leaves it off; mending the path of a node still off
    does not switch it on; powering it on while the path is cut keeps the path cut."""
    await sim.apply("prod", "primary", "up")
    assert await verdict(sim_settings, executor) is Verdict.BAU
    await sim.apply("prod", "primary", "down")
    await sim.apply("prod", "primary", "cut", "on")
    assert await verdict(sim_settings, executor) is Verdict.PRIMARY_DOWN  # its peer sees it off
    await sim.apply("prod", "primary", "cut", "off")
    assert await verdict(sim_settings, executor) is Verdict.PRIMARY_DOWN
    await sim.apply("prod", "primary", "cut", "on")
    await sim.apply("prod", "primary", "up")
    assert await verdict(sim_settings, executor) is Verdict.PRIMARY_UNREACHABLE
    await sim.apply("prod", "primary", "cut", "off")
    assert await verdict(sim_settings, executor) is Verdict.BAU
