"""The ``habot`` command line: a thin adapter over the service layer."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from habot import __version__
from habot.cli.audit import audit, db
from habot.cli.digest import digest
from habot.cli.manifest import manifest
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
@click.version_option(__version__, prog_name="habot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """habot: status and safe operations for Osirium PAM HA pairs."""
    ctx.obj = config_path
    _configure_logging(verbose)


#: Libraries that log request and response bodies (tokens, joining codes, whatever a caller
#: sent) at DEBUG or INFO: capped at WARNING at every verbosity — secrets stay out of logs.
_BODY_LOGGERS = ("slack_sdk", "slack_bolt", "aiohttp", "websockets", "urllib3")


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("asyncssh").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    for name in _BODY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:  # Bolt sets its loggers' levels from root's
        handler.addFilter(_quiet_body_loggers)


def _quiet_body_loggers(record: logging.LogRecord) -> bool:
    """Drop what the body-logging libraries say below WARNING, whatever their own level;
    what they say at WARNING and above becomes one short line (their messages can quote a
    request — a block id, a payload — and carry tracebacks: neither belongs in our log)."""
    if not record.name.startswith(_BODY_LOGGERS):
        return True
    if record.levelno < logging.WARNING:
        return False
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text = f"{text} ({type(record.exc_info[1]).__name__})"
    record.msg, record.args = one_line(text), ()
    record.exc_info = record.exc_text = record.stack_info = None
    return True


def one_line(text: str, limit: int = 200) -> str:
    """The first line of ``text``, control characters escaped, at most ``limit`` chars."""
    first = text.splitlines()[0] if text else ""
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in first)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


cli.add_command(status)
cli.add_command(check)
cli.add_command(sim)
cli.add_command(audit)
cli.add_command(run)
cli.add_command(manifest)
cli.add_command(db)
cli.add_command(digest)


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
