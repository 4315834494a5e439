"""`habot demo`: the whole bot, simulated pairs and a Slack-like page on this machine."""

from __future__ import annotations

import asyncio

import click

from habot.demo.run import serve


@click.command("demo")
@click.option("--port", type=int, default=8765, show_default=True, help="The page's port (0: any).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the page listens.")
def demo(port: int, host: str) -> None:
    """Run habot against two simulated pairs with a local Slack-like page: type /ha
    commands as an operator, approver or viewer, approve with the buttons, break the pairs
    and rehearse the procedures. No Slack workspace, tokens or appliances needed.

    Prints the page's URL; opens no browser. Ctrl-C stops everything and removes every
    file it made."""
    try:
        asyncio.run(serve(port, host, click.echo))
    except OSError as exc:
        raise click.ClickException(f"could not start the demo: {exc} (try --port 0)") from exc
