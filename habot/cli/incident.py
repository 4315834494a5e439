"""`habot incident export`: an incident's timeline from the audit chain, as Markdown or
JSON, each line with its sequence number and hash (`habot audit verify --timeline`
checks one against the chain)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from habot.cli.local import in_habot
from habot.config import load_settings
from habot.core.audit import AuditRecord
from habot.core.incident import Selection, Timeline, as_json, as_markdown, timeline
from habot.core.when import parse_when
from habot.runtime import Habot
from habot.services.evidence import named_chain


@click.group()
def incident() -> None:
    """An incident's timeline, checkable against the audit chain."""


@incident.command("export")
@click.argument("what", metavar="REQUEST_ID|PAIR")
@click.option("--since", default=None, help="With a PAIR: from this moment (UTC unless zoned).")
@click.option("--until", default=None, help="With a PAIR: to this moment (default: now).")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md",
              show_default=True)  # fmt: skip
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write it to this file (default: print it).")  # fmt: skip
@click.pass_context
def export(
    ctx: click.Context, what: str, since: str | None, until: str | None, fmt: str,
    output: Path | None,
) -> None:  # fmt: skip
    """Every event of one request (and of its pair while it was open) — or of a PAIR from
    --since to --until — in order: when, who, what happened, how long after the line
    before, its audit sequence number and hash; and the chain's head when exported."""
    settings = load_settings(ctx.obj)
    names = [p.name for p in settings.pairs]
    made = in_habot(ctx, lambda habot: _timeline(habot, what, names, since, until))
    text = as_json(made) if fmt == "json" else as_markdown(made)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + ("\n" if not text.endswith("\n") else ""), encoding="utf-8")
        click.echo(f"{len(made.lines)} events written to {output}", err=True)


async def _timeline(
    habot: Habot, what: str, pairs: list[str], since: str | None, until: str | None
) -> Timeline:
    records, named = await named_chain(habot.stores.audit, habot.stores.requests)
    return timeline(records, _selection(what, pairs, since, until, records), named)


def _selection(
    what: str, pairs: list[str], since: str | None, until: str | None,
    records: list[AuditRecord],
) -> Selection:  # fmt: skip
    """What the argument names: a pair (with its window), or a request the audit knows."""
    if what in pairs:
        return Selection(what, since=_moment(since, "--since"), until=_moment(until, "--until"))
    if since or until:
        raise click.UsageError("--since and --until go with a PAIR, not a request id")
    pair = next((r.event.pair for r in records if r.event.detail.get("request") == what), None)
    if pair is None:
        known = ", ".join(pairs)
        raise click.UsageError(
            f"{what!r} is neither a request the audit knows nor a pair ({known})"
        )
    return Selection(pair, request=what)


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment, used = parse_when(text.split(), datetime.now(UTC), ZoneInfo("UTC"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if used != len(text.split()):
        raise click.BadParameter(f"{text!r}: one moment only", param_hint=option)
    return moment
