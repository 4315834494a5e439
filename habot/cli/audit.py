"""`habot audit list|export|verify` and `habot db upgrade`."""

from __future__ import annotations

import csv
import json
import os
import sys
from contextlib import closing

import click

from habot.config import load_settings
from habot.core.anchor import Anchor, check_anchor, make_anchor, parse_anchor
from habot.core.audit import disagreements
from habot.runtime import open_store
from habot.secrets import AUDIT_KEY, Secrets
from habot.store.audit import AuditStore
from habot.store.requests import RequestStore

_CSV_FIELDS = (
    "seq",
    "at",
    "kind",
    "actor",
    "outcome",
    "pair",
    "node",
    "channel",
    "message_ts",
    "duration_ms",
    "output_digest",
    "detail",
    "prev_hash",
    "hash",
)


def _store(ctx: click.Context) -> AuditStore:
    return open_store(load_settings(ctx.obj))[1]


@click.group()
def audit() -> None:
    """Read, export and verify the append-only audit log."""


@audit.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--pair", default=None, help="Only events of this pair.")
@click.pass_context
def list_events(ctx: click.Context, as_json: bool, limit: int, pair: str | None) -> None:
    """The newest events first."""
    for record in _store(ctx).recent_sync(limit, pair):
        if as_json:
            click.echo(json.dumps(record.as_dict(), sort_keys=True))
            continue
        e = record.event
        where = " ".join(x for x in (e.pair, e.node) if x)
        click.echo(
            f"{record.seq:>6}  {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:<12} {e.outcome:<10} "
            f"{e.actor:<12} {where}"
        )


@audit.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.pass_context
def export(ctx: click.Context, fmt: str) -> None:
    """Every event in chain order, to stdout, with its hashes (for archiving elsewhere)."""
    records = _store(ctx).all_sync()
    if fmt == "jsonl":
        for record in records:
            click.echo(json.dumps(record.as_dict(), sort_keys=True))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=_CSV_FIELDS)
    writer.writeheader()
    for record in records:
        row = record.as_dict()
        writer.writerow({**row, "detail": json.dumps(row["detail"], sort_keys=True)})


@audit.command("verify")
@click.option(
    "--anchor",
    "anchor_line",
    default=None,
    help="An anchor line from `habot audit anchor`, kept elsewhere: the log must still hold it.",
)
@click.pass_context
def verify_chain(ctx: click.Context, anchor_line: str | None) -> None:
    """Check the hash chain (and an anchor), and that the requests table says what the
    chain says. Exit 0 when intact, 1 naming each problem."""
    anchor = _anchor_or_usage(anchor_line)
    engine, store = open_store(load_settings(ctx.obj))
    check = store.verify_sync()
    if not check.ok:
        click.echo(f"audit log BROKEN at row {check.bad_seq}: {check.problem}", err=True)
        ctx.exit(1)
    if anchor is not None:
        with closing(store.all_sync()) as records:  # it may stop early: close the cursor
            problem = check_anchor(records, anchor, Secrets(os.environ).get(AUDIT_KEY))
        if problem:
            click.echo(f"audit log does not match the anchor: {problem}", err=True)
            ctx.exit(1)
    problems = disagreements(RequestStore(engine).rows_sync(), store.all_sync())
    for problem in problems:
        click.echo(f"requests table disagrees with the audit log: {problem}", err=True)
    if problems:
        ctx.exit(1)
    held = f"; it holds the anchor at row {anchor.seq}" if anchor else ""
    click.echo(f"audit log intact: {check.rows} rows{held}; requests agree with it")


def _anchor_or_usage(line: str | None) -> Anchor | None:
    if line is None:
        return None
    try:
        return parse_anchor(line)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--anchor") from None


@audit.command("anchor")
@click.pass_context
def anchor_command(ctx: click.Context) -> None:
    """Print the chain's head as one line to keep outside the database (keyed with the
    audit key from keyring habot/audit_key or HABOT_AUDIT_KEY, when one is set)."""
    head = _store(ctx).head_sync()
    if head is None:
        click.echo("the audit log is empty: nothing to anchor yet", err=True)
        ctx.exit(1)
        return
    click.echo(make_anchor(head, Secrets(os.environ).get(AUDIT_KEY)).line())


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or upgrade the schema with the Alembic migrations (safe to repeat)."""
    open_store(load_settings(ctx.obj))
    click.echo("database schema is up to date")
