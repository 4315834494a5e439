"""Reading pairs: both nodes asked, in parallel; one node's trouble never hides another's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import pytest

from habot.config import Settings
from habot.core.addresses import NodeAddress
from habot.core.catalogue import HaCommand, RemoteCommand, ha_command
from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.results import CommandResult
from habot.errors import ConfigError
from habot.runtime import node_logins
from habot.secrets import Secrets
from habot.services.status import StatusService
from habot.sim.appliance import Layout
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.factories import settings_from

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
P, S = Role.PRIMARY, Role.SECONDARY


def service(settings: Settings, executor: SshExecutor) -> StatusService:
    """A status service with a fixed clock."""
    return StatusService(settings, executor, lambda: T0)


async def test_bau_pairs_read_from_both_nodes(
    sim_settings: Settings, executor: SshExecutor
) -> None:
    """Every configured pair is read, in configuration order, from both nodes."""
    statuses = await service(sim_settings, executor).read("all")
    assert [(s.pair, s.verdict) for s in statuses] == [("prod", Verdict.BAU), ("dr", Verdict.BAU)]
    assert statuses[0].primary.state is NodeState.ACTIVE
    assert statuses[0].secondary.state is NodeState.STANDBY
    assert statuses[0].health is Health.OK
    assert statuses[0].floating_ip == "10.20.0.10"
    assert statuses[0].primary.raw
    assert "this host" in statuses[0].primary.raw


async def test_primary_down_is_reported_and_other_pair_unaffected(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor
) -> None:
    """A stopped Primary makes its pair primary_down; the other pair stays bau."""
    await sim.apply("prod", "primary", "down")
    prod, dr = await service(sim_settings, executor).read()
    assert prod.verdict is Verdict.PRIMARY_DOWN
    assert prod.primary.state is NodeState.UNREACHABLE
    assert not prod.primary.reachable
    assert "connection refused" in (prod.primary.error or "")
    assert dr.verdict is Verdict.BAU


async def test_garbage_output_is_unknown_with_raw_kept(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor
) -> None:
    """Output that cannot be parsed makes the node unknown; the raw text is kept."""
    await sim.apply("prod", "secondary", "garbage", "on")
    [prod] = await service(sim_settings, executor).read("prod")
    assert prod.secondary.state is NodeState.UNKNOWN
    assert prod.secondary.reachable
    assert prod.secondary.raw
    assert "Segmentation fault" in prod.secondary.raw
    assert prod.primary.state is NodeState.ACTIVE
    assert prod.verdict is Verdict.UNKNOWN


async def test_hanging_node_times_out_and_peer_is_still_reported(
    sim: Simulator, sim_settings: Settings
) -> None:
    """A node that hangs is unknown after status_timeout; its peer is read normally."""
    settings = settings_from(sim.kit.config_path, status_timeout="500ms")
    await sim.apply("prod", "primary", "hang", "on")
    async with SshExecutor(settings.ssh) as ex:
        [prod] = await service(settings, ex).read("prod")
    assert prod.primary.state is NodeState.UNKNOWN
    assert "did not finish within 0.5s" in (prod.primary.error or "")
    assert prod.secondary.state is NodeState.STANDBY


async def test_changed_host_key_shows_mitm_warning_for_that_node_only(
    sim: Simulator, sim_settings: Settings
) -> None:
    """A changed key marks that node unreachable with the MITM reason; others are read. The
    Primary still sees its Secondary Standby, so the pair is secondary_unreachable — habot's
    side, not the appliance's — never secondary_down."""
    address = sim.address("prod", S)
    lines = sim.kit.known_hosts_path.read_text().splitlines()
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    pattern = f"[{address.host}]:{address.port}"
    kept = [line for line in lines if not line.startswith(pattern + " ")]
    sim.kit.known_hosts_path.write_text("\n".join([*kept, f"{pattern} {impostor}"]))
    async with SshExecutor(sim_settings.ssh) as ex:
        prod, dr = await service(sim_settings, ex).read()
    assert prod.secondary.state is NodeState.UNREACHABLE
    assert "man-in-the-middle" in (prod.secondary.error or "")
    assert prod.primary.state is NodeState.ACTIVE
    assert prod.verdict is Verdict.SECONDARY_UNREACHABLE
    assert prod.secondary.peer_says is NodeState.STANDBY
    assert dr.verdict is Verdict.BAU


