"""Services answer in data; each front end renders it: Slack gets mrkdwn with mentions and
emoji (and whatever someone typed stays inert), a terminal gets plain words. And the house
rules hold: no service writes Slack markup, and imports go one way."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from habot.cli.render import digest_text, reply_text
from habot.core.blocks import mrkdwn, render
from habot.core.digest import Digest, Sample, digest_message, uptime
from habot.core.grammar import ParsedCommand, Sub
from habot.core.model import NodeState, Verdict
from habot.core.refusals import refusal, slow_down
from habot.core.replies import (
    Code,
    Link,
    Output,
    Person,
    Room,
    Strong,
    Tone,
    When,
    joined,
    plain,
    refused,
    say,
)
from habot.core.roles import Access

HABOT = Path(__file__).resolve().parents[1] / "habot"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_each_part_renders_for_slack() -> None:
    """Each part of a reply renders as Slack shows it: mentions, rooms, code, bold, links."""
    reply = refused(
        "Ask ", Person("U0LEAD"), " in ", Room("C0HAOPS"), ": ", Code("/ha pending"), ", ",
        Strong("prod"), ", ", Link("https://slack.com/archives/C1/p1", "its card"), ".",
    )  # fmt: skip
    assert mrkdwn(reply) == (
        ":no_entry: Ask <@U0LEAD> in <#C0HAOPS>: `/ha pending`, *prod*, "
        "<https://slack.com/archives/C1/p1|its card>."
    )


def test_the_same_reply_reads_plainly_in_a_terminal() -> None:
    """The same reply reads plainly in a terminal."""
    reply = refused("Ask ", Person("U0LEAD"), " about ", Code("a1b2c3d4"), " on ", Strong("prod"))
    assert reply_text(reply) == "refused: Ask @U0LEAD about a1b2c3d4 on prod"


def test_output_is_a_code_block_that_cannot_be_closed_from_inside() -> None:
    """A node's output is a code block its own text cannot close or use to mention anyone."""
    shown = mrkdwn(say("code:\n", Output("123```<!channel>")))
    assert shown == "code:\n```123'''&lt;!channel&gt;```"


@given(st.text())
def test_typed_words_stay_inert_in_slack_and_unchanged_in_a_terminal(typed: str) -> None:
    """Whatever someone typed (a reason, a finding) pings nobody and links nowhere."""
    shown = mrkdwn(say("Muted: ", typed))
    assert "<" not in shown
    assert ">" not in shown
    assert plain(say("Muted: ", typed).parts) == "Muted: " + typed


def test_lists_of_parts_are_joined() -> None:
    """Lists of parts are joined with their separator, in Slack and in plain text."""
    rooms = joined([Room("C1"), Room("C2")])
    assert mrkdwn(say(*rooms)) == "<#C1>, <#C2>"
    lines = joined([(Code("a"), " one"), (Code("b"), " two")], "\n")
    assert plain(lines) == "a one\nb two"


@pytest.mark.parametrize("tone", list(Tone))
def test_every_tone_renders(tone: Tone) -> None:
    """Every tone renders, in the channel or privately, and a terminal shows no emoji."""
    message = render(say("words", tone=tone, in_channel=True))
    assert message.text.endswith("words")
    assert message.in_channel
    assert not reply_text(say("words", tone=tone)).startswith(":")


def test_the_digest_reads_the_same_in_slack_and_a_terminal() -> None:
    """One digest, two renderings: the same facts; only Slack's has emoji and markup."""
    samples = [
        Sample(T0 + timedelta(minutes=5 * i), v, NodeState.ACTIVE, NodeState.STANDBY)
        for i, v in enumerate([Verdict.BAU, Verdict.PRIMARY_DOWN, Verdict.BAU])
    ]
    item = uptime("prod", samples, T0, T0 + timedelta(minutes=15), timedelta(minutes=10))
    silent = uptime("dr", [], T0, T0 + timedelta(minutes=15), timedelta(minutes=10))
    report = Digest((item, silent), {"prod": T0 + timedelta(hours=1)}, T0, 24)
    slack = " ".join(b["text"]["text"] for b in digest_message(report).blocks if "text" in b)
    terminal = digest_text(report)
    for fact in ("prod — now BAU · serving 100%", "BAU 66.7%", "1 episode off BAU", "dr — no"):
        assert fact in terminal
    assert "*prod* — now BAU · serving 100%" in slack
    assert "muted until 2026-11-26 10:00 UTC" in terminal
    assert not re.search(r":[a-z_]+:|\*|`|<[@#!]", terminal)


def _strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


SLACK_MARKUP = re.compile(r"<[@#!]|<\{|:[a-z_]+:( |$)")


@pytest.mark.parametrize("path", sorted((HABOT / "services").rglob("*.py")), ids=lambda p: p.name)
def test_no_service_writes_slack_markup(path: Path) -> None:
    """Mentions, channel links, link markup and the reply emoji belong to the renderers."""
    found = [s for s in _strings(path) if SLACK_MARKUP.search(s)]
    assert found == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    return {n for n in names if n.startswith("habot.")}


