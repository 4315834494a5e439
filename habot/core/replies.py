"""What habot answers people, as data.

The services say *what* happened — refused and why, opened, counted, a status read — and
never how Slack shows it: no ``<@U…>``, no ``:no_entry:``, no ``<url|label>`` in a service.
Each front end renders an answer its own way: :func:`habot.core.blocks.render` for Slack
(mrkdwn, mentions, emoji, Block Kit), :func:`habot.cli.render.reply_text` for a terminal.

A :class:`Reply` is a tone and a run of parts. Plain ``str`` parts are words — habot's own,
or text from outside (what someone typed, what an appliance printed): the Slack renderer
escapes every one, so typed markup stays inert. The other parts name what a renderer
shows specially: a person, a channel, a link, a command, a block of output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Tone(StrEnum):
    """How an answer should feel at a glance (Slack shows an emoji for each)."""

    INFO = "info"  # just words
    DONE = "done"  # it worked (a recovery, say)
    REFUSED = "refused"  # not done, and why (nothing changed)
    FAILED = "failed"  # tried, and it went wrong
    UNCLEAR = "unclear"  # habot could not read the command
    WAIT = "wait"  # not now: try again later
    MUTED = "muted"
    UNMUTED = "unmuted"
    WARNING = "warning"
    ANCHOR = "anchor"  # the audit anchor


@dataclass(frozen=True)
class Person:
    """A Slack user (or user group, S…), by id: a mention in Slack, the id in a terminal."""

    user: str


@dataclass(frozen=True)
class Room:
    """A Slack channel, by id."""

    channel: str


@dataclass(frozen=True)
class Link:
    """A link with its words."""

    url: str
    label: str


@dataclass(frozen=True)
class Code:
    """Something to type, a request id, a command: shown as code."""

    text: str


@dataclass(frozen=True)
class Strong:
    """A pair's or a role's name, made to stand out."""

    text: str


@dataclass(frozen=True)
class When:
    """A moment: Slack shows it in each reader's own time zone; a terminal in UTC."""

    at: datetime

    @property
    def utc(self) -> str:
        """The moment as words in UTC (a terminal's, and Slack's fallback)."""
        return f"{self.at:%H:%M} UTC"

    @property
    def dated(self) -> str:
        """The moment with its date, in UTC (plain text: a terminal, the audit), so that
        "until 07:19 UTC" three days away never reads as already over."""
        return f"{self.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Output:
    """Lines a node printed (or a line to keep): a block of their own."""

    text: str


Part = str | Person | Room | Link | Code | Strong | When | Output


@dataclass(frozen=True)
class Reply:
    """An answer in words: its tone, its parts, whether the whole channel sees it."""

    tone: Tone
    parts: tuple[Part, ...]
    in_channel: bool = False


def say(*parts: Part, tone: Tone = Tone.INFO, in_channel: bool = False) -> Reply:
    """A reply from its parts."""
    return Reply(tone, parts, in_channel)


def refused(*parts: Part) -> Reply:
    """Not done, and why; nothing changed."""
    return Reply(Tone.REFUSED, parts)


def failed(*parts: Part) -> Reply:
    """Tried, and it went wrong."""
    return Reply(Tone.FAILED, parts)


def unclear(why: str) -> Reply:
    """habot could not read the command (``why`` says how to write it)."""
    return Reply(Tone.UNCLEAR, (why,))


def plural(count: int, word: str, many: str | None = None) -> str:
    """A count with its noun as people write it: "1 approval", "6 readings", "0 pairs"
    (``many`` for a noun whose plural is not word + "s")."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def not_understood_words(count: int) -> str:
    """ "2 lines not understood": what people read of ha-status lines no rule read."""
    return f"{plural(count, 'line')} not understood"


_SLACK_ID = re.compile(r"[UWS][A-Z0-9]+")


def slack_account(who: str) -> bool:
    """Whether ``who`` is a Slack user or user group id (someone Slack can tell)."""
    return _SLACK_ID.fullmatch(who) is not None


def plain(parts: Sequence[Part]) -> str:
    """The parts as plain words, with no markup (for the audit log and terminals): a person
    or channel as its id, a link as its words and address."""
    return "".join(_plain(part) for part in parts)


def _plain(part: Part) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, Person):
        return f"@{part.user}"
    if isinstance(part, Room):
        return f"#{part.channel}"
    if isinstance(part, Link):
        return f"{part.label} ({part.url})"
    if isinstance(part, Output):
        return f"\n{part.text}\n"
    if isinstance(part, When):
        return part.dated
    return part.text


def joined(items: Sequence[Part | tuple[Part, ...]], between: str = ", ") -> tuple[Part, ...]:
    """Items (parts, or runs of parts) with ``between`` in between: a list of channels, the
    lines of a list."""
    out: list[Part] = []
    for item in items:
        if out:
            out.append(between)
        out.extend(item if isinstance(item, tuple) else (item,))
    return tuple(out)
