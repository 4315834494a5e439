"""Terminal rendering of status and checks (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from habot.core.console import offer_line, printable
from habot.core.digest import LEGEND, NO_READINGS, TITLE, Digest, coverage_note, facts
from habot.core.model import NodeState, Verdict
from habot.core.replies import Reply, Tone, not_understood_words, plain
from habot.core.verdict import NodeView, PairStatus, bau_last
from habot.services.check import NodeCheck
from habot.slack.check import SlackCheck

_VERDICT_STYLE = {Verdict.BAU: "bold green", Verdict.DEGRADED: "bold yellow"}
_GOOD_STATES = {NodeState.ACTIVE, NodeState.STANDBY, NodeState.PROMOTED_ACTIVE}


def make_console(width: int = 120) -> Console:
    """A console that wraps at the terminal's width, or at ``width`` when piped."""
    return Console(width=None if Console().is_terminal else width)


def status_table(statuses: list[PairStatus]) -> Table:
    """One row per pair, those not in BAU first: verdict, health, each node, floating IP."""
    table = Table(title="HA pairs", title_justify="left")
    for column in ("Pair", "Verdict", "Health", "Primary", "Secondary", "Floating IP"):
        table.add_column(column)
    for s in sorted(statuses, key=lambda s: bau_last(s.verdict)):  # those to look at first
        table.add_row(
            s.pair,
            Text(s.verdict.label, style=_VERDICT_STYLE.get(s.verdict, "bold red")),
            s.health.value if s.health else "-",
            _node_cell(s.primary),
            _node_cell(s.secondary),
            s.floating_ip or "-",
        )
    return table


def _node_cell(view: NodeView) -> Text:
    style = "green" if view.state in _GOOD_STATES else "red"
    text = Text(view.state.label, style=style)
    text.append(f" {view.ip or view.address}", style="dim")
    return text


def status_details(console: Console, statuses: list[PairStatus], raw: bool) -> None:
    """Below the table: why each verdict, node errors, disagreements, warnings, raw output.
    What a node (or the network) said is shown as text, never read as markup or terminal
    escapes: `[/bold]` or an ESC sequence in it is printed, not obeyed."""
    for s in statuses:
        _say(console, Text(s.pair, style="bold"), f": {s.verdict.label} — {s.reason}")
        for view in (s.primary, s.secondary):
            if view.error:
                _say(console, f"  {view.role} ({view.address}): {view.error}")
        for item in s.disagreements:
            _say(console, Text("  ≠ ", style="red"), item)
        for item in s.warnings:
            _say(console, Text("  ! ", style="yellow"), item)
        if raw:
            for view in (s.primary, s.secondary):
                _say(console, f"  --- raw ha-status from {view.role} ({view.address}) ---")
                if offers := offer_line(view.offered):
                    _say(console, f"  ({offers})")
                shown = printable(view.raw, lines=True) if view.raw is not None else "  (none)"
                console.print(Text(shown), highlight=False)


def _say(console: Console, *parts: Text | str) -> None:
    """One line: styled parts as they are, plain ones made printable (one line, escapes
    removed, control characters escaped) — no markup is read from any of them."""
    line = Text()
    for part in parts:
        line.append(part if isinstance(part, Text) else Text(printable(part)))
    console.print(line, highlight=False)


def check_lines(console: Console, checks: list[NodeCheck]) -> None:
    """One line per node: each step passed, or the one that failed and why."""
    for c in checks:
        line = Text(f"{c.pair} {c.role.value:<9} {c.address:<22} ")
        for step in c.steps:
            if c.failed_step == step:
                line.append(f"✗ {step}: {printable(c.detail)}", style="red")
                break
            line.append(f"✓ {step}  ", style="green")
        else:
            line.append(f"({c.detail})", style="dim")
        if offers := offer_line(c.offered):
            line.append(f"\n    {offers}", style="dim")
        if c.not_understood:
            listed = ", ".join(repr(printable(t)) for t in c.not_understood[:10])
            words = not_understood_words(len(c.not_understood))
            line.append(
                f"\n    ⚠ {words} in ha-status: {listed} (habot probe {c.pair} shows every line)",
                style="yellow",
            )
        console.print(line, highlight=False)


def slack_lines(console: Console, checks: list[SlackCheck], what: str = "slack") -> None:
    """One line per check (of Slack, or of ``what``): passed, failed and why, or not
    checked and why."""
    for c in checks:
        mark, style = {True: ("✓", "green"), False: ("✗", "red"), None: ("–", "dim")}[c.ok]
        console.print(Text(f"{mark} {what} {c.step}: {c.detail}", style=style), highlight=False)


# -- answers and the digest, for a terminal (Slack's renderers are in habot/core) ---------

TONE_MARK = {
    Tone.INFO: "",
    Tone.DONE: "",
    Tone.REFUSED: "refused: ",
    Tone.FAILED: "failed: ",
    Tone.UNCLEAR: "not understood: ",
    Tone.WAIT: "wait: ",
    Tone.MUTED: "",
    Tone.UNMUTED: "",
    Tone.WARNING: "warning: ",
    Tone.ANCHOR: "",
}


def reply_text(reply: Reply) -> str:
    """A reply as plain terminal text: no emoji or markup (habot's own words lose Slack's
    backticks; what a node printed is kept as printed); people and channels by id; every
    moment with its date."""
    parts = [p.replace("`", "") if isinstance(p, str) else p for p in reply.parts]
    return TONE_MARK[reply.tone] + plain(parts)


def digest_text(digest: Digest) -> str:
    """The digest as plain lines: the same facts as the Slack post, without its markup."""
    lines = [f"{TITLE} — {digest.window}"]
    for item in digest.ranked():
        if item.latest is None:
            lines.append(f"{item.pair} — {NO_READINGS}")
        else:
            lines.append(f"{item.pair} — " + " · ".join(facts(item)))
            if note := coverage_note(item):
                lines.append(f"  {note}")
        if until := digest.muted_until(item.pair):
            lines.append(f"  muted until {until:%Y-%m-%d %H:%M} UTC")
        if frozen := digest.frozen.get(item.pair):
            lines.append(f"  frozen until {frozen[0]:%Y-%m-%d %H:%M} UTC: {frozen[1]}")
    lines.append(LEGEND)
    return "\n".join(lines)
