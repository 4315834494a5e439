"""habot as a command run in a process of its own, and its answer."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from habot.sim.simulator import Simulator


@dataclass
class Ran:
    """A finished habot process."""

    code: int
    out: str
    err: str


async def habot(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """Run `python -m habot ARGS` without blocking the event loop (the simulator lives here)."""
    env = {**os.environ, "HABOT_CONFIG": "", **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "habot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        cwd=cwd,
        env=env,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def on_database(sim: Simulator, db: Path) -> str:
    """The simulator's habot.toml with its database at ``db``."""
    text = sim.kit.config_path.read_text()
    return text.replace(f"sqlite:///{sim.kit.database_path}", f"sqlite:///{db}")
