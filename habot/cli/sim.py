"""`habot sim`: run the appliance simulator, switch its faults, or run a one-shot demo."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from habot.cli.render import make_console, status_details, status_table
from habot.config import load_settings
from habot.core.probe import Transcript, transcript_from_dict
from habot.runtime import Habot
from habot.secrets import Secrets
from habot.sim.appliance import Layout
from habot.sim.simulator import NODE_FAULTS, PAIR_FAULTS, Simulator, control

_DIR = click.option(
    "--dir",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("sim"),
    show_default=True,
    help="The simulator's state directory (keys, known_hosts, habot.toml).",
)


@click.group()
def sim() -> None:
    """Simulate Osirium PAM HA pairs over SSH for tests, demos and rehearsals."""


@sim.command("run")
@_DIR
@click.option("--pairs", default="prod", show_default=True, help="Comma-separated pair names.")
@click.option("--layout", type=click.Choice([v.value for v in Layout]), default="columns")
@click.option("--standalone", is_flag=True, help="Start with standalone servers (no pair yet).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--base-port", type=int, default=2201, show_default=True, help="0 = any free port.")
@click.option(
    "--console",
    "console",
    is_flag=False,
    flag_value="all",
    default=None,
    metavar="[PAIRS]",
    help="Nodes offer only the interactive HA console, with a password login (no exec): "
    "every pair, or the comma-separated PAIRS.",
)
@click.option(
    "--replay",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Serve a probe's words (habot probe PAIR --save probe.json) from the first pair: "
    "its ha-status and logs, as the real nodes said them.",
)
def run(
    state_dir: Path,
    pairs: str,
    layout: str,
    standalone: bool,
    host: str,
    base_port: int,
    console: str | None,
    replay: Path | None,
) -> None:
    """Run simulated pairs until interrupted (Ctrl-C)."""
    names = _names(pairs)
    transcript = _replayed(replay) if replay else None
    consoles = names if console == "all" else _names(console or "")
    try:
        simulator = Simulator(
            state_dir,
            names,
            layout=Layout(layout),
            standalone=standalone,
            host=host,
            base_port=base_port,
            console=consoles,
            replay=transcript,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        asyncio.run(_serve(simulator))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        click.echo(
            f"habot sim run: a port from {host}:{base_port} on is already in use (another "
            "simulator?); stop it, or choose others with --base-port (0: any free ports).",
            err=True,
        )
        sys.exit(2)


def _replayed(path: Path) -> Transcript:
    """A saved probe, checked: a pair's two nodes, each with its ha-status."""
    try:
        transcript = transcript_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.UsageError(f"--replay {path}: {exc}") from None
    if len(transcript.nodes) != 2 or any(n.status is None for n in transcript.nodes):
        raise click.UsageError(
            f"--replay {path}: a replay needs both nodes' ha-status: save it from a pair "
            "(habot probe PAIR --save probe.json) whose nodes were both read"
        )
    return transcript


def _names(listed: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in listed.split(",") if n.strip())


async def _serve(simulator: Simulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        for (pair, role), server in simulator.servers.items():
            click.echo(f"simulating {pair} {role.value} on {server.host}:{server.port}")
        config = simulator.kit.config_path
        click.echo(f"config written to {config}")
        if simulator.console:
            click.echo(
                f"console pairs ({', '.join(sorted(simulator.console))}) take the password in "
                f"{simulator.kit.password_path}:\n"
                f'  export HABOT_SSH_PASSWORD="$(cat {simulator.kit.password_path})"'
            )
        click.echo(f"try: habot --config {config} status")
        await stop.wait()
    click.echo("simulator stopped")


@sim.command("fault")
@_DIR
@click.argument("pair")
@click.argument("target", type=click.Choice(["primary", "secondary", "pair"]))
@click.argument("fault", type=click.Choice([*NODE_FAULTS, *PAIR_FAULTS]))
@click.argument("value", required=False)
def fault(state_dir: Path, pair: str, target: str, fault: str, value: str | None) -> None:
    """Switch a fault on a running simulator.

    \b
    Node faults:  down | up | cut on|off | slow SECONDS | think SECONDS | hang on|off |
                  garbage on|off | crash on|off | ask_twice on|off | babble on|off |
                  withhold ha-CMD[,ha-CMD…]|off   (a console no longer offers them)
    Pair faults:  degraded on|off | smb PERCENT|off | split (split brain) | reset
    Example:      habot sim fault prod primary down
    """
    request = {"op": "fault", "pair": pair, "target": target, "fault": fault, "value": value}
    _control(state_dir, request)
    click.echo(f"{pair} {target}: {fault}{' ' + value if value else ''} — done "
               "(habot sim show prints the whole state)")  # fmt: skip


@sim.command("show")
@_DIR
def show(state_dir: Path) -> None:
    """Print the running simulator's state as JSON."""
    click.echo(json.dumps(_control(state_dir, {"op": "show"})["state"], indent=2))


def _control(state_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    try:
        reply = asyncio.run(control(state_dir, request))
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"no running simulator in {state_dir} ({exc}); start one with: habot sim run"
        ) from exc
    if not reply.get("ok"):
        raise click.ClickException(str(reply.get("error")))
    return reply


@sim.command("demo")
def demo() -> None:
    """Start a simulated pair, read its status as habot would, and stop again."""
    asyncio.run(_demo())


async def _demo() -> None:
    console = make_console()
    with tempfile.TemporaryDirectory(prefix="habot-demo-") as tmp:
        async with Simulator(Path(tmp), ("prod", "dr")) as simulator:
            await simulator.apply("dr", "pair", "smb", "87")
            settings = load_settings(simulator.kit.config_path)
            async with Habot.open(settings, Secrets(os.environ), database=False) as habot:
                statuses = await habot.status.read("all")
    console.print(status_table(statuses))
    status_details(console, statuses, raw=False)
    console.print(
        "\nThat was two simulated pairs over real SSH. To rehearse yourself:\n"
        "  habot sim run &                        # simulated pairs on 127.0.0.1:2201-2202\n"
        "  habot --config sim/habot.toml status\n"
        "  habot sim fault prod primary down      # then look at status again"
    )
