"""`habot request`: file an operation's request from the command line (a change system, a
script, a terminal) — checked by the same rules as `/ha OP PAIR "reason" TICKET`, its card
posted in Slack by the habot that serves it, approved there by someone else. The command
line runs no operation: one that needs no approval is refused here."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click
from slack_sdk.web.async_client import AsyncWebClient

from habot.cli.local import local_caller
from habot.cli.render import reply_text
from habot.config import Settings, load_settings
from habot.core.asks import OperationRequest, operation_ask
from habot.core.change import problems
from habot.core.grammar import UsageError
from habot.core.operations import Operation
from habot.core.replies import Reply, Tone
from habot.core.roles import RolePolicy
from habot.runtime import Habot
from habot.secrets import BOT_TOKEN, Secrets
from habot.services.operations import approval_policy
from habot.services.operations.stage import change_control
from habot.services.ports import Approvers, Caller
from habot.slack.app import api_url
from habot.slack.directory import GroupDirectory

#: Replies that mean the request was not filed: the command fails (exit status 2).
_NOT_FILED = {Tone.REFUSED, Tone.FAILED, Tone.UNCLEAR, Tone.WAIT}


@click.command()
@click.argument(
    "operation", metavar="OPERATION", type=click.Choice(sorted(o.value for o in Operation))
)
@click.argument("pair")
@click.argument(
    "node", metavar="[NODE]", required=False, type=click.Choice(["primary", "secondary"])
)
@click.option("--reason", help="Why it is asked: on the card, the approvers' DMs and the audit.")
@click.option("--ticket", help="The change ticket (checked against [approval] ticket_pattern).")
@click.option("--override", help="Why the cooldown (or, for a failover, a freeze) must be skipped.")
@click.option(
    "--at",
    "at",
    metavar="WHEN",
    help="Run it later, once approved: an ISO time, 'tomorrow 02:00' or 'sat 02:00', read in "
    "[schedule] timezone.",
)
@click.option(
    "--channel",
    help="Where the card is posted (default: [slack] alert_channel, else the first of "
    "[slack] channels).",
)
@click.pass_context
def request(
    ctx: click.Context,
    operation: str,
    pair: str,
    node: str | None,
    reason: str | None,
    ticket: str | None,
    override: str | None,
    at: str | None,
    channel: str | None,
) -> None:
    """Ask for OPERATION on PAIR (make-standalone: and which NODE stays) as the local
    user: habot reads both nodes, and files the request for approval in Slack.

    The card is delivered by the habot that serves Slack (`habot run`, sharing this
    configuration's database); approvers decide there. Exit status 0 when filed, 2 when
    refused (the message says why and what to do)."""
    settings = load_settings(ctx.obj)
    names = [p.name for p in settings.pairs]
    try:
        ask = operation_ask(
            operation, pair, names, node=node, reason=reason, ticket=ticket, override=override,
            at=at, now=datetime.now(UTC), zone=ZoneInfo(settings.schedule.timezone),
        )  # fmt: skip
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    _filable(settings, ask)
    where = _channel(settings, channel)
    me = local_caller()
    reply = asyncio.run(_file(settings, Secrets(os.environ), ask, Caller(me.user, where, me.roles)))
    click.echo(reply_text(reply.reply))
    if reply.reply.tone in _NOT_FILED:
        sys.exit(2)
    if reply.untold:
        click.echo(
            "habot: warning: approvers were not told by direct message: no Slack bot token "
            f"here ({BOT_TOKEN.env_var}); the card in Slack names them as usual.",
            err=True,
        )


def _filable(settings: Settings, ask: OperationRequest) -> None:
    """What the command line refuses before reading any node: an operation that needs no
    approval (it would run here), or a reason or ticket change control finds wrong."""
    operation = Operation(ask.sub.value)
    if approval_policy(settings).required_for(operation) == 0:
        raise click.UsageError(
            f"{operation.value} needs no approval here ([approval] required = 0), so it would "
            "run at once — and the command line runs no operation. Ask in Slack."
        )
    wrong = problems(change_control(settings).rule(operation), ask.reason, ask.ticket)
    if wrong:
        flags = " and ".join(f"--{field}" for field in wrong)
        raise click.UsageError(f"{' '.join(wrong.values())} (give {flags})")


def _channel(settings: Settings, chosen: str | None) -> str:
    slack = settings.slack
    where = chosen or slack.alert_channel or next(iter(slack.channels), None)
    if where is None:
        raise click.UsageError(
            "Say where the card goes: --channel C… (no [slack] alert_channel or channels set)."
        )
    if slack.channels and where not in slack.channels:
        raise click.UsageError(
            f"{where} is not one of [slack] channels ({', '.join(slack.channels)}): habot "
            "takes no requests there."
        )
    return where


@dataclass(frozen=True)
class _Filed:
    reply: Reply
    untold: bool  # approvers were not told by DM (no bot token here)


async def _file(
    settings: Settings, secrets: Secrets, ask: OperationRequest, caller: Caller
) -> _Filed:
    approvers = _approvers(settings, secrets)
    async with Habot.open(settings, secrets) as habot:
        reply = await habot.requesting(approvers).request(caller, ask)
    return _Filed(reply, untold=approvers is None and settings.slack.dm_approvers)


def _approvers(settings: Settings, secrets: Secrets) -> Approvers | None:
    """Who holds the approver role, from Slack (for their DMs), when a bot token is here."""
    token = secrets.get(BOT_TOKEN)
    if token is None:
        return None
    roles = settings.roles
    policy = RolePolicy.of(roles.viewers, roles.operators, roles.approvers)
    client = AsyncWebClient(token=token, base_url=api_url(os.environ))
    return GroupDirectory(client, policy)
