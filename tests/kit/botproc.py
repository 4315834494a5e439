"""Start `habot run` as a real process against the simulator and the fake Slack."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from habot.sim.simulator import Simulator
from habot.slack.app import SERVING_PORT
from tests.kit.factories import fast_config_file
from tests.kit.fakeslack import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-testtoken"
APP_TOKEN = "xapp-1-A0HABOT-3333-testtoken"
CHANNEL = "C0HAOPS"
ROLES = """
[slack]
command = "/ha"
channels = ["C0HAOPS"]

[roles]
viewers = ["*"]
operators = ["U0OPS1", "S0ONCALL"]
approvers = ["U0LEAD1"]
"""


@dataclass
class Bot:
    """A running `habot run`."""

    process: asyncio.subprocess.Process
    out: Path
    port: int | None
    config: Path
    database: str

    @property
    def events_url(self) -> str:
        """HTTP mode's /slack/events."""
        return f"http://127.0.0.1:{self.port}/slack/events"

    def url(self, path: str) -> str:
        """Another path on the bot's HTTP port."""
        return f"http://127.0.0.1:{self.port}{path}"

    def env(self) -> dict[str, str]:
        """Environment for other habot processes sharing this bot's config and database."""
        return {**os.environ, "HABOT_CONFIG": str(self.config), "HABOT_DATABASE_URL": self.database}

    async def stop(self) -> str:
        """SIGTERM, wait, and return everything it printed."""
        if self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 30)
        return self.out.read_text()


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_config(
    sim: Simulator, extra: str = ROLES, pair_extra: str = "", ssh: dict[str, str] | None = None
) -> Path:
    """The simulator's config with fast SSH limits (``ssh`` overrides some) plus Slack
    settings (and ``pair_extra`` lines in the first pair's table)."""
    path = fast_config_file(sim, "bot.toml", extra, ssh)
    if pair_extra:
        text = path.read_text()
        first = text.index("[[pairs]]")
        end = text.find("\n\n", first)
        end = len(text) if end == -1 else end
        path.write_text(text[:end] + "\n" + pair_extra + text[end:])
    return path


async def start_bot(
    sim: Simulator,
    fake: FakeSlack,
    tmp: Path,
    http: bool,
    extra: str = ROLES,
    name: str = "bot",
    polls: bool = True,
    database: str | None = None,
    pair_extra: str = "",
    verbose: int = 0,
    ssh: dict[str, str] | None = None,
    debug_loop: bool = False,
    log_format: str | None = None,
    env: dict[str, str] | None = None,
) -> Bot:
    """Run `habot run` (Socket Mode, or HTTP mode on a free port) and wait until it serves
    (and, when it ``polls`` — it leads the scheduler — until its first status round)."""
    config = bot_config(sim, extra, pair_extra, ssh)
    database = database or f"sqlite:///{tmp / 'habot.db'}"
    env = {
        **os.environ,
        **(env or {}),
        "HABOT_CONFIG": str(config),
        "HABOT_DATABASE_URL": database,
        "HABOT_SLACK_API_URL": fake.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
    }
    if debug_loop:  # asyncio reports every callback over 100 ms
        env["PYTHONASYNCIODEBUG"] = "1"
    if sim.console:  # its console pairs log in with the simulator's password
        env["HABOT_SSH_PASSWORD"] = sim.kit.console_password()
    # Port 0: the bot takes a free port itself and prints it (a port picked here and handed
    # over could be taken by anyone in between: seen under load as "address already in use").
    args = ["run", "--http", "--host", "127.0.0.1", "--port", "0"] if http else ["run"]
    args = ["-" + "v" * verbose, *args] if verbose else args
    args = ["--log-format", log_format, *args] if log_format else args
    polled_before = _status_runs(sim)
    reachable = sum(
        node.up and not node.hang and not node.cut
        for pair in sim.pairs.values()
        for node in pair.nodes.values()
    )
    out = tmp / (f"{name}-http.log" if http else f"{name}-socket.log")
    with out.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "habot",
            *args,
            stdout=sink,
            stderr=sink,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
        )
    bot = Bot(process, out, None, config, database)
    marker = "serving Slack over HTTP" if http else "connected to Slack in Socket Mode"
    async with asyncio.timeout(30):
        # Serving, and the scheduler's first status round has asked every reachable node,
        # so a test's own command count is not disturbed by that round.
        wanted = polled_before + (reachable if polls else 0)
        while not (marker in out.read_text() and _status_runs(sim) >= wanted):
            if process.returncode is not None:
                raise RuntimeError(f"habot run exited: {out.read_text()}")
            await asyncio.sleep(0.1)
        if http:
            bot.port = serving_port(out.read_text())
        # ... and that round has finished: its readings are stored (so what it changes —
        # Homes republished, alerts — does not land in the middle of a test).
        stored = len(sim.pairs) if polls and reachable else 0  # one reading per pair
        while _readings(database) < stored:  # noqa: ASYNC110 (another process writes them)
            await asyncio.sleep(0.1)
    if stored:
        await asyncio.sleep(0.3)  # the round's own Home refresh, kicked right after it
    return bot


def serving_port(log: str) -> int:
    """The port `habot run --http --port 0` says it serves on."""
    found = SERVING_PORT.search(log)
    assert found, f"habot run did not say its port: {log}"
    return int(found.group(1))


def _readings(database: str) -> int:
    """Readings stored so far (SQLite; other databases are not waited on)."""
    if not database.startswith("sqlite:///"):
        return 1_000_000
    with contextlib.closing(sqlite3.connect(database.removeprefix("sqlite:///"))) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def _status_runs(sim: Simulator) -> int:
    """How many ha-status commands the simulated nodes have answered so far."""
    return sum(
        1 for pair in sim.pairs.values() for _, command in pair.runs if command == "ha-status"
    )
