"""`habot audit list|export|verify` and `habot db upgrade`."""

from __future__ import annotations

import csv
import json
import sys

import click

from habot.config import load_settings
from habot.runtime import open_store
from habot.store.audit import AuditStore

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
@click.pass_context
def verify_chain(ctx: click.Context) -> None:
    """Check the hash chain. Exit 0 when intact, 1 naming the first bad row."""
    check = _store(ctx).verify_sync()
    if check.ok:
        click.echo(f"audit log intact: {check.rows} rows")
        return
    click.echo(f"audit log BROKEN at row {check.bad_seq}: {check.problem}", err=True)
    ctx.exit(1)


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or upgrade the schema with the Alembic migrations (safe to repeat)."""
    open_store(load_settings(ctx.obj))
    click.echo("database schema is up to date")
