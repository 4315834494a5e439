"""`habot status` and `habot check`."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import click
from rich.console import Console

from habot.cli.render import check_lines, make_console, status_details, status_table
from habot.config import Settings, load_settings
from habot.core.model import Verdict
from habot.core.serialize import status_to_dict
from habot.core.verdict import PairStatus
from habot.runtime import Habot
from habot.secrets import Secrets
from habot.services.check import NodeCheck, check_nodes


def _habot(settings: Settings) -> AbstractAsyncContextManager[Habot]:
    """habot for a one-off read: SSH, nothing kept (no database file is made)."""
    return Habot.open(settings, Secrets(os.environ), database=False)


async def _read(config_path: Path | None, which: str | None) -> list[PairStatus]:
    async with _habot(load_settings(config_path)) as habot:
        return await habot.status.read(which)


@click.command()
@click.argument("pair", required=False, metavar="[PAIR|all]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per pair.")
@click.option("--raw", is_flag=True, help="Also print each node's raw ha-status output.")
@click.pass_context
def status(ctx: click.Context, pair: str | None, as_json: bool, raw: bool) -> None:
    """Read both nodes of each pair and show the verdict.

    Exit status: 0 when every pair is bau, 1 when any is not, 2 on a usage or config error.
    """
    statuses = asyncio.run(_read(ctx.obj, pair))
    if as_json:
        click.echo(json.dumps([status_to_dict(s) for s in statuses], indent=2))
    else:
        console = make_console()
        console.print(status_table(statuses))
        status_details(console, statuses, raw)
    ctx.exit(0 if all(s.verdict is Verdict.BAU for s in statuses) else 1)


async def _check(config_path: Path | None, console: Console) -> list[NodeCheck]:
    settings = load_settings(config_path)
    console.print(f"✓ config: {len(settings.pairs)} pair(s)", style="green")
    async with _habot(settings) as habot:
        console.print("✓ client keys and known_hosts readable", style="green")
        return await check_nodes(habot.settings, habot.executor)


@click.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config and try every node: reachable, host key, login, ha-status parsed.

    Exit status: 0 when every node passes, 1 when any fails, 2 on a config error.
    """
    console = make_console(160)
    checks = asyncio.run(_check(ctx.obj, console))
    check_lines(console, checks)
    ctx.exit(0 if all(c.ok for c in checks) else 1)
