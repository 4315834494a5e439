"""The SSH executor against a real OpenSSH sshd on 127.0.0.1 (Debian's openssh-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from habot.config import Settings, parse_settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import NodeState, Role, Verdict
from habot.errors import (
    AuthenticationFailed,
    CommandTimedOut,
    ConnectionLostError,
    HostKeyChanged,
    NodeUnreachable,
    UnexpectedPrompt,
)
from habot.runtime import utc_now
from habot.services.status import StatusService
from habot.ssh.executor import SshExecutor
from tests.kit.factories import FAST_SSH
from tests.kit.sshd import Sshd

STATUS = ha_command(HaCommand.STATUS)
FAILOVER = ha_command(HaCommand.FAILOVER)


def sshd_settings(sshd: Sshd, **overrides: object) -> Settings:
    """Settings with one pair: the sshd as Primary, a closed port as Secondary."""
    return parse_settings(
        {
            "ssh": {
                "username": sshd.username,
                "client_keys": [str(sshd.client_key)],
                "known_hosts": str(sshd.known_hosts),
                **FAST_SSH,
                **overrides,
            },
            "pairs": [{"name": "lab", "primary": str(sshd.address), "secondary": "127.0.0.1:1"}],
        }
    )


@pytest.fixture
async def executor(sshd: Sshd) -> AsyncIterator[SshExecutor]:
    """An executor for the real sshd."""
    async with SshExecutor(sshd_settings(sshd).ssh) as ex:
        yield ex


async def test_status_over_real_openssh(sshd: Sshd, executor: SshExecutor) -> None:
    """ha-status output comes back intact through OpenSSH."""
    result = await executor.run(sshd.address, STATUS)
    assert result.ok
    assert "High Availability status: OK" in result.output


async def test_status_service_reports_sshd_node_and_unreachable_peer(sshd: Sshd) -> None:
    """habot cannot reach the Secondary while the Primary (real OpenSSH) still reports it
    Standby: secondary_unreachable — habot's path, not the node — and the Primary is read."""
    settings = sshd_settings(sshd)
    async with SshExecutor(settings.ssh) as ex:
        [status] = await StatusService(settings, ex, utc_now).read("lab")
    assert status.verdict is Verdict.SECONDARY_UNREACHABLE
    assert status.secondary.peer_says is NodeState.STANDBY
    assert status.primary.state is NodeState.ACTIVE
    assert status.node(Role.SECONDARY).state is NodeState.UNREACHABLE
    assert "connection refused" in (status.secondary.error or "")


async def test_prompt_answered_over_real_openssh(sshd: Sshd, executor: SshExecutor) -> None:
    """The y/N confirmation is answered with exactly "y" when asked to."""
    result = await executor.run(sshd.address, FAILOVER, answer_prompt=True)
    assert result.prompt_answered
    assert result.exit_status == 0
    assert sshd.read("failover.answers") == "y\n"
    assert sshd.read("failover.runs") == "ran\n"


async def test_unrequested_prompt_gets_no_answer(sshd: Sshd, executor: SshExecutor) -> None:
    """Without consent the command is aborted and never receives a "y"."""
    with pytest.raises(UnexpectedPrompt):
        await executor.run(sshd.address, FAILOVER)
    await asyncio.sleep(0.3)
    assert "y" not in sshd.read("failover.answers")


async def test_unrecognised_question_aborts(sshd: Sshd, executor: SshExecutor) -> None:
    """A question other than y/N (here a password) aborts the approved command."""
    sshd.mode("password")
    with pytest.raises(UnexpectedPrompt, match="Password:"):
        await executor.run(sshd.address, FAILOVER, answer_prompt=True)


async def test_second_confirmation_aborts(sshd: Sshd, executor: SshExecutor) -> None:
    """Only one confirmation is answered; a second question aborts."""
    sshd.mode("twice")
    with pytest.raises(UnexpectedPrompt, match="second question"):
        await executor.run(sshd.address, FAILOVER, answer_prompt=True)


async def test_changed_host_key_over_real_openssh(sshd: Sshd) -> None:
    """OpenSSH presenting a key other than the known one is refused as a possible MITM."""
    entry = sshd.known_hosts.read_text().split()
    other = (sshd.dir / "client_key.pub").read_text().split()  # any other ed25519 key
    sshd.known_hosts.write_text(f"{entry[0]} {other[0]} {other[1]}\n")
    async with SshExecutor(sshd_settings(sshd).ssh) as ex:
        with pytest.raises(HostKeyChanged, match="man-in-the-middle"):
            await ex.run(sshd.address, STATUS)


async def test_authentication_failure_over_real_openssh(sshd: Sshd) -> None:
    """sshd refusing our key is AuthenticationFailed."""
    (sshd.dir / "authorized_keys").write_text("")
    async with SshExecutor(sshd_settings(sshd).ssh) as ex:
        with pytest.raises(AuthenticationFailed):
            await ex.run(sshd.address, STATUS)


async def test_connection_refused_when_sshd_stops(sshd: Sshd) -> None:
    """With sshd stopped the node is unreachable."""
    sshd.process.terminate()
    sshd.process.wait(timeout=10)
    async with SshExecutor(sshd_settings(sshd).ssh) as ex:
        with pytest.raises(NodeUnreachable, match="connection refused"):
            await ex.run(sshd.address, STATUS)


async def test_command_timeout_over_real_openssh(sshd: Sshd, executor: SshExecutor) -> None:
    """A command running past its limit raises CommandTimedOut."""
    sshd.mode("slow")
    with pytest.raises(CommandTimedOut):
        await executor.run(sshd.address, STATUS, time_limit=timedelta(seconds=0.5))


async def test_session_killed_mid_command(sshd: Sshd, executor: SshExecutor) -> None:
    """The node's SSH session dying mid-command is ConnectionLostError."""
    sshd.mode("die")
    with pytest.raises(ConnectionLostError):
        await executor.run(sshd.address, STATUS)


async def test_output_is_capped(sshd: Sshd) -> None:
    """Output over the cap is truncated: head kept, marker added, memory bounded."""
    async with SshExecutor(sshd_settings(sshd, max_output_chars=10_000).ssh) as ex:
        sshd.mode("flood")
        result = await ex.run(sshd.address, STATUS)
    assert result.truncated
    assert result.output.startswith("x" * 10_000)
    assert "output over 10000 characters truncated" in result.output
    assert len(result.output) < 20_000
