"""`habot digest [--post]`: the daily summary now, from the stored readings."""

from __future__ import annotations

import asyncio
import os

import click

from habot.cli.render import digest_text
from habot.config import Settings, load_settings
from habot.errors import ConfigError
from habot.runtime import Habot
from habot.secrets import Secrets


@click.command()
@click.option(
    "--post",
    is_flag=True,
    help="Queue it for the alert channel (a running `habot run` delivers it).",
)
@click.pass_context
def digest(ctx: click.Context, post: bool) -> None:
    """Show the digest of the last 24 h as it would be posted now (or --post it)."""
    settings = load_settings(ctx.obj)
    if post and not settings.slack.alert_channel:
        raise ConfigError("--post needs [slack] alert_channel: the digest is posted there")
    asyncio.run(_digest(settings, post))


async def _digest(settings: Settings, post: bool) -> None:
    async with Habot.open(settings, Secrets(os.environ), ssh=False) as habot:
        report = await habot.digest.build()
        click.echo(digest_text(report))
        if post:
            message_id = await habot.digest.post(report)
            click.echo(f"queued for {settings.slack.alert_channel} (outbox message {message_id})")
