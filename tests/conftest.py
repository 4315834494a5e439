"""Shared fixtures: the appliance simulator, a real OpenSSH sshd, settings pointing at them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from habot.config import Settings, parse_settings
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.fakeslack import FakeSlack
from tests.sshd import Sshd, prepare, wait_listening

REQUIRE_SYSTEM_ENV = "HABOT_REQUIRE_SYSTEM_TESTS"

# Short limits so failure paths finish quickly; behaviour is the same as with the defaults.
FAST_SSH = {
    "connect_timeout": "3s",
    "status_timeout": "3s",
    "command_timeout": "10s",
    "prompt_idle": "500ms",
}


def system_binary(name: str, package: str) -> str:
    """The path of a system binary; skip (or fail under CI) with the reason when missing."""
    found = shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/usr/bin") if (p := Path(d) / name).exists()), None
    )
    if found is None:
        reason = f"{name} is not installed (apt-get install {package})"
        if os.environ.get(REQUIRE_SYSTEM_ENV) == "1":
            pytest.fail(f"HABOT_REQUIRE_SYSTEM_TESTS=1 but {reason}")
        pytest.skip(reason)
    return found


def settings_from(config_path: Path, **ssh_overrides: Any) -> Settings:
    """Load a config file with faster SSH limits (and any overrides) for tests."""
    data = tomllib.loads(config_path.read_text())
    data["ssh"] = {**data["ssh"], **FAST_SSH, **ssh_overrides}
    return parse_settings(data, source=str(config_path))


def fast_config_file(sim: Simulator, name: str = "fast.toml", extra: str = "") -> Path:
    """The simulator's habot.toml with short SSH limits (plus ``extra`` TOML), beside it."""
    lines = [
        line
        for line in sim.kit.config_path.read_text().splitlines()
        if line.split(" = ")[0] not in FAST_SSH
    ]
    at = lines.index("[ssh]") + 1
    lines[at:at] = [f'{key} = "{value}"' for key, value in FAST_SSH.items()]
    path = sim.kit.dir / name
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


class Clock:
    """A clock the test moves (a fake at the Clock port)."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fake Slack on 127.0.0.1 (no user groups)."""
    slack = FakeSlack()
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """Two simulated pairs, "prod" and "dr", listening on 127.0.0.1."""
    async with Simulator(tmp_path / "sim", ("prod", "dr")) as simulator:
        yield simulator


@pytest.fixture
def sim_settings(sim: Simulator) -> Settings:
    """Settings for the simulated pairs, as `habot sim` writes them."""
    return settings_from(sim.kit.config_path)


@pytest.fixture
async def executor(sim_settings: Settings) -> AsyncIterator[SshExecutor]:
    """An SSH executor configured for the simulator."""
    async with SshExecutor(sim_settings.ssh) as ex:
        yield ex


@pytest.fixture
async def sshd(tmp_path: Path) -> AsyncIterator[Sshd]:
    """A real OpenSSH sshd on 127.0.0.1 whose ha-* commands are small shell scripts."""
    binary = system_binary("sshd", "openssh-server")
    system_binary("ssh-keygen", "openssh-client")
    argv, handle = prepare(tmp_path / "sshd", binary)
    # Popen returns at once; sshd runs beside the event loop until the fixture ends.
    handle.process = subprocess.Popen(  # noqa: ASYNC220
        argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        await wait_listening(handle.address.port, handle.process)
        yield handle
    finally:
        handle.process.terminate()
        handle.process.wait(timeout=10)
        if handle.process.stderr:
            handle.process.stderr.close()
