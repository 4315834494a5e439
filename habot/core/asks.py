"""Every `/ha` command parsed once, at the edge, into what it asks (:func:`parse_ask`): the
simple ones by the grammar, and the free-text ones here — an operation (with an optional
override reason, a reason, a ticket, a time), a mute, a note on a request, a freeze. Their
reasons and findings are stored and shown, never executed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from habot.core.durations import parse_duration
from habot.core.freeze import ALL, MAX_FREEZE
from habot.core.grammar import (
    MAX_REASON,
    MAX_TEXT,
    MUTATING,
    REQUEST_ID,
    TOKEN,
    USAGE,
    ParsedCommand,
    Sub,
    UsageError,
    no_more,
    pair_named,
    parse_command,
    shown,
    sub_named,
)
from habot.core.model import Role
from habot.core.operations import SCHEDULABLE, Operation
from habot.core.when import parse_when

_OPENING_QUOTES = "\"'\u201c\u2018\u201e"  # straight, and curly as phones and Slack type them
_CLOSING_QUOTES = "\"'\u201d\u2019\u201c"


@dataclass(frozen=True)
class OperationRequest:
    """A parsed mutating request: which pair, which node (make-standalone), why overriding,
    for change control why it is asked and its change ticket, and — asked for later —
    when it runs (with the time zone its words were read in)."""

    sub: Sub
    pair: str
    node: Role | None = None
    override: str | None = None
    reason: str | None = None
    ticket: str | None = None
    run_at: datetime | None = None
    zone: str | None = None


#: The word that asks for an operation later: `switchover prod at sat 02:00`.
AT = "at"


def parse_operation(
    text: str,
    pairs: Sequence[str],
    command: str = "/ha",
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
) -> OperationRequest:
    """Parse `OP PAIR [primary|secondary] [at WHEN] ["reason…"] [TICKET] [--override
    "reason…"]`; UsageError otherwise. WHEN is read in ``zone`` (from ``now``).

    Reasons may be in straight or curly quotes. They are stored and shown, never executed.
    """
    head, sep, tail = text.partition("--override")
    words = head.split()
    sub = sub_named(words[0], command) if words else Sub.HELP
    if sub not in MUTATING:
        raise UsageError(f"`{sub.value}` is not an operation. Try `{command} help`.")
    later = " [at WHEN]" if Operation(sub.value) in SCHEDULABLE else ""
    usage = f'{command} {USAGE[sub]}{later} ["reason"] [TICKET] [--override "reason"]'
    override = _reason(tail, usage) if sep else None
    before, reason, after = _quoted(head, usage)
    words = before.split()
    if len(words) < 2:
        raise UsageError(f"Which pair? Usage: `{usage}`")
    if not TOKEN.match(words[1]):
        raise UsageError(f"{shown(words[1])} is not a pair, node or ticket. Usage: `{usage}`")
    pair, rest = pair_named(words[1], pairs, command), words[2:]
    node = None
    if sub is Sub.MAKE_STANDALONE:
        if not rest or rest[0].lower() not in {r.value for r in Role}:
            raise UsageError(f"Say which node becomes standalone. Usage: `{usage}`")
        node, rest = Role(rest[0].lower()), rest[1:]
    run_at, rest = _at(rest, usage, now, zone)
    bad = next((w for w in [*rest, *after] if not TOKEN.match(w)), None)
    if bad is not None:
        raise UsageError(f"{shown(bad)} is not a pair, node or ticket. Usage: `{usage}`")
    if reason is not None:
        no_more(rest, 0, usage)  # nothing between the pair (or its time) and its reason
        rest = after
    no_more(rest, 1, usage)
    return OperationRequest(
        sub, pair, node, override, reason, rest[0] if rest else None, run_at,
        zone.key if run_at is not None and zone is not None else None,
    )  # fmt: skip


def _at(
    words: list[str], usage: str, now: datetime | None, zone: ZoneInfo | None
) -> tuple[datetime | None, list[str]]:
    """``at WHEN`` at the start of ``words``: the moment, and the words after it."""
    if not words or words[0].lower() != AT:
        return None, words
    if now is None or zone is None:
        raise UsageError("Operations cannot be asked for later from here; leave out `at WHEN`.")
    try:
        moment, used = parse_when(words[1:], now, zone)
    except ValueError as exc:
        why = str(exc)
        raise UsageError(f"{why[:1].upper()}{why[1:]}. Usage: `{usage}`") from None
    return moment, words[1 + used :]


def _quoted(head: str, usage: str) -> tuple[str, str | None, list[str]]:
    """The words before a quoted reason, the reason (None without quotes) and the words
    after it."""
    start = next((i for i, c in enumerate(head) if c in _OPENING_QUOTES), None)
    if start is None:
        return head, None, []
    end = max((i for i, c in enumerate(head) if c in _CLOSING_QUOTES and i > start), default=None)
    if end is None:
        raise UsageError(f"Close the reason's quotes. Usage: `{usage}`")
    empty = f"The quoted reason is empty: say why, or leave it out. Usage: `{usage}`"
    reason = said(head[start + 1 : end], "reason", empty)
    return head[:start], reason, head[end + 1 :].split()


def said(text: str, what: str, empty: str) -> str:
    """A reason as kept: its whitespace made single spaces, not empty (``empty`` says so),
    at most MAX_REASON characters."""
    reason = " ".join(text.split())
    if not reason:
        raise UsageError(empty)
    if len(reason) > MAX_REASON:
        raise UsageError(f"The {what} is {len(reason)} characters; keep it under {MAX_REASON}.")
    return reason


def _reason(tail: str, usage: str) -> str:
    text = tail.strip()
    if len(text) < 2 or text[0] not in _OPENING_QUOTES or text[-1] not in _CLOSING_QUOTES:
        raise UsageError(
            f'Give the override reason in quotes: --override "why it cannot wait". Usage: `{usage}`'
        )
    return said(text[1:-1], "override reason", _EMPTY_OVERRIDE)


_EMPTY_OVERRIDE = "The override reason is empty; say why the cooldown must be skipped."


def operation_ask(
    operation: str,
    pair: str,
    pairs: Sequence[str],
    *,
    node: str | None = None,
    reason: str | None = None,
    ticket: str | None = None,
    override: str | None = None,
    at: str | None = None,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
    command: str = "habot request",
) -> OperationRequest:
    """A request from its parts (the command line's options) by the rules typed text
    meets in :func:`parse_operation`: an operation, a known pair, a node for
    make-standalone only, reasons kept as said, a ticket that is one word, and ``at``, a
    moment as typed after `at` (read in ``zone``)."""
    sub = sub_named(operation, command)
    usage = f"{command} {USAGE[sub]}" if sub in USAGE else command
    if sub not in MUTATING:
        raise UsageError(f"{shown(operation)} is not an operation. Try `{command} --help`.")
    name = pair_named(pair, pairs, command)
    if (sub is Sub.MAKE_STANDALONE) != (node is not None):
        wanted = (
            "Say which node becomes standalone"
            if node is None
            else "Only make-standalone takes a node"
        )
        raise UsageError(f"{wanted}. Usage: `{usage}`")
    if node is not None and node.lower() not in {r.value for r in Role}:
        raise UsageError(f"{shown(node)} is not a node: say primary or secondary.")
    if ticket is not None and not TOKEN.match(ticket):
        raise UsageError(f"{shown(ticket)} is not a ticket: one word of letters, digits, _ . : -")
    empty = "The reason is empty: say why, or leave it out."
    run_at, rest = _at([AT, *at.split()], f"{usage} --at WHEN", now, zone) if at else (None, [])
    no_more(rest, 0, f"{usage} --at WHEN")
    return OperationRequest(
        sub,
        name,
        Role(node.lower()) if node is not None else None,
        said(override, "override reason", _EMPTY_OVERRIDE) if override is not None else None,
        said(reason, "reason", empty) if reason is not None else None,
        ticket,
        run_at,
        zone.key if run_at is not None and zone is not None else None,
    )


MAX_MUTE = timedelta(days=7)


@dataclass(frozen=True)
class MuteRequest:
    """`mute PAIR DURATION reason…`."""

    pair: str
    duration: timedelta
    reason: str


def parse_mute(text: str, pairs: Sequence[str], command: str = "/ha") -> MuteRequest:
    """Parse a mute; the reason is free text (stored and shown, never executed)."""
    usage = f"{command} {USAGE[Sub.MUTE]}"
    words = text.split()
    if len(words) < 4:
        raise UsageError(f"A mute needs a pair, a duration and a reason. Usage: `{usage}`")
    pair = pair_named(words[1], pairs, command)
    try:
        duration = parse_duration(words[2])
    except ValueError as exc:
        raise UsageError(f"{exc}. Usage: `{usage}`") from None
    if duration > MAX_MUTE:
        raise UsageError(f"Mutes last at most 7 days; {words[2]} is longer. Usage: `{usage}`")
    reason = " ".join(words[3:])
    if len(reason) > MAX_REASON:
        raise UsageError(f"The reason is {len(reason)} characters; keep it under {MAX_REASON}.")
    return MuteRequest(pair, duration, reason)


@dataclass(frozen=True)
class RequestNote:
    """A person's words about one request: what they found (resolve), why they break
    the glass (break-glass), what they checked (review)."""

    request_id: str
    words: str


#: What each note-taking subcommand asks for, in its refusals.
_NOTE_WORDS = {
    Sub.RESOLVE: "what you found",
    Sub.BREAK_GLASS: "why it cannot wait",
    Sub.REVIEW: "what you checked",
    Sub.NOTE: "what to add",
    Sub.CANCEL: "why",
    Sub.REJECT: "why",
}
#: Those whose words may be left out (the rules decide whether they are needed).
_WORDS_OPTIONAL = frozenset({Sub.CANCEL, Sub.REJECT})


def parse_note(text: str, command: str = "/ha") -> RequestNote:
    """Parse `resolve|break-glass|review|cancel|reject ID words…` (quotes optional; the
    words are free text, stored and shown, never executed; cancel's and reject's may be
    left out, giving empty words)."""
    words = text.split()
    sub = sub_named(words[0], command) if words else Sub.HELP
    what = _NOTE_WORDS.get(sub)
    if what is None:
        raise UsageError(f"`{sub.value}` takes no note. Try `{command} help`.")
    usage = f"{command} {USAGE[sub]}"
    optional = sub in _WORDS_OPTIONAL
    if len(words) < (2 if optional else 3):
        asked = "which request" if optional else f"which request and {what}"
        raise UsageError(f"Say {asked}. Usage: `{usage}` (ids are on the cards and in "
                         f"`{command} pending`)")  # fmt: skip
    if not REQUEST_ID.match(words[1].lower()):
        raise UsageError(f"{shown(words[1])} is not a request ID (8 hex digits). Usage: `{usage}`")
    note = " ".join(words[2:]).strip(_OPENING_QUOTES + _CLOSING_QUOTES).strip()
    if not note and not optional:
        raise UsageError(f"Say {what}. Usage: `{usage}`")
    if len(note) > MAX_REASON:
        raise UsageError(f"That is {len(note)} characters; keep it under {MAX_REASON}.")
    return RequestNote(words[1].lower(), note)


@dataclass(frozen=True)
class FreezeRequest:
    """`freeze PAIR|all DURATION|until WHEN "reason"`: which pairs, until when, why."""

    pairs: tuple[str, ...]
    ends_at: datetime
    reason: str


def parse_freeze(
    text: str, pairs: Sequence[str], now: datetime, zone: ZoneInfo, command: str = "/ha"
) -> FreezeRequest:
    """Parse a freeze (``until`` read in ``zone``); the reason is free text, stored and
    shown, never executed."""
    usage = f"{command} {USAGE[Sub.FREEZE]}"
    words = text.split()
    if len(words) < 4:
        raise UsageError(f"A freeze needs pairs, how long and a reason. Usage: `{usage}`")
    scope = _scope(words[1], pairs, command)
    if words[2].lower() == "until":
        try:
            ends_at, used = parse_when(words[3:], now, zone)
        except ValueError as exc:
            raise UsageError(f"{exc}. Usage: `{usage}`") from None
        rest = words[3 + used :]
    else:
        try:
            ends_at, rest = now + parse_duration(words[2]), words[3:]
        except ValueError as exc:
            raise UsageError(f"{exc}. Usage: `{usage}`") from None
    if ends_at <= now:
        raise UsageError(f"That moment has already passed. Usage: `{usage}`")
    if ends_at - now > MAX_FREEZE:
        raise UsageError(f"Freezes last at most {MAX_FREEZE.days} days. Usage: `{usage}`")
    reason = " ".join(rest).strip(_OPENING_QUOTES + _CLOSING_QUOTES).strip()
    if not reason:
        raise UsageError(f"Say why the pairs are frozen. Usage: `{usage}`")
    if len(reason) > MAX_REASON:
        raise UsageError(f"The reason is {len(reason)} characters; keep it under {MAX_REASON}.")
    return FreezeRequest(scope, ends_at, reason)


def parse_unfreeze(text: str, pairs: Sequence[str], command: str = "/ha") -> tuple[str, ...]:
    """Parse `unfreeze PAIR|all`: the pairs whose freezes are lifted."""
    usage = f"{command} {USAGE[Sub.UNFREEZE]}"
    words = text.split()
    if len(words) != 2:
        raise UsageError(f"Say which pair (or all). Usage: `{usage}`")
    return _scope(words[1], pairs, command)


def _scope(word: str, pairs: Sequence[str], command: str) -> tuple[str, ...]:
    if word.lower() == ALL:
        return (ALL,)
    if not TOKEN.match(word):
        raise UsageError(f"{shown(word)} is not a pair. Configured pairs: {', '.join(pairs)}.")
    return (pair_named(word, pairs, command),)


@dataclass(frozen=True)
class Unfreeze:
    """`unfreeze PAIR|all`: the pairs whose freezes are lifted."""

    pairs: tuple[str, ...]


#: What a command asks, typed: one of these per kind of command.
Asked = ParsedCommand | OperationRequest | MuteRequest | RequestNote | FreezeRequest | Unfreeze


@dataclass(frozen=True)
class Ask:
    """One `/ha` command, parsed once: its subcommand, the pair it names (for refusals and
    the audit; None when it names none, or several), and what it asks."""

    sub: Sub
    pair: str | None
    what: Asked


def parse_ask(text: str, pairs: Sequence[str], command: str, now: datetime, zone: ZoneInfo) -> Ask:
    """Parse the text after the slash command, whole, once (times read in ``zone``);
    UsageError says what is wrong and how to write it."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"That is {len(text)} characters; {command} takes at most {MAX_TEXT}.")
    words = text.split()
    sub = sub_named(words[0], command) if words else Sub.HELP
    if sub in MUTATING:
        operation = parse_operation(text, pairs, command, now, zone)
        return Ask(sub, operation.pair, operation)
    if sub is Sub.MUTE:
        mute = parse_mute(text, pairs, command)
        return Ask(sub, mute.pair, mute)
    if sub in _NOTE_WORDS:
        return Ask(sub, None, parse_note(text, command))
    if sub is Sub.FREEZE:
        freeze = parse_freeze(text, pairs, now, zone, command)
        return Ask(sub, _one(freeze.pairs), freeze)
    if sub is Sub.UNFREEZE:
        scope = parse_unfreeze(text, pairs, command)
        return Ask(sub, _one(scope), Unfreeze(scope))
    parsed = parse_command(text, pairs, command)
    return Ask(parsed.sub, parsed.pair, parsed)


def _one(scope: tuple[str, ...]) -> str | None:
    return scope[0] if len(scope) == 1 and scope[0] != ALL else None
