"""`habot demo`: simulated pairs, the real bot (`habot run --http`, as in production) and
the Slack-like page, all on 127.0.0.1, in a temporary folder removed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from habot.demo.pager import DemoPager
from habot.demo.stage import Persona, SlackStage
from habot.sim.simulator import Simulator
from habot.slack.app import SERVING_PORT
from habot.slack.manifest import USAGE_HINT

log = logging.getLogger(__name__)
CHANNEL, CHANNEL_NAME = "C0DEMOOPS", "ha-ops"
OPERATOR = Persona("U0DEMOOPS", "Olivia", "operator")
APPROVER = Persona("U0DEMOLEAD", "Amir", "approver")
VIEWER = Persona("U0DEMOVIEW", "Vic", "viewer")
PAIRS = ("prod", "dr")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
RESTART_AFTER = 2.0  # seconds before a bot that stopped is started again

#: The demo's settings, after the simulator's own (pairs, keys, database).
DEMO_CONFIG = f"""
# Added by `habot demo`: a channel, three people, quick checks.
[slack]
command = "/ha"
channels = ["{CHANNEL}"]
alert_channel = "{CHANNEL}"
alert_mention = "{OPERATOR.user}"

[roles]
viewers = ["*"]
operators = ["{OPERATOR.user}"]
approvers = ["{APPROVER.user}"]

[schedule]
status_every = "15s"
alert_after = 2
digest_cron = ""
nudge_every = "10m"

[approval]
ttl = "15m"
cooldown = "1m"
# Rehearse 03:00: a failover nobody approves offers Break glass to its requester.
escalation = [["{APPROVER.user}"]]
break_glass_after = "2m"
# Change control: ending redundancy needs a reason (a form asks for it); approving it, the
# pair's name typed (the built-in step-up).
[approval.operations.make-standalone]
reason = "required"
"""

#: Paging into the demo's own PagerDuty (the pager pane), once its address is known.
DEMO_PAGING = """
[paging]
pagerduty = true
pagerduty_events_url = "{url}"
page_approvers = true
"""

#: The page's "break it" buttons: (pair:what, label).
FAULTS = [
    (f"{pair}:{what}", label.format(pair=pair))
    for pair in PAIRS
    for what, label in (
        ("power-cut", "Power-cut {pair}'s Primary"),
        ("power-on", "Power {pair}'s Primary back on"),
        ("cut-path", "Cut habot's path to {pair}'s Primary"),
        ("mend-path", "Mend habot's path to {pair}'s Primary"),
        ("degrade", "Make {pair} Degraded"),
        ("split-brain", "Split brain on {pair}"),
        ("ask-twice", "Make {pair}'s next operation end unknown"),
        ("reset", "Reset {pair} to BAU"),
    )
]


@dataclass
class Demo:
    """What is running: the URL to open, and where the bot writes its log."""

    url: str
    bot_log: Path


async def breaker(sim: Simulator, pair: str, what: str) -> str:
    """Break (or mend) a simulated pair as the page's buttons say."""
    if what == "power-cut":
        await sim.apply(pair, "primary", "down")
    elif what == "power-on":
        await sim.apply(pair, "primary", "up")
    elif what in {"cut-path", "mend-path"}:
        await sim.apply(pair, "primary", "cut", "on" if what == "cut-path" else "off")
    elif what == "degrade":
        await sim.apply(pair, "pair", "degraded", "on")
    elif what == "split-brain":
        await sim.apply(pair, "pair", "split")
    elif what == "ask-twice":  # the change is made, then one more question habot never answers
        for node in ("primary", "secondary"):
            await sim.apply(pair, node, "ask_twice", "on")
    elif what == "reset":
        await sim.apply(pair, "primary", "cut", "off")
        await sim.apply(pair, "primary", "up")
        await sim.apply(pair, "pair", "reset")
    return f"{pair}: {what}"


