"""`habot status` and `habot check`."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from habot.cli.local import local_caller
from habot.cli.render import check_lines, make_console, slack_lines, status_details, status_table
from habot.config import Settings, load_settings
from habot.core.audit import status_event
from habot.core.freeze import Freeze
from habot.core.model import Verdict
from habot.core.replies import plural
from habot.core.serialize import status_to_dict
from habot.core.verdict import PairStatus
from habot.errors import ConfigError
from habot.pager.check import check_paging
from habot.runtime import Habot, open_engine
from habot.secrets import APP_TOKEN, BOT_TOKEN, Secrets
from habot.services.check import NodeCheck, check_nodes
from habot.siem.link import check_siem
from habot.slack.app import api_url
from habot.slack.check import SlackCheck, check_slack
from habot.store import sql_stores


def _habot(settings: Settings) -> AbstractAsyncContextManager[Habot]:
    """habot for a one-off read: SSH, nothing kept (no database file is made)."""
    return Habot.open(settings, Secrets(os.environ), database=False)


@dataclass(frozen=True)
class Read:
    """What `habot status` shows: the readings, and what holds each pair back (a change
    freeze, muted alerts) — from the database, when it could be opened."""

    statuses: list[PairStatus]
    frozen: dict[str, Freeze]
    muted: dict[str, datetime]


async def _read(config_path: Path | None, which: str | None) -> Read:
    """Read the pairs, and audit the reading as Slack's `/ha status` is audited (as the
    local user). A database that cannot be opened never costs the answer: the status is
    shown, with a warning that it was not audited."""
    settings = load_settings(config_path)
    try:
        engine = open_engine(settings)
    except ConfigError as exc:
        click.echo(f"habot: warning: this reading is not audited: {exc}", err=True)
        engine = None
    try:
        stores = sql_stores(engine) if engine is not None else None
        secrets = Secrets(os.environ)
        async with Habot.open(settings, secrets, stores=stores, database=False) as habot:
            started = habot.clock()
            statuses = await habot.status.read(which)
            took = int((habot.clock() - started).total_seconds() * 1000)
            who = local_caller()
            if engine is None:
                return Read(statuses, {}, {})
            for s in statuses:
                await habot.stores.audit.append(
                    status_event(s, who.user, None, took, habot.clock())
                )
            muted = {}
            for s in statuses:
                until = (await habot.stores.alerts.load(s.pair))[0].muted_until
                if until is not None and until > habot.clock():
                    muted[s.pair] = until
            frozen = await habot.freezes.holding_each([s.pair for s in statuses])
            return Read(statuses, frozen, muted)
    finally:
        if engine is not None:
            engine.dispose()


@click.command()
@click.argument("pair", required=False, metavar="[PAIR|all]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per pair.")
@click.option("--raw", is_flag=True, help="Also print each node's raw ha-status output.")
@click.pass_context
def status(ctx: click.Context, pair: str | None, as_json: bool, raw: bool) -> None:
    """Read both nodes of each pair and show the verdict.

    Exit status: 0 when every pair is bau, 1 when any is not, 2 on a usage or config error.
    """
    read = asyncio.run(_read(ctx.obj, pair))
    statuses = read.statuses
    if as_json:
        click.echo(json.dumps([_held(status_to_dict(s), read) for s in statuses], indent=2))
    else:
        console = make_console()
        console.print(status_table(statuses))
        status_details(console, statuses, raw)
        for name, freeze in read.frozen.items():
            console.print(f"{name}: frozen until {freeze.ends_at:%Y-%m-%d %H:%M} UTC by "
                          f"{freeze.by}: {freeze.reason} (planned operations wait)")  # fmt: skip
        for name, until in read.muted.items():
            console.print(f"{name}: alerts muted until {until:%Y-%m-%d %H:%M} UTC "
                          f"(habot unmute {name} turns them on again)")  # fmt: skip
    ctx.exit(0 if all(s.verdict is Verdict.BAU for s in statuses) else 1)


def _held(data: dict[str, object], read: Read) -> dict[str, object]:
    """A pair's JSON with its freeze and its mute (null when none holds it)."""
    pair = str(data["pair"])
    freeze, muted = read.frozen.get(pair), read.muted.get(pair)
    held = (
        {"until": freeze.ends_at.isoformat(), "reason": freeze.reason, "by": freeze.by}
        if freeze else None
    )  # fmt: skip
    return {**data, "freeze": held, "muted_until": muted.isoformat() if muted else None}


