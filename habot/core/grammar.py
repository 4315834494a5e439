"""The `/ha` command grammar: text in, a parsed command or a usage error out.

Pure and total: any text gives either a :class:`ParsedCommand` or a :class:`UsageError`
whose message names the problem and the right usage. Nothing typed here ever becomes part
of a remote command: pair names are looked up in configuration, nodes are an enum, counts
are bounded integers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from habot.core.model import Role
from habot.core.operations import SPECS, Operation
from habot.errors import HabotError

MAX_REASON = 300  # a reason, a note or what someone found: the longest any of them may be

MAX_TEXT = 500
DEFAULT_LOG_LINES = 20
MAX_LOG_LINES = 200
DEFAULT_HISTORY = 20
MAX_HISTORY = 100
TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class Sub(StrEnum):
    """Every subcommand habot recognises."""

    HELP = "help"
    STATUS = "status"
    LOGS = "logs"
    HISTORY = "history"
    SWITCHOVER = "switchover"
    FAILOVER = "failover"
    FAILBACK = "failback"
    DEMOTE_PRIMARY = "demote-primary"
    INITIALISE = "initialise"
    MAKE_STANDALONE = "make-standalone"
    JOINING_CODE = "joining-code"
    PENDING = "pending"
    CANCEL = "cancel"
    REJECT = "reject"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    MUTE = "mute"
    UNMUTE = "unmute"
    RESOLVE = "resolve"
    BREAK_GLASS = "break-glass"
    REVIEW = "review"
    NOTE = "note"
    INCIDENT = "incident"


class LogKind(StrEnum):
    """Which appliance log `/ha logs` reads."""

    HA = "ha"  # the HA command log
    DECLUSTER = "decluster"  # the declustering log (make-standalone)


ALIASES = {"initialize": Sub.INITIALISE, "?": Sub.HELP}
MUTATING = frozenset(Sub(operation.value) for operation in Operation)
REQUEST_ID = re.compile(r"^[0-9a-f]{8}$")

USAGE = {
    Sub.HELP: "help",
    Sub.STATUS: "status [PAIR|all]",
    Sub.LOGS: f"logs PAIR [primary|secondary] [N≤{MAX_LOG_LINES}] [decluster]",
    Sub.HISTORY: f"history [PAIR] [N≤{MAX_HISTORY}|roles]",
    **{Sub(spec.operation.value): f"{spec.operation.value} {spec.args}" for spec in SPECS},
    Sub.PENDING: "pending",
    Sub.CANCEL: 'cancel ID ["why"]',
    Sub.REJECT: 'reject ID ["why"]',
    Sub.FREEZE: 'freeze PAIR|all DURATION|until WHEN "reason"',
    Sub.UNFREEZE: "unfreeze PAIR|all",
    Sub.MUTE: "mute PAIR DURATION reason…",
    Sub.UNMUTE: "unmute PAIR",
    Sub.RESOLVE: 'resolve ID "what you found"',
    Sub.BREAK_GLASS: 'break-glass ID "why it cannot wait"',
    Sub.REVIEW: 'review ID "what you checked"',
    Sub.NOTE: 'note ID "what to add"',
    Sub.INCIDENT: "incident ID",
}
SUMMARY = {
    Sub.HELP: "what you can do here",
    Sub.STATUS: "both nodes' state and the pair's verdict (posted to the channel)",
    Sub.LOGS: "the last lines of a node's HA command log (only you see it)",
    Sub.HISTORY: "what happened lately, as a timeline (only you see it)",
    **{Sub(spec.operation.value): spec.summary for spec in SPECS},
    Sub.PENDING: "open approval requests",
    Sub.CANCEL: "cancel an open request, saying why",
    Sub.REJECT: "reject an open request, saying why (approvers)",
    Sub.FREEZE: "hold planned operations during a change freeze (approvers)",
    Sub.UNFREEZE: "lift a freeze",
    Sub.MUTE: "silence alerts for a pair during maintenance",
    Sub.UNMUTE: "end a mute",
    Sub.RESOLVE: "close a request whose outcome is unknown, saying what you found",
    Sub.BREAK_GLASS: "run your own failover alone when no approver answers (if enabled; "
    "reviewed afterwards)",
    Sub.REVIEW: "review a break-glass failover someone else ran",
    Sub.NOTE: "pin a note to a request's timeline (audited, and said in its thread)",
    Sub.INCIDENT: "a request's timeline from the audit chain, as a file in its card's thread",
}
#: Subcommands whose free-text words the asks parsers read in full (core.asks).
FREE_TEXT = frozenset(
    {
        Sub.MUTE,
        Sub.RESOLVE,
        Sub.BREAK_GLASS,
        Sub.REVIEW,
        Sub.NOTE,
        Sub.CANCEL,
        Sub.REJECT,
        Sub.FREEZE,
        Sub.UNFREEZE,
    }
)


class UsageError(HabotError):
    """The command text is not valid; the message says why and how to write it."""


@dataclass(frozen=True)
class ParsedCommand:
    """A valid command. ``pair`` is a configured name or None ("all" for status)."""

    sub: Sub
    pair: str | None = None
    node: Role | None = None
    count: int | None = None
    ref: str | None = None
    log: LogKind = LogKind.HA
    roles: bool = False  # history: who served when, not the events


def parse_command(text: str, pairs: Sequence[str], command: str = "/ha") -> ParsedCommand:
    """Parse a command of pair names, nodes and numbers only (every other kind is parsed
    whole by core.asks.parse_ask, which hands these here); UsageError on anything invalid."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"That is {len(text)} characters; {command} takes at most {MAX_TEXT}.")
    words = text.split()
    if not words:
        return ParsedCommand(Sub.HELP)
    bad = next((w for w in words if not TOKEN.match(w)), None)
    sub = sub_named(words[0], command)
    if sub in MUTATING or sub in FREE_TEXT:
        raise ValueError(f"{sub.value} takes free text: parse it with core.asks.parse_ask")
    if bad is not None:
        raise UsageError(
            f"{shown(bad)} is not something {command} understands: pair names, nodes and "
            f"numbers only. Usage: `{command} {USAGE[sub]}`"
        )
    return _PARSERS[sub](words[1:], pairs, command)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The one choice a mistyped ``word`` most likely meant ("stauts" → "status"), or
    None when none is close."""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.7)
    return close[0] if close else None


def sub_named(word: str, command: str) -> Sub:
    lowered = word.lower()
    if lowered in ALIASES:
        return ALIASES[lowered]
    try:
        return Sub(lowered)
    except ValueError:
        meant = did_you_mean(lowered, [*(s.value for s in Sub), *ALIASES])
        hint = f" Did you mean `{command} {meant}`?" if meant else ""
        raise UsageError(
            f"{shown(word)} is not a {command} subcommand.{hint} `{command} help` lists them."
        ) from None


def shown(word: str) -> str:
    """A user's word, quoted safely for display (never executed)."""
    clipped = word if len(word) <= 40 else word[:40] + "…"
    return "`" + clipped.replace("`", "'") + "`"


