"""`habot digest [--post]`: the daily summary now, from the stored readings."""

from __future__ import annotations

import asyncio
import os
import re

import click

from habot.config import Settings, load_settings
from habot.core.blocks import Message
from habot.errors import ConfigError
from habot.runtime import Habot
from habot.secrets import Secrets

_EMOJI = re.compile(r":[a-z_]+: ")
_ITALIC = re.compile(r"(?m)^_(.*)_$")


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
        message = await habot.digest.build()
        click.echo(as_text(message))
        if post:
            message_id = await habot.digest.post(message)
            click.echo(f"queued for {settings.slack.alert_channel} (outbox message {message_id})")


def as_text(message: Message) -> str:
    """The digest's blocks as plain lines for a terminal."""
    lines = []
    for block in message.blocks:
        if "text" in block:
            text = block["text"]["text"]
        else:
            text = " ".join(e.get("text", "") for e in block.get("elements", []))
        lines.append(_ITALIC.sub(r"\1", _EMOJI.sub("", text).replace("*", "")))
    return "\n".join(lines)
