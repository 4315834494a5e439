"""`habot init`: write a commented starter habot.toml (asking, or from flags)."""

from __future__ import annotations

import os
import sys
import tomllib
from datetime import date
from pathlib import Path

import click

from habot.config import CONFIG_ENV, DEFAULT_CONFIG, parse_settings
from habot.config.ssh import (
    Auth,
    Transport,
)
from habot.config.starter import DOCS, Start, StarterPair, starter_toml
from habot.errors import ConfigError


@click.command()
@click.option("--pair", "pairs", multiple=True, metavar="NAME=PRIMARY,SECONDARY",
              help="A pair and its nodes' addresses (host, host:port); repeat for more. "
              "Without it, habot init asks.")  # fmt: skip
@click.option("--known-hosts", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("/etc/habot/known_hosts"), show_default=True,
              help="The nodes' host keys (strict: habot never trusts on first use).")  # fmt: skip
@click.option("--client-key", "client_keys", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="habot's SSH key (key logins; default /etc/habot/id_ed25519).")  # fmt: skip
@click.option("--user", default="habot", show_default=True, help="The account on the nodes.")
@click.option("--auth", type=click.Choice([a.value for a in Auth]), default="key",
              show_default=True)  # fmt: skip
@click.option("--transport", type=click.Choice([t.value for t in Transport]), default="exec",
              show_default=True)  # fmt: skip
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.pass_context
def init(
    ctx: click.Context,
    pairs: tuple[str, ...],
    known_hosts: Path,
    client_keys: tuple[Path, ...],
    user: str,
    auth: str,
    transport: str,
    force: bool,
) -> None:
    """Write a starter habot.toml (or the --config file): your pairs and the way in, and
    every other setting commented out with its default and where it is explained."""
    path = ctx.obj or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if path.exists() and not force:
        raise click.UsageError(f"{path} exists; keep it, or replace it with --force")
    told = [_pair(text) for text in pairs] if pairs else _ask()
    keys = client_keys or ((Path("/etc/habot/id_ed25519"),) if auth == Auth.KEY else ())
    start = Start(told, known_hosts, keys, user, auth, transport)
    text = starter_toml(start, date.today())
    try:
        parse_settings(tomllib.loads(text))
    except ConfigError as exc:  # a bad name or address: say so, write nothing
        raise click.UsageError(f"{exc}; nothing was written") from None
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"could not write {path}: {exc}") from exc
    names = ", ".join(p.name for p in told)
    flag = "" if path == DEFAULT_CONFIG else f"--config {path} "
    click.echo(
        f"wrote {path} ({names}). Next, step by step ({DOCS}):\n"
        f"  habot {flag}probe {told[0].name}    # what the nodes say, and what habot makes of it\n"
        f"  habot {flag}check    # every node, and Slack once its tokens are set"
    )


def _pair(text: str) -> StarterPair:
    name, sep, nodes = text.partition("=")
    primary, comma, secondary = nodes.partition(",")
    if not (sep and comma and name.strip() and primary.strip() and secondary.strip()):
        raise click.UsageError(
            f"--pair {text!r}: write NAME=PRIMARY,SECONDARY, e.g. prod=10.0.0.11,10.0.0.12"
        )
    return StarterPair(name.strip(), primary.strip(), secondary.strip())


def _ask() -> list[StarterPair]:
    if not sys.stdin.isatty():
        raise click.UsageError(
            "no terminal to ask on: give each pair as --pair NAME=PRIMARY,SECONDARY"
        )
    told: list[StarterPair] = []
    while True:
        name = click.prompt(
            "Pair name (lower-case, like prod)", default="prod" if not told else None
        )
        primary = click.prompt(f"{name}: the Primary's address (host or host:port)")
        secondary = click.prompt(f"{name}: the Secondary's address")
        told.append(StarterPair(name, primary, secondary))
        if not click.confirm("Another pair?", default=False):
            return told
