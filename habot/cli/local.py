"""When Slack is down: `habot pending`, `habot history`, `habot mute`, `habot unmute`,
`habot freeze` and `habot unfreeze` on the machine habot runs on — the same stores, rules
and audit events as in Slack, done as the local user (``cli:NAME``, who holds every role:
access to this machine and its configuration is the authority here)."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import click

from habot.cli.render import reply_text
from habot.config import load_settings
from habot.core.approvals import OPEN, open_requests
from habot.core.asks import parse_freeze, parse_mute, parse_unfreeze
from habot.core.audit import AuditRecord
from habot.core.roles import Access
from habot.core.roles_history import Tenure, role_reply
from habot.core.serialize import request_to_dict
from habot.core.timeline import requested, timeline_line
from habot.runtime import Habot
from habot.secrets import Secrets
from habot.services.evidence import operations_of, tenures
from habot.services.ports import Caller

_T = TypeVar("_T")


def local_caller() -> Caller:
    """The person at this machine, as the audit log names them."""
    return Caller(f"cli:{getpass.getuser()}", None, frozenset(Access))


def in_habot(ctx: click.Context, work: Callable[[Habot], Awaitable[_T]]) -> _T:
    """Run ``work`` against this configuration's stores (no SSH, no Slack)."""

    async def opened() -> _T:
        async with Habot.open(load_settings(ctx.obj), Secrets(os.environ), ssh=False) as habot:
            return await work(habot)

    return asyncio.run(opened())


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request, per line.")
@click.pass_context
def pending(ctx: click.Context, as_json: bool) -> None:
    """Requests that hold a pair (pending approval, scheduled, running, or of unknown
    outcome), and break-glass runs whose review is owed."""

    async def listed(habot: Habot) -> str:
        requests = habot.stores.requests
        held = await requests.in_states(*sorted(OPEN))
        owed = await requests.unreviewed()
        if as_json:
            every = {r.id: r for r in (*held, *owed)}.values()
            return "\n".join(json.dumps(request_to_dict(r), sort_keys=True) for r in every)
        return reply_text(open_requests(held, habot.settings.slack.command, owed))

    click.echo(in_habot(ctx, listed))


@click.command()
@click.argument("pair", required=False)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One audit event per line, as exported.")
@click.option("--roles", is_flag=True, help="Who served PAIR, from when to when, and why.")
@click.pass_context
def history(ctx: click.Context, pair: str | None, limit: int, as_json: bool, roles: bool) -> None:
    """Recent events as a timeline, newest first (of one pair, when named): one sentence
    each; --json gives the audit events themselves. With --roles (and a PAIR): who served
    it, from when to when, and what changed it — an operation (by whom, approved by whom)
    or a change habot only observed."""
    if pair is not None:
        load_settings(ctx.obj).pair(pair)  # an unknown pair is an error naming the known ones
    if roles:
        if pair is None:
            raise click.UsageError("--roles needs a PAIR")
        _roles(ctx, pair, as_json)
        return

    async def read(habot: Habot) -> tuple[list[AuditRecord], dict[str, str]]:
        records = await habot.stores.audit.recent(limit, pair)
        return records, await operations_of(habot.stores.requests, requested(records))

    records, named = in_habot(ctx, read)
    if not records:  # said on stderr under --json: its output stays JSON lines (none)
        click.echo("No audit events yet" + (f" for {pair}." if pair else "."), err=as_json)
    for record in records:
        if as_json:
            click.echo(json.dumps(record.as_dict(), sort_keys=True))
        else:
            click.echo(reply_text(timeline_line(record, named)))


def _roles(ctx: click.Context, pair: str, as_json: bool) -> None:
    async def read(habot: Habot) -> tuple[list[Tenure], datetime]:
        found = await tenures(habot.stores.readings, habot.stores.audit, pair)
        return found, habot.clock()

    served, now = in_habot(ctx, read)
    if as_json:
        for tenure in served:
            click.echo(json.dumps(tenure.as_dict(now), sort_keys=True))
        return
    click.echo(reply_text(role_reply(pair, served, now)))


@click.command()
@click.argument("pair")
@click.argument("duration")
@click.argument("reason", nargs=-1, required=True)
@click.pass_context
def mute(ctx: click.Context, pair: str, duration: str, reason: tuple[str, ...]) -> None:
    """Mute PAIR's alerts for DURATION (e.g. 2h, at most 7d), saying why (audited)."""
    names = [p.name for p in load_settings(ctx.obj).pairs]
    ask = parse_mute(" ".join(["mute", pair, duration, *reason]), names, "habot")
    click.echo(reply_text(in_habot(ctx, lambda habot: habot.mutes.mute(local_caller(), ask))))


@click.command()
@click.argument("pair", metavar="PAIR|all")
@click.argument("how_long", metavar="DURATION|until WHEN")
@click.argument("words", nargs=-1, required=True, metavar="[WHEN…] REASON…")
@click.pass_context
def freeze(ctx: click.Context, pair: str, how_long: str, words: tuple[str, ...]) -> None:
    """Freeze PAIR (or all) for DURATION (e.g. 3d, at most 31d) or until WHEN (e.g.
    `until sat 02:00`, in [schedule] timezone), saying why: planned operations are refused
    until then (audited)."""
    settings = load_settings(ctx.obj)
    names = [p.name for p in settings.pairs]
    zone = ZoneInfo(settings.schedule.timezone)
    text = " ".join(["freeze", pair, how_long, *words])
    ask = parse_freeze(text, names, datetime.now(UTC), zone, "habot")
    click.echo(reply_text(in_habot(ctx, lambda habot: habot.freezes.freeze(local_caller(), ask))))


@click.command()
@click.argument("pair", metavar="PAIR|all")
@click.pass_context
def unfreeze(ctx: click.Context, pair: str) -> None:
    """Lift the freeze on PAIR (or all) now (audited)."""
    names = [p.name for p in load_settings(ctx.obj).pairs]
    scope = parse_unfreeze(f"unfreeze {pair}", names, "habot")
    click.echo(reply_text(in_habot(ctx, lambda habot: habot.freezes.unfreeze(local_caller(),
                                                                            scope))))  # fmt: skip


@click.command()
@click.argument("pair")
@click.pass_context
def unmute(ctx: click.Context, pair: str) -> None:
    """Alerts for PAIR are on again (audited)."""
    name = load_settings(ctx.obj).pair(pair).name
    click.echo(reply_text(in_habot(ctx, lambda habot: habot.mutes.unmute(local_caller(), name))))
