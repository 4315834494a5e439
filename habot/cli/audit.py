"""`habot audit list|export|verify` and `habot db upgrade`."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import TypeVar

import click

from habot.cli.local import in_habot
from habot.config import load_settings
from habot.core.anchor import Anchor, check_anchor, make_anchor, parse_anchor
from habot.core.audit import ChainSays
from habot.core.incident import check, findings_text, parse
from habot.runtime import Habot, open_engine
from habot.secrets import AUDIT_KEY, Secrets
from habot.services.evidence import named_chain
from habot.services.ports import AuditLog, Stores

_T = TypeVar("_T")
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
    records = in_habot(ctx, lambda habot: habot.stores.audit.recent(limit, pair))
    if not records:  # said on stderr under --json: its output stays JSON lines (none)
        empty = "The audit log has no events yet" + (f" for {pair}." if pair else ".")
        click.echo(empty, err=as_json)
    for record in records:
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
    in_habot(ctx, lambda habot: _export(habot.stores.audit, fmt))


async def _export(audit: AuditLog, fmt: str) -> None:
    if fmt == "jsonl":
        async for record in audit.records():
            click.echo(json.dumps(record.as_dict(), sort_keys=True))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=_CSV_FIELDS)
    writer.writeheader()
    async for record in audit.records():
        row = record.as_dict()
        writer.writerow({**row, "detail": json.dumps(row["detail"], sort_keys=True)})


@audit.command("verify")
@click.option(
    "--anchor",
    "anchor_line",
    default=None,
    help="An anchor line from `habot audit anchor`, kept elsewhere: the log must still hold it.",
)
@click.option(
    "--timeline",
    "timeline_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="A file from `habot incident export`: every line must be in the chain as written.",
)
@click.pass_context
def verify_chain(ctx: click.Context, anchor_line: str | None, timeline_file: Path | None) -> None:
    """Check the hash chain (and an anchor), and that the requests table says what the
    chain says — or, with --timeline, that an exported timeline is what the chain holds
    (each line edited, dropped or added is named). Exit 0 when intact, 1 naming each
    problem."""
    if timeline_file is not None:
        _verify_timeline(ctx, timeline_file)
        return
    anchor = _anchor_or_usage(anchor_line)
    key = Secrets(os.environ).get(AUDIT_KEY)
    rows, problems = in_habot(ctx, lambda habot: _problems(habot.stores, anchor, key))
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        ctx.exit(1)
    held = f"; it holds the anchor at row {anchor.seq}" if anchor else ""
    click.echo(f"audit log intact: {rows} rows{held}; requests agree with it")


def _verify_timeline(ctx: click.Context, path: Path) -> None:
    try:
        given = parse(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--timeline") from None

    async def found(habot: Habot) -> tuple[int, list[str]]:
        records, named = await named_chain(habot.stores.audit, habot.stores.requests)
        return len(given.lines), findings_text(check(given, records, named))

    lines, problems = in_habot(ctx, found)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        ctx.exit(1)
    click.echo(f"timeline matches the audit chain: {lines} events, head seq {given.head_seq}")


async def _problems(
    stores: Stores, anchor: Anchor | None, key: str | None
) -> tuple[int, list[str]]:
    """How many rows the log has, and everything wrong with it: a broken chain (then
    nothing else is checked), an anchor it no longer holds, requests whose table disagrees
    with it."""
    check = await stores.audit.verify()
    if not check.ok:
        return check.rows, [f"audit log BROKEN at row {check.bad_seq}: {check.problem}"]
    said, anchored = ChainSays(), []
    async for record in stores.audit.records():
        said.feed(record)
        if anchor is not None and record.seq == anchor.seq:
            anchored.append(record)
    problems = []
    if anchor is not None and (problem := check_anchor(anchored, anchor, key)):
        problems.append(f"audit log does not match the anchor: {problem}")
    rows = await stores.requests.rows()
    disagreeing = said.disagreements(rows)
    problems += [f"requests table disagrees with the audit log: {p}" for p in disagreeing]
    return check.rows, problems


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
    head = in_habot(ctx, lambda habot: habot.stores.audit.head())
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
    open_engine(load_settings(ctx.obj)).dispose()
    click.echo("database schema is up to date")
