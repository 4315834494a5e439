"""`habot probe PAIR|HOST[:PORT]`: what a node said, verbatim, and what habot made of it."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

import click

from habot.config import Login, PairSettings, Settings, load_settings
from habot.config.ssh import (
    Auth,
    Transport,
)
from habot.core.addresses import NodeAddress, parse_address
from habot.core.catalogue import DEFAULT_DECLUSTER_LOG_PATH, DEFAULT_LOG_PATH
from habot.core.console import printable
from habot.core.grammar import did_you_mean
from habot.core.model import Role
from habot.core.probe import (
    Redactor,
    Transcript,
    redacted,
    summary,
    transcript_text,
    transcript_to_dict,
)
from habot.runtime import node_login
from habot.secrets import SSH_KEY_PASSPHRASE, Secrets
from habot.services.probe import Target, probe
from habot.ssh.executor import NodeLogin, SshExecutor


@dataclass(frozen=True)
class Plan:
    """What to probe: the name it goes by, its nodes, and how to log in to them."""

    name: str
    targets: tuple[Target, ...]
    logins: dict[NodeAddress, NodeLogin]
    floating_ip: str | None = None


@click.command()
@click.argument("target")
@click.option("--transport", type=click.Choice([t.value for t in Transport]), default=None,
              help="exec or console (default: as the config says).")  # fmt: skip
@click.option("--user", default=None, help="Log in as this user (default: as the config says).")
@click.option("--auth", type=click.Choice([a.value for a in Auth]), default=None,
              help="key or password (default: as the config says).")  # fmt: skip
@click.option("--save", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the transcript to FILE: .json (for replay) or .txt.")  # fmt: skip
@click.option("--redact", is_flag=True,
              help="Hide addresses, host names and users in what is shown and saved.")  # fmt: skip
@click.pass_context
def probe_command(
    ctx: click.Context,
    target: str,
    transport: str | None,
    user: str | None,
    auth: str | None,
    save: Path | None,
    redact: bool,
) -> None:
    """Log in to a pair's nodes (or one HOST[:PORT]) as the config says, read ha-status and
    the last lines of both logs, and show every word and what habot made of it: which line
    gave which field, the lines it did not understand, the verdict it would judge. Read-only:
    it types no other command.

    Exit status: 0 when every node was read and every line understood, 1 otherwise, 2 on a
    usage or config error.
    """
    if save is not None and save.suffix not in (".json", ".txt"):
        raise click.UsageError(f"--save {save}: name a .json or a .txt file")
    settings = load_settings(ctx.obj)
    secrets = Secrets(os.environ)
    plan = _plan(settings, secrets, target, Transport(transport) if transport else None, user,
                 Auth(auth) if auth else None)  # fmt: skip
    transcript = asyncio.run(_probe(settings, secrets, plan))
    passwords = [login.password for login in plan.logins.values() if login.password]
    names = [t.address.host for t in plan.targets] + [t.user for t in plan.targets]
    transcript = redacted(transcript, Redactor(names if redact else (), passwords, places=redact))
    click.echo(printable(transcript_text(transcript), lines=True), nl=False)
    if save is not None:
        _save(save, transcript)
        click.echo(f"transcript saved to {save}" + (" (redacted)" if redact else ""))
    click.echo(summary(transcript))
    ctx.exit(0 if _all_read(transcript) else 1)


def _all_read(transcript: Transcript) -> bool:
    steps = all(s.ok for n in transcript.nodes for s in n.steps)
    lines = all(f.understood for n in transcript.nodes for f in n.lines)
    return steps and lines and all(n.status is not None for n in transcript.nodes)


def _save(path: Path, transcript: Transcript) -> None:
    if path.suffix == ".json":
        text = json.dumps(transcript_to_dict(transcript), indent=2, ensure_ascii=False) + "\n"
    else:
        text = transcript_text(transcript)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"could not save the transcript to {path}: {exc}") from exc


async def _probe(settings: Settings, secrets: Secrets, plan: Plan) -> Transcript:
    passphrase = secrets.get(SSH_KEY_PASSPHRASE)
    async with SshExecutor(settings.ssh, passphrase, plan.logins) as executor:
        limit = settings.ssh.status_timeout
        return await probe(executor, plan.name, plan.targets, limit, plan.floating_ip)


def _plan(
    settings: Settings,
    secrets: Secrets,
    target: str,
    transport: Transport | None,
    user: str | None,
    auth: Auth | None,
) -> Plan:
    """A pair's two nodes, or one host, with the login the config says and flags change."""
    names = [p.name for p in settings.pairs]
    pair = next((p for p in settings.pairs if p.name == target), None)
    if pair is None and (meant := did_you_mean(target, names)) and ":" not in target:
        raise click.UsageError(
            f"no pair {target!r}: did you mean {meant}? (to probe a host by that name, write "
            f"it with its port: {target}:22)"
        )
    if pair is not None:
        return _pair_plan(settings, secrets, pair, transport, user, auth)
    try:
        address = parse_address(target)
    except ValueError as exc:
        raise click.UsageError(
            f"{target!r} is neither a pair ({', '.join(names)}) nor an address: {exc}"
        ) from None
    return _host_plan(settings, secrets, address, transport, user, auth)


def _pair_plan(
    settings: Settings,
    secrets: Secrets,
    pair: PairSettings,
    transport: Transport | None,
    user: str | None,
    auth: Auth | None,
) -> Plan:
    login = settings.login(pair)
    flagged = Login(user or login.username, auth or login.auth, transport or login.transport,
                    login.prompt)  # fmt: skip
    how = node_login(flagged, settings.patterns(pair), secrets, pair.name)
    paths = (pair.log_path, pair.decluster_log_path)
    targets = tuple(
        Target(
            role,
            pair.address(role),
            (transport or login.transport).value,
            user or login.username,
            paths,
            settings.patterns(pair),
        )
        for role in Role
    )
    return Plan(pair.name, targets, {t.address: how for t in targets}, pair.floating_ip)


def _host_plan(
    settings: Settings,
    secrets: Secrets,
    address: NodeAddress,
    transport: Transport | None,
    user: str | None,
    auth: Auth | None,
) -> Plan:
    ssh = settings.ssh
    patterns = ssh.patterns.compiled()
    way = transport or ssh.transport
    how = node_login(Login(user or ssh.username, auth or ssh.auth, way, ssh.prompt), patterns,
                     secrets, "")  # fmt: skip
    paths = (DEFAULT_LOG_PATH, DEFAULT_DECLUSTER_LOG_PATH)
    node = Target(Role.PRIMARY, address, way.value, user or ssh.username, paths, patterns)
    return Plan(str(address), (node,), {address: how})