async def test_degraded_and_nearly_full_share_are_reported(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor
) -> None:
    """Pair health Degraded is a verdict; a share 80%+ full is a warning."""
    await sim.apply("dr", "pair", "degraded", "on")
    await sim.apply("dr", "pair", "smb", "92")
    [dr] = await service(sim_settings, executor).read("dr")
    assert dr.verdict is Verdict.DEGRADED
    assert dr.warnings == (
        "HA health is Degraded (primary, secondary)",
        "SMB share 92% full (primary, secondary)",
    )


async def test_unknown_pair_is_refused_before_any_ssh(
    sim_settings: Settings, executor: SshExecutor
) -> None:
    """Asking for a pair that is not configured names the configured ones."""
    with pytest.raises(ConfigError, match="unknown pair 'qa'; configured pairs: prod, dr"):
        await service(sim_settings, executor).read("qa")


@pytest.mark.parametrize("console", [False, True], ids=["exec", "console"])
@pytest.mark.parametrize("layout", list(Layout))
async def test_every_simulated_layout_reads_as_bau(
    tmp_path: Path, layout: Layout, console: bool
) -> None:
    """Each plausible ha-status layout the simulator prints is understood end to end,
    over exec and through the console alike (where the banner's list comes along)."""
    consoles = ("lab",) if console else ()
    async with Simulator(tmp_path / "sim", ("lab",), layout=layout, console=consoles) as sim:
        settings = settings_from(sim.kit.config_path)
        secrets = Secrets({"HABOT_SSH_PASSWORD": sim.kit.console_password()}, lambda s, n: None)
        async with SshExecutor(settings.ssh, None, node_logins(settings, secrets)) as ex:
            [lab] = await service(settings, ex).read("lab")
    assert lab.verdict is Verdict.BAU, lab.reason
    assert (lab.primary.offered is not None) is console


class BarrierRunner:
    """A fake runner whose calls all wait until `parties` calls are in flight at once."""

    def __init__(self, parties: int, text: Callable[[NodeAddress], str]) -> None:
        self._barrier = asyncio.Barrier(parties)
        self._text = text

    async def run(self, address: NodeAddress, command: RemoteCommand, **_: object) -> CommandResult:
        await self._barrier.wait()
        return CommandResult(str(address), command.line, 0, self._text(address), timedelta())


async def test_all_nodes_of_all_pairs_are_asked_in_parallel(sim_settings: Settings) -> None:
    """Status of 2 pairs × 2 nodes needs all 4 questions in flight at once (else deadlock)."""
    text = "Primary: Active 10.0.0.1\nSecondary: Standby 10.0.0.2\nHA status: OK\n"
    runner = BarrierRunner(4, lambda _: text)
    async with asyncio.timeout(5):
        statuses = await StatusService(sim_settings, runner, lambda: T0).read("all")
    assert [s.verdict for s in statuses] == [Verdict.BAU, Verdict.BAU]


async def test_nonzero_exit_is_shown_as_the_nodes_error(sim_settings: Settings) -> None:
    """ha-status exiting non-zero is reported on the node, not hidden."""

    class Failing:
        async def run(
            self, address: NodeAddress, command: RemoteCommand, **_: object
        ) -> CommandResult:
            return CommandResult(
                str(address), command.line, 3, "ha-status: database locked\n", timedelta()
            )

    [prod] = await StatusService(sim_settings, Failing(), lambda: T0).read("prod")
    assert prod.primary.error == "ha-status exited with status 3"
    assert prod.primary.state is NodeState.UNKNOWN
    assert prod.verdict is Verdict.UNKNOWN


def test_status_command_is_from_the_catalogue() -> None:
    """Status only ever sends the catalogue's ha-status."""
    assert ha_command(HaCommand.STATUS).argv == ("ha-status",)