@contextlib.asynccontextmanager
async def running_demo(port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[Demo]:
    """Everything up; on exit everything stopped and the temporary folder gone. What the
    demo writes (keys, config, database, logs) only its user may read (umask 077)."""
    mask = os.umask(0o077)
    try:
        async with _demo_in_folder(port, host) as demo:
            yield demo
    finally:
        os.umask(mask)


@contextlib.asynccontextmanager
async def _demo_in_folder(port: int, host: str) -> AsyncIterator[Demo]:
    with tempfile.TemporaryDirectory(prefix="habot-demo-") as tmp:
        folder = Path(tmp)
        async with Simulator(folder / "sim", PAIRS, console=("dr",)) as sim:
            await sim.apply("dr", "pair", "degraded", "on")
            secret, token = secrets.token_hex(16), "xoxb-demo-" + secrets.token_hex(12)
            pager = DemoPager()

            async def faults(pair: str, what: str) -> str:
                return await breaker(sim, pair, what)

            stage = SlackStage(
                channel=CHANNEL, channel_name=CHANNEL_NAME,
                personas=[OPERATOR, APPROVER, VIEWER], command="/ha", usage_hint=USAGE_HINT,
                signing_secret=secret, bot_token=token, faults=faults, fault_names=FAULTS,
                pager=pager,
            )  # fmt: skip
            await stage.start(port, host)
            config = sim.kit.config_path
            paging = DEMO_PAGING.format(url=stage.pager_url)
            config.write_text(config.read_text(encoding="utf-8") + DEMO_CONFIG + paging,
                              encoding="utf-8")  # fmt: skip
            env = {
                **os.environ,
                "HABOT_SLACK_API_URL": stage.api_url,
                "SLACK_BOT_TOKEN": token,
                "SLACK_SIGNING_SECRET": secret,
                "HABOT_SSH_PASSWORD": sim.kit.console_password(),
                "HABOT_PAGERDUTY_ROUTING_KEY": pager.routing_key,
            }
            bot_log = folder / "habot.log"

            keeper = asyncio.create_task(_keep_running(config, env, bot_log, stage.serving))
            try:
                yield Demo(stage.page_url if host == "127.0.0.1" else _url(host, stage), bot_log)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
                await stage.stop()


async def _keep_running(
    config: Path, env: dict[str, str], out: Path, serving: Callable[[int | None], None]
) -> None:
    """Run the bot; start it again if it stops (the page shows it starting again
    meanwhile). It takes a free port itself at each start (port 0) and says which:
    ``serving`` is told — and told None when it stops."""
    argv = [sys.executable, "-m", "habot", "--config", str(config), "run", "--http",
            "--host", "127.0.0.1", "--port", "0"]  # fmt: skip
    while True:
        with out.open("ab") as sink:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=sink,
                stdin=asyncio.subprocess.DEVNULL, env=env,
            )  # fmt: skip
            try:
                assert process.stdout is not None
                await _relay(process.stdout, sink, serving)
                code = await process.wait()
            except asyncio.CancelledError:
                await _stop(process)
                raise
            finally:
                serving(None)
        log.warning("habot stopped (exit %s); starting it again", code)
        await asyncio.sleep(RESTART_AFTER)


async def _relay(
    stream: asyncio.StreamReader, sink: BinaryIO, serving: Callable[[int | None], None]
) -> None:
    """Copy the bot's output to its log, telling ``serving`` the port it says it serves on."""
    async for line in stream:
        sink.write(line)
        sink.flush()
        found = SERVING_PORT.search(line.decode(errors="replace"))
        if found:
            serving(int(found.group(1)))


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 20)
    except TimeoutError:
        process.kill()
        await process.wait()


def _url(host: str, stage: SlackStage) -> str:
    return f"http://{host}:{stage.port}/"


async def serve(port: int, host: str, say: Callable[[str], None]) -> None:
    """Run the demo until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_demo(port, host) as demo:
        if host not in LOOPBACK:
            say(f"habot demo: WARNING: the page listens on {host}: anyone who can reach it can act")
            say("as any of its people, approver included. It is a demo: keep it on 127.0.0.1.")
        say("habot demo: simulated pairs prod (BAU) and dr (Degraded), the real bot, and a")
        say("Slack-like page. Open it in a browser:")
        say(demo.url)
        say(f"(the bot's log: {demo.bot_log}; Ctrl-C stops everything and removes it all)")
        await stop.wait()
        say("habot demo: stopping")
    say("habot demo: stopped; nothing left behind")
