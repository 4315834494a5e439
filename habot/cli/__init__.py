"""The ``habot`` command line: a thin adapter over the service layer."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from habot import __version__, logs
from habot.core.grammar import did_you_mean
from habot.errors import HabotError

#: Every subcommand: where it lives, and the line `habot --help` lists it with. Each is
#: imported only when it runs (or its own --help is asked for), so `habot --version` and
#: `habot --help` start without loading the runtime.
COMMANDS: dict[str, tuple[str, str]] = {
    "approver": ("habot.cli.approver:approver", "Approvers' authenticator codes (step-up)."),
    "audit": ("habot.cli.audit:audit", "Read, export and verify the audit log."),
    "check": ("habot.cli.status:check", "Validate the config, try every node and Slack."),
    "db": ("habot.cli.audit:db", "Database maintenance."),
    "demo": ("habot.cli.demo:demo", "Run habot against two simulated pairs, in a browser."),
    "digest": ("habot.cli.digest:digest", "Show (or post) the digest of the last 24 h."),
    "freeze": ("habot.cli.local:freeze", "Freeze planned operations on a pair, or all."),
    "history": ("habot.cli.local:history", "Recent events as a timeline."),
    "incident": ("habot.cli.incident:incident", "An incident's timeline, from the audit chain."),
    "init": ("habot.cli.init:init", "Write a commented starter habot.toml."),
    "manifest": ("habot.cli.manifest:manifest", "Print the Slack app manifest."),
    "mute": ("habot.cli.local:mute", "Mute a pair's alerts for a while."),
    "pending": ("habot.cli.local:pending", "Requests that hold a pair, and reviews owed."),
    "probe": ("habot.cli.probe:probe_command", "What a node says, and what habot makes of it."),
    "request": ("habot.cli.request:request", "Ask for an operation from the command line."),
    "run": ("habot.cli.run:run", "Run the Slack bot until interrupted."),
    "sim": ("habot.cli.sim:sim", "Simulate Osirium PAM HA pairs over SSH."),
    "status": ("habot.cli.status:status", "Read both nodes of each pair and show the verdict."),
    "unfreeze": ("habot.cli.local:unfreeze", "Lift a freeze now."),
    "unmute": ("habot.cli.local:unmute", "Turn a pair's alerts on again."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used, listed from COMMANDS."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        where, summary = COMMANDS[cmd_name]
        module, name = where.split(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        command.short_help = summary
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The command named first in ``args`` — or, mistyped, an error that names the
        one most likely meant."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            meant = did_you_mean(args[0], COMMANDS) if args else None
            if meant is None:
                raise
            raise click.UsageError(f"{exc.message} Did you mean 'habot {meant}'?", ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in sorted(COMMANDS.items())])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: $HABOT_CONFIG, then ./habot.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for SSH).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text, or one JSON object per line (time, level, logger, message, "
    "and pair, request, user where known).",
)
@click.version_option(__version__, prog_name="habot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, log_format: str) -> None:
    """habot: status and safe operations for Osirium PAM HA pairs."""
    ctx.obj = config_path
    logs.configure(verbose, log_format)


def main() -> None:
    """Console-script entry point: HabotError becomes a one-line message and its exit
    status (2, or 1 for what may pass by itself, like Slack not answering)."""
    try:
        code = cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except HabotError as exc:
        click.echo(f"habot: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
