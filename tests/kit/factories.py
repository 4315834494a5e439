"""Factories for the tests: settings from the simulator's files with short SSH limits, a clock
a test moves by hand, and finding the system binaries a test needs (skipped with a reason,
or failed when CI requires them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from habot.config import Settings, parse_settings
from habot.sim.simulator import Simulator
from tests.kit.sshd import Sshd, wait_listening

REQUIRE_SYSTEM_ENV = "HABOT_REQUIRE_SYSTEM_TESTS"


# Short limits so failure paths finish quickly; behaviour is the same as with the defaults.
FAST_SSH = {
    "connect_timeout": "3s",
    "status_timeout": "3s",
    "command_timeout": "10s",
    "prompt_idle": "500ms",
    # Tests change the simulator and look at once: a finished reading is not reused (one in
    # flight still is). The tests of fresh_for itself set it back to the default.
    "fresh_for": "1ms",
}


def system_binary(name: str, package: str) -> str:
    """The path of a system binary; skip (or fail under CI) with the reason when missing."""
    found = shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/usr/bin") if (p := Path(d) / name).exists()), None
    )
    if found is None:
        skip_or_fail(f"{name} is not installed (apt-get install {package})")
    assert found is not None
    return found


def skip_or_fail(reason: str) -> None:
    """Skip with the reason — or fail, when CI requires the system tests."""
    if os.environ.get(REQUIRE_SYSTEM_ENV) == "1":
        pytest.fail(f"HABOT_REQUIRE_SYSTEM_TESTS=1 but {reason}")
    pytest.skip(reason)


def settings_from(config_path: Path, **ssh_overrides: Any) -> Settings:
    """Load a config file with faster SSH limits (and any overrides) for tests."""
    data = tomllib.loads(config_path.read_text())
    data["ssh"] = {**data["ssh"], **FAST_SSH, **ssh_overrides}
    return parse_settings(data, source=str(config_path))


def fast_config_file(
    sim: Simulator, name: str = "fast.toml", extra: str = "", ssh: dict[str, str] | None = None
) -> Path:
    """The simulator's habot.toml with short SSH limits (``ssh`` overrides some of them;
    plus ``extra`` TOML), beside it."""
    limits = {**FAST_SSH, **(ssh or {})}
    lines = [
        line
        for line in sim.kit.config_path.read_text().splitlines()
        if line.split(" = ")[0] not in limits
    ]
    at = lines.index("[ssh]") + 1
    lines[at:at] = [f'{key} = "{value}"' for key, value in limits.items()]
    path = sim.kit.dir / name
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


class Clock:
    """A clock the test moves (a fake at the Clock port)."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def ticks(self) -> float:
        """The same moment as monotonic seconds (for what times itself locally)."""
        return self.now.timestamp()


@asynccontextmanager
async def serving(argv: list[str], handle: Sshd) -> AsyncIterator[Sshd]:
    """Run a prepared sshd until the block ends."""
    # Popen returns at once; sshd runs beside the event loop until the block ends.
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
