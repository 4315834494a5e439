"""The ``habot`` command line: a thin adapter over the service layer."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from habot import __version__, logs
from habot.cli.approver import approver
from habot.cli.audit import audit, db
from habot.cli.demo import demo
from habot.cli.digest import digest
from habot.cli.local import freeze, history, mute, pending, unfreeze, unmute
from habot.cli.manifest import manifest
from habot.cli.request import request
from habot.cli.run import run
from habot.cli.sim import sim
from habot.cli.status import check, status
from habot.errors import HabotError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


cli.add_command(status)
for _local in (pending, history, mute, unmute, freeze, unfreeze):
    cli.add_command(_local)
cli.add_command(check)
cli.add_command(sim)
cli.add_command(demo)
cli.add_command(audit)
cli.add_command(run)
cli.add_command(request)
cli.add_command(manifest)
cli.add_command(db)
cli.add_command(digest)
cli.add_command(approver)


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
