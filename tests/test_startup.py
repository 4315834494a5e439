"""`habot run` fails fast and stops promptly: a token Slack refuses ends the start at once
with one line (exit 2); Slack not answering is tried again with back-off for
``[slack] start_timeout``, then exit 1 for a supervisor to restart it; SIGTERM is honoured
while it waits. The bot runs as a process against the fake Slack."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from habot.sim.simulator import Simulator
from tests.kit.botproc import APP_TOKEN, BOT_TOKEN, ROLES, SECRET, bot_config, free_port, start_bot
from tests.kit.fakeslack import FakeSlack


@dataclass
class Run:
    """A `habot run` that may never become ready."""

    process: asyncio.subprocess.Process
    log: Path
    started: float

    async def ends(self, within: float = 10.0) -> tuple[int, float, str]:
        """Its exit status, how long it ran, what it printed — failing if it outlives
        ``within`` seconds."""
        try:
            code = await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            pytest.fail(f"habot run was still running after {within} s:\n{self.log.read_text()}")
        return code, time.monotonic() - self.started, self.log.read_text()

    async def says(self, text: str, within: float = 10.0) -> None:
        """Wait until the log holds ``text``."""
        async with asyncio.timeout(within):
            while text not in self.log.read_text():  # noqa: ASYNC110 (another process writes it)
                await asyncio.sleep(0.05)


async def launch(
    sim: Simulator, tmp: Path, api_url: str, start_timeout: str = "1m", http: bool = False
) -> Run:
    """`habot run` (Socket Mode unless ``http``) against the Web API at ``api_url``."""
    extra = f'\n[slack]\nstart_timeout = "{start_timeout}"\n'
    config = bot_config(sim, extra)
    env = {
        **os.environ,
        "HABOT_CONFIG": str(config),
        "HABOT_DATABASE_URL": f"sqlite:///{tmp / 'habot.db'}",
        "HABOT_SLACK_API_URL": api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
    }
    args = ["run", "--http", "--host", "127.0.0.1", "--port", str(free_port())] if http else ["run"]
    log = tmp / "run.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "habot", *args,
            stdout=sink, stderr=sink, stdin=asyncio.subprocess.DEVNULL, env=env,
        )  # fmt: skip
    return Run(process, log, time.monotonic())


def nowhere() -> str:
    """A Web API address where nothing answers (a closed port)."""
    return f"http://127.0.0.1:{free_port()}/api/"


async def test_a_revoked_bot_token_ends_the_start_with_one_line(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """A revoked bot token ends the start at once with one line saying what to do (exit 2)."""
    fake.fail_next["auth.test"] = ["token_revoked"]
    code, took, said = await (await launch(sim, tmp_path, fake.api_url)).ends()
    assert code == 2
    assert took < 10
    assert said.strip().splitlines() == [
        "habot: error: Slack refused SLACK_BOT_TOKEN (token_revoked): replace the token "
        "(keyring entry habot/bot_token, or the environment variable SLACK_BOT_TOKEN) and "
        "start habot again"
    ]
    assert len(fake.calls_to("auth.test")) == 1  # refused is refused: not tried again


async def test_a_refused_app_token_is_named(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """A refused app token is named, without a traceback (exit 2)."""
    fake.fail_next["apps.connections.open"] = ["invalid_auth"]
    code, _, said = await (await launch(sim, tmp_path, fake.api_url)).ends()
    assert code == 2
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in said
    assert "Traceback" not in said


async def test_http_mode_checks_only_the_bot_token(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """HTTP mode has no app-level token to check; it starts."""
    bot = await start_bot(sim, fake, tmp_path, http=True, polls=False)
    try:
        assert fake.calls_to("apps.connections.open") == []
        assert fake.calls[0].method == "auth.test"
    finally:
        await bot.stop()


async def test_slack_answering_after_a_few_errors_still_starts(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """A 500 and a rate limit at start are waited out (with back-off); then habot serves."""
    fake.fail_next["auth.test"] = [500, 429]
    run = await launch(sim, tmp_path, fake.api_url)
    try:
        await run.says("habot: connected to Slack in Socket Mode", within=20)
        log = run.log.read_text()
        assert log.count("Slack is not answering yet") == 2
        assert len(fake.calls_to("auth.test")) >= 3
    finally:
        run.process.send_signal(signal.SIGTERM)
        code, _, _ = await run.ends()
    assert code == 0


async def test_slack_unreachable_for_the_whole_start_timeout_exits_1(
    sim: Simulator, tmp_path: Path
) -> None:
    """Slack unreachable for the whole start_timeout: exit 1, saying so and naming the setting."""
    code, took, said = await (await launch(sim, tmp_path, nowhere(), start_timeout="3s")).ends()
    assert code == 1
    assert took < 10
    last = said.strip().splitlines()[-1]
    assert last.startswith("habot: error: Slack did not answer SLACK_BOT_TOKEN's check after")
    assert "start_timeout" in last
    assert "Traceback" not in said
    assert len(said.splitlines()) < 10  # a few warnings and one error, not a flood


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_during_a_slack_outage_stops_it_promptly(
    sim: Simulator, tmp_path: Path, sig: signal.Signals
) -> None:
    """A signal while Slack is unreachable at start stops habot promptly."""
    run = await launch(sim, tmp_path, nowhere(), start_timeout="10m")
    await run.says("Slack is not answering yet")
    run.process.send_signal(sig)
    signalled = time.monotonic()
    code, _, said = await run.ends()
    assert time.monotonic() - signalled < 10
    assert code == 0
    assert "habot: stopped before it started" in said
    assert "Traceback" not in said


async def test_a_start_says_settings_that_weaken_four_eyes(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Anyone may approve: allowed, but the start says so in its log, loudly."""
    weak = ROLES.replace('approvers = ["U0LEAD1"]', 'approvers = ["*"]')
    bot = await start_bot(sim, fake, tmp_path, http=True, polls=False, extra=weak)
    log = await bot.stop()
    assert 'WARNING habot.cli.run: four eyes weakened: roles.approvers = ["*"]' in log