@dataclass(frozen=True)
class Checked:
    """Everything `habot check` found."""

    pairs: int
    nodes: list[NodeCheck]
    slack: list[SlackCheck]
    weakened: tuple[str, ...] = ()  # said, not failed: four eyes weaker than it should be
    paging: tuple[SlackCheck, ...] = ()  # each paging tool's key (and test page)
    siem: tuple[SlackCheck, ...] = ()  # the [siem] target, reached (or why not)

    @property
    def ok(self) -> bool:
        """Every node passed and no Slack check failed (one skipped is not a failure)."""
        checks = [*self.slack, *self.paging, *self.siem]
        return all(n.ok for n in self.nodes) and all(c.ok is not False for c in checks)


async def _check(config_path: Path | None, console: Console | None, page_test: bool) -> Checked:
    settings = load_settings(config_path)
    if console:
        console.print(f"✓ config: {plural(len(settings.pairs), 'pair')}", style="green")
        for weakening in settings.weakened():
            console.print(Text(f"! four eyes weakened: {weakening}", style="yellow"))
    secrets = Secrets(os.environ)
    async with _habot(settings) as habot:
        if console:
            console.print("✓ client keys and known_hosts readable", style="green")
        nodes = await check_nodes(habot.settings, habot.executor)
    channels = [*settings.slack.channels, *filter(None, [settings.slack.alert_channel])]
    slack = await check_slack(
        api_url(os.environ), secrets.get(BOT_TOKEN), secrets.get(APP_TOKEN), channels,
        oncall=bool(settings.paging.oncall_schedules),
    )  # fmt: skip
    paging = await check_paging(settings, secrets, page_test)
    siem = await check_siem(settings.siem)
    return Checked(len(settings.pairs), nodes, slack, settings.weakened(), tuple(paging),
                   tuple(siem))  # fmt: skip


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option(
    "--page-test",
    is_flag=True,
    help="Send each paging tool turned on one test page, resolved at once.",
)
@click.pass_context
def check(ctx: click.Context, as_json: bool, page_test: bool) -> None:
    """Validate the config, try every node (reachable, host key, login, ha-status parsed),
    Slack (bot token, scopes, app token, the configured channels), paging (each tool's
    key; with --page-test, a test page triggered and resolved) and the SIEM ([siem]).

    Exit status: 0 when everything passes, 1 when anything fails, 2 on a config error.
    """
    console = None if as_json else make_console(160)
    checked = asyncio.run(_check(ctx.obj, console, page_test))
    if console is None:
        click.echo(json.dumps(check_json(checked), indent=2))
    else:
        check_lines(console, checked.nodes)
        slack_lines(console, checked.slack)
        slack_lines(console, list(checked.paging), "paging")
        slack_lines(console, list(checked.siem), "siem")
    ctx.exit(0 if checked.ok else 1)


def check_json(checked: Checked) -> dict[str, Any]:
    """What `habot check --json` prints."""
    nodes = [
        {
            "pair": n.pair,
            "role": n.role.value,
            "address": n.address,
            "ok": n.ok,
            "failed_step": n.failed_step,
            "detail": n.detail,
            "console": n.console,
            "offered": sorted(n.offered) if n.offered is not None else None,
            "not_understood": list(n.not_understood),
        }
        for n in checked.nodes
    ]
    slack = [{"step": c.step, "ok": c.ok, "detail": c.detail} for c in checked.slack]
    config = {"pairs": checked.pairs, "weakened": list(checked.weakened)}
    paging = [{"step": c.step, "ok": c.ok, "detail": c.detail} for c in checked.paging]
    siem = [{"step": c.step, "ok": c.ok, "detail": c.detail} for c in checked.siem]
    return {"ok": checked.ok, "config": config, "nodes": nodes, "slack": slack, "paging": paging,
            "siem": siem}  # fmt: skip