def pair_named(word: str, pairs: Sequence[str], command: str) -> str:
    name = word.lower()
    if name not in pairs:
        known = ", ".join(pairs)
        meant = did_you_mean(name, pairs)
        hint = f" Did you mean `{meant}`?" if meant else ""
        raise UsageError(f"There is no pair {shown(word)}.{hint} Configured pairs: {known}.")
    return name


def _count(word: str, maximum: int, what: str, usage: str) -> int:
    if not word.isdigit() or not 1 <= int(word) <= maximum:
        raise UsageError(
            f"{what} must be a number from 1 to {maximum}, not {shown(word)}. Usage: `{usage}`"
        )
    return int(word)


def no_more(args: list[str], allowed: int, usage: str) -> None:
    if len(args) > allowed:
        raise UsageError(f"Unexpected {shown(args[allowed])}. Usage: `{usage}`")


def _help(args: list[str], pairs: Sequence[str], command: str) -> ParsedCommand:
    no_more(args, 0, f"{command} help")
    return ParsedCommand(Sub.HELP)


def _status(args: list[str], pairs: Sequence[str], command: str) -> ParsedCommand:
    usage = f"{command} {USAGE[Sub.STATUS]}"
    no_more(args, 1, usage)
    if not args or args[0].lower() == "all":
        return ParsedCommand(Sub.STATUS, None)
    return ParsedCommand(Sub.STATUS, pair_named(args[0], pairs, command))


def _logs(args: list[str], pairs: Sequence[str], command: str) -> ParsedCommand:
    usage = f"{command} {USAGE[Sub.LOGS]}"
    if not args:
        raise UsageError(f"Which pair? Usage: `{usage}`")
    pair, rest = pair_named(args[0], pairs, command), args[1:]
    log = LogKind.DECLUSTER if LogKind.DECLUSTER.value in [w.lower() for w in rest] else LogKind.HA
    rest = [w for w in rest if w.lower() != LogKind.DECLUSTER.value]
    node = Role.PRIMARY
    if rest and rest[0].lower() in {r.value for r in Role}:
        node, rest = Role(rest[0].lower()), rest[1:]
    count = _count(rest[0], MAX_LOG_LINES, "The line count", usage) if rest else DEFAULT_LOG_LINES
    no_more(rest, 1, usage)
    return ParsedCommand(Sub.LOGS, pair, node, count, log=log)


def _history(args: list[str], pairs: Sequence[str], command: str) -> ParsedCommand:
    usage = f"{command} {USAGE[Sub.HISTORY]}"
    pair = None
    if args and not args[0].isdigit():
        pair, args = pair_named(args[0], pairs, command), args[1:]
    if pair is not None and args and args[0].lower() == "roles":
        no_more(args, 1, usage)
        return ParsedCommand(Sub.HISTORY, pair, count=DEFAULT_HISTORY, roles=True)
    count = _count(args[0], MAX_HISTORY, "The event count", usage) if args else DEFAULT_HISTORY
    no_more(args, 1, usage)
    return ParsedCommand(Sub.HISTORY, pair, count=count)


def _pending(args: list[str], pairs: Sequence[str], command: str) -> ParsedCommand:
    no_more(args, 0, f"{command} pending")
    return ParsedCommand(Sub.PENDING)


def _unmute(args: list[str], pairs: Sequence[str], command: str) -> ParsedCommand:
    usage = f"{command} {USAGE[Sub.UNMUTE]}"
    if not args:
        raise UsageError(f"Which pair? Usage: `{usage}`")
    no_more(args, 1, usage)
    return ParsedCommand(Sub.UNMUTE, pair_named(args[0], pairs, command))


def _incident(args: Sequence[str], pairs: Sequence[str], command: str) -> ParsedCommand:
    usage = f"{command} {USAGE[Sub.INCIDENT]}"
    if len(args) != 1 or not REQUEST_ID.match(args[0].lower()):
        raise UsageError(f"Say which request (its 8-digit id, on its card). Usage: `{usage}`")
    return ParsedCommand(Sub.INCIDENT, ref=args[0].lower())


_PARSERS = {
    Sub.INCIDENT: _incident,
    Sub.UNMUTE: _unmute,
    Sub.PENDING: _pending,
    Sub.HELP: _help,
    Sub.STATUS: _status,
    Sub.LOGS: _logs,
    Sub.HISTORY: _history,
}
