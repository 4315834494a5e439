"""`habot manifest`: print the Slack app manifest for this configuration."""

from __future__ import annotations

import json

import click

from habot.config import load_slack_settings
from habot.slack.manifest import render_manifest


@click.command()
@click.option("--http", "http_mode", is_flag=True, help="For HTTP mode (needs --url).")
@click.option("--url", default=None, help="HTTP mode: the bot's public base URL (https://…).")
@click.pass_context
def manifest(ctx: click.Context, http_mode: bool, url: str | None) -> None:
    """Print the Slack app manifest (JSON) for the configured command name.

    Paste it into "Create New App → From an app manifest" at api.slack.com/apps.
    """
    if http_mode != (url is not None):
        raise click.UsageError("--http and --url go together: --http --url https://host")
    if url is not None and not url.startswith("https://"):
        raise click.UsageError(f"Slack only calls https URLs; {url!r} is not one")
    slack, found = load_slack_settings(ctx.obj)
    if not found:
        click.echo(f"habot: no config file found; the command is {slack.command} (from the "
                   "environment, else the default)", err=True)  # fmt: skip
    click.echo(json.dumps(render_manifest(slack.command, url), indent=2))
