"""`habot digest [--post]`: the daily summary now, from the stored readings."""

from __future__ import annotations

import asyncio
import re

import click

from habot.config import load_settings
from habot.core.blocks import Message
from habot.errors import ConfigError
from habot.runtime import open_store, utc_now
from habot.services.digest import DigestService
from habot.store.alert_state import AlertStateStore
from habot.store.outbox import OutboxStore
from habot.store.readings import ReadingStore

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
    engine, _ = open_store(settings)
    try:
        service = DigestService(
            settings,
            ReadingStore(engine),
            AlertStateStore(engine),
            OutboxStore(engine),
            utc_now,
        )
        message = asyncio.run(service.build())
        click.echo(as_text(message))
        if post:
            message_id = asyncio.run(service.post(message))
            click.echo(f"queued for {settings.slack.alert_channel} (outbox message {message_id})")
    finally:
        engine.dispose()


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