@pytest.mark.parametrize(
    ("layer", "never"),
    [
        ("core", ("habot.services", "habot.store", "habot.ssh", "habot.slack", "habot.cli")),
        ("services", ("habot.store", "habot.ssh", "habot.slack", "habot.cli", "habot.runtime")),
        ("store", ("habot.ssh", "habot.slack", "habot.cli", "habot.runtime")),
        ("ssh", ("habot.services", "habot.store", "habot.slack", "habot.cli")),
        ("slack", ("habot.store", "habot.ssh", "habot.cli", "habot.runtime")),
    ],
)
def test_imports_go_one_way(layer: str, never: tuple[str, ...]) -> None:
    """The core imports no adapter; services see only ports; adapters never reach into one
    another; only the composition root and the CLI put them together (docs/development.md)."""
    wrong = {
        f"{p.relative_to(HABOT)} imports {name}"
        for p in (HABOT / layer).rglob("*.py")
        for name in _imports(p)
        if name.startswith(never)
    }
    assert wrong == set()


def test_a_command_outside_the_allowed_channels_is_refused_naming_them() -> None:
    """A command outside the allowed channels is refused, naming where to run it."""
    parsed = ParsedCommand(Sub.STATUS)
    roles = frozenset(Access)
    why = refusal(parsed, "C0ELSE", roles, ("C0HAOPS", "C0NOC"), "/ha")
    assert why is not None
    assert (
        mrkdwn(why) == ":no_entry: habot only takes commands in <#C0HAOPS>, <#C0NOC>. Run it there."
    )
    assert refusal(ParsedCommand(Sub.HELP), "C0ELSE", roles, ("C0HAOPS",), "/ha") is None
    assert refusal(parsed, "C0NOC", roles, ("C0HAOPS", "C0NOC"), "/ha") is None


def test_a_missing_role_is_named_with_where_to_get_it() -> None:
    """A missing role is named with the person's roles and where to get it."""
    why = refusal(
        ParsedCommand(Sub.SWITCHOVER, "prod"), None, frozenset({Access.VIEWER}), (), "/ha"
    )
    assert why is not None
    assert plain(why.parts) == (
        "/ha switchover needs the operator role; your roles: viewer. Ask an admin to add you "
        "(or a user group you are in) to [roles] operators."
    )


@pytest.mark.parametrize(("wait", "shown"), [(0.2, "1s"), (12.1, "13s"), (59, "59s")])
def test_slowing_down_says_when_to_try_again(wait: float, shown: str) -> None:
    """Over the rate limit, the reply says when to try again."""
    reply = slow_down(timedelta(seconds=wait), 20, "/ha")
    assert reply.tone is Tone.WAIT
    assert f"Try again in {shown}" in plain(reply.parts)
    assert "more than 20 /ha commands" in plain(reply.parts)


#: Where a clock time may be written as words: the When part's own words (a terminal's and
#: Slack's fallback), Slack's date token, and the terminal digest's window.
CLOCK_WORDS_ALLOWED = {
    "core/replies.py": 2, "core/blocks.py": 1, "core/digest.py": 1,
    "core/when.py": 1,  # a local time as typed, refused: it does not exist in that zone
    "core/incident.py": 1,  # an exported timeline: a file read outside Slack, "time (UTC)"
}  # fmt: skip


def test_times_shown_in_slack_are_slack_dates_in_each_readers_zone() -> None:
    """No card, reply or view writes a clock time as UTC words: each is a `When` part or
    a `<!date^…>` token, so every reader sees their own time zone."""
    found: dict[str, int] = {}
    for path in sorted(HABOT.rglob("*.py")):
        name = str(path.relative_to(HABOT))
        if name.startswith(("cli/", "sim/", "store/")) or name == "logs.py":
            continue  # terminals, the simulator's own logs, storage formats
        if count := path.read_text().count("%H:%M"):
            found[name] = count
    assert found == CLOCK_WORDS_ALLOWED


def test_a_moment_is_a_slack_date_with_utc_words_to_fall_back_on() -> None:
    """A moment is a Slack date in each reader's zone, with UTC words to fall back on; a
    terminal shows it dated."""
    at = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
    assert mrkdwn(say("expires ", When(at))) == (
        "expires <!date^1795662900^{date_short_pretty} at {time}|03:15 UTC>"
    )
    assert reply_text(say("expires ", When(at))) == "expires 2026-11-26 03:15 UTC"  # dated


def test_terminal_text_has_no_slack_backticks_but_keeps_what_a_node_printed() -> None:
    """habot's own words lose Slack's code marks in a terminal; a node's output does not."""
    said = say("For a planned hand-over use `switchover`; run ", Code("habot check"), ".",
               Output("echo `date`"))  # fmt: skip
    assert (
        reply_text(said)
        == "For a planned hand-over use switchover; run habot check.\necho `date`\n"
    )
