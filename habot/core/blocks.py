"""Block Kit payloads as plain dicts: pure functions of core data (no Slack types, no clock).

Every payload keeps Slack's limits: ≤ 50 blocks per message, ≤ 3000 characters per text,
unique ``action_id`` within a block. Long text is split into several code blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from habot.core.answers import (
    Answer,
    HistoryAnswer,
    IncidentAnswer,
    LogsAnswer,
    RawAnswer,
    StatusAnswer,
)
from habot.core.audit import AuditRecord
from habot.core.console import offer_line
from habot.core.durations import format_duration
from habot.core.grammar import MAX_REASON, SUMMARY, USAGE, LogKind, Sub
from habot.core.model import NODE_UP_HINT, NodeState, Verdict
from habot.core.preflight import next_steps
from habot.core.replies import (
    Code,
    Link,
    Part,
    Person,
    Reply,
    Room,
    Strong,
    Tone,
    When,
    not_understood_words,
    plural,
    slack_account,
)
from habot.core.timeline import timeline_line
from habot.core.verdict import NodeView, PairStatus, bau_last

Block = dict[str, Any]
MAX_BLOCKS = 50
TEXT_LIMIT = 3000
_CODE_ROOM = TEXT_LIMIT - 8  # room for the ``` fences

VERDICT_EMOJI = {
    Verdict.BAU: ":large_green_circle:",
    Verdict.FAILED_OVER: ":large_orange_circle:",
    Verdict.SPLIT_BRAIN: ":rotating_light:",
    Verdict.DEGRADED: ":warning:",
    Verdict.PRIMARY_DOWN: ":red_circle:",
    Verdict.SECONDARY_DOWN: ":red_circle:",
    Verdict.PRIMARY_UNREACHABLE: ":electric_plug:",
    Verdict.SECONDARY_UNREACHABLE: ":electric_plug:",
    Verdict.HALF_PAIR: ":white_circle:",
    Verdict.UNREACHABLE: ":black_circle:",
    Verdict.STANDALONE: ":white_circle:",
    Verdict.UNKNOWN: ":grey_question:",
}
VERDICT_WORDS = {
    Verdict.BAU: "BAU — Primary active, Secondary standing by",
    Verdict.FAILED_OVER: "Failed over — the Secondary is serving",
    Verdict.SPLIT_BRAIN: "SPLIT BRAIN — both servers active",
    Verdict.DEGRADED: "Degraded",
    Verdict.PRIMARY_DOWN: "Primary down",
    Verdict.SECONDARY_DOWN: "Secondary down",
    Verdict.PRIMARY_UNREACHABLE: "habot cannot reach the Primary; the Secondary still sees it up",
    Verdict.SECONDARY_UNREACHABLE: "habot cannot reach the Secondary; the Primary still sees it up",
    Verdict.HALF_PAIR: "Half pair — one server standalone, the other still HA",
    Verdict.UNREACHABLE: "Unreachable — neither node answers",
    Verdict.STANDALONE: "Standalone — no HA pair",
    Verdict.UNKNOWN: "Unknown",
}
RAW_ACTION = "raw_output"
#: Verdicts whose words are their explanation: the card says them once, not again as "Why".
SAID_BY_ITS_WORDS = frozenset({Verdict.PRIMARY_UNREACHABLE, Verdict.SECONDARY_UNREACHABLE})


@dataclass(frozen=True)
class Message:
    """A message to send: fallback text, blocks, and whether the channel sees it."""

    text: str
    blocks: tuple[Block, ...]
    in_channel: bool = False


@dataclass(frozen=True)
class Form:
    """A modal to open for the person who asked (Slack: views.open with their trigger)."""

    view: dict[str, object]


def text_input(
    name: str, label: str, hint: str, value: str | None, optional: bool, multiline: bool = False
) -> Block:
    """A form's text field (block and action both ``name``), at most MAX_REASON long."""
    element: dict[str, object] = {"type": "plain_text_input", "action_id": name,
                                  "multiline": multiline, "max_length": MAX_REASON}  # fmt: skip
    if value:
        element["initial_value"] = value
    return {"type": "input", "block_id": name, "optional": optional,
            "label": {"type": "plain_text", "text": label},
            "hint": {"type": "plain_text", "text": hint[:150]}, "element": element}  # fmt: skip


def escape(text: str) -> str:
    """Text that came from outside habot (what people typed, what appliances printed, error
    texts), made inert for mrkdwn: ``&``, ``<`` and ``>`` become entities, so a typed
    ``<!channel>`` or ``<@U…>`` shows as typed and pings nobody. Every renderer uses this."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: A Slack user (U…/W…) or user group (S…) id; anyone else habot names — the local user
#: of the command line (``cli:NAME``), habot itself — is not a Slack account.
def mention(target: str) -> str:
    """A notifying mention of a user ``U…``/``W…``, a user group ``S…``, or
    ``!here``/``!channel``; anyone else (``cli:NAME``, ``habot``) as plain words — a
    ``<@cli:root>`` would show Slack's broken-mention text."""
    if target in {"!here", "!channel"}:
        return f"<{target}>"
    if not slack_account(target):
        return escape(target)
    if target.startswith("S"):
        return f"<!subteam^{target}>"
    return f"<@{target}>"


def slack_date(at: datetime, seconds: bool = False) -> str:
    """A moment as a Slack date: each reader sees it in their own time zone ("today at
    2:30 PM"); clients that cannot show dates show the UTC words after the bar."""
    time, words = ("{time_secs}", f"{at:%H:%M:%S} UTC") if seconds else ("{time}", When(at).utc)
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {time}|{words}>"


def section(text: str) -> Block:
    """A mrkdwn section, clipped to Slack's limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def context(text: str) -> Block:
    """A small grey line."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text)}]}


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code_blocks(text: str, limit_blocks: int = 40) -> list[Block]:
    """Text as ``` code sections, split at line ends, at most ``limit_blocks`` of them."""
    chunks, current = [], ""
    for line in text.splitlines() or [""]:
        line = _clip(escape(line.replace("```", "'''")), _CODE_ROOM)
        if current and len(current) + len(line) + 1 > _CODE_ROOM:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    chunks.append(current)
    if len(chunks) > limit_blocks:
        dropped = len(chunks) - limit_blocks + 1
        chunks = [*chunks[: limit_blocks - 1], f"… {plural(dropped, 'more part')} not shown"]
    return [section(f"```{chunk or ' '}```") for chunk in chunks]


def node_state_words(state: NodeState) -> str:
    """A node state as people write it: "Promoted Active", "Unreachable"."""
    return state.label


def _state(view: NodeView) -> str:
    return node_state_words(view.state)


def _age(observed: datetime, now: datetime) -> str:
    seconds = max((now - observed).total_seconds(), 0)
    return "just now" if seconds < 2 else f"{format_duration(now - observed)} ago"


def _node_field(view: NodeView, now: datetime) -> dict[str, str]:
    reach = "reachable" if view.reachable else "*not reachable*"
    ip = view.ip or "IP not reported"
    age = _age(view.observed_at, now)
    text = f"*{view.role.label}* ({view.address})\n{_state(view)} · {ip}\n{reach} · read {age}"
    error = view.error
    if view.peer_says is not None:
        seen = node_state_words(view.peer_says)
        text += f"\nthe {view.role.peer.label} sees it *{seen}*"
        if view.peer_says not in {NodeState.UNREACHABLE, NodeState.FAILED} and error:
            error = error.removesuffix(NODE_UP_HINT)  # it is up: the question would mislead
    if error:
        text += f"\n_{escape(error)}_"
    return {"type": "mrkdwn", "text": _clip(text, 2000)}


def _health(status: PairStatus) -> str:
    if status.health is None:
        return "not reported"
    return "OK" if status.health.value == "ok" else "Degraded"


def status_card(status: PairStatus, now: datetime, reading_id: str) -> list[Block]:
    """One pair's status: verdict first, both nodes, health, floating IP, issues, raw button."""
    headline = f"{VERDICT_EMOJI[status.verdict]} *{status.pair}*: {VERDICT_WORDS[status.verdict]}"
    blocks: list[Block] = [
        section(headline),
        {
            "type": "section",
            "fields": [
                _node_field(status.primary, now),
                _node_field(status.secondary, now),
                {
                    "type": "mrkdwn",
                    "text": f"*HA health*\n{_health(status)}",
                },
                {"type": "mrkdwn", "text": f"*Floating IP*\n{status.floating_ip or 'none'}"},
            ],
        },
    ]
    if status.verdict not in SAID_BY_ITS_WORDS:
        blocks.append(context(f"Why: {escape(status.reason)}"))
    if steps := next_steps(status.verdict):
        blocks.append(context(f"Next: {steps}"))
    issues = [f":heavy_multiplication_x: {escape(d)}" for d in status.disagreements]
    issues += [f":warning: {escape(w)}" for w in status.warnings]
    if issues:
        blocks.append(section("\n".join(issues)))
    if unread := status.not_understood:
        blocks.append(context(f":mag: {not_understood_words(unread)} — Raw ha-status output "
                              "shows them"))  # fmt: skip
    blocks.append(
        {
            "type": "actions",
            "block_id": f"status-{status.pair}-{reading_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": RAW_ACTION,
                    "text": {"type": "plain_text", "text": "Raw ha-status output"},
                    "value": reading_id,
                }
            ],
        }
    )
    return blocks


def status_message(
    statuses: Sequence[PairStatus],
    now: datetime,
    ids: Sequence[str],
    mutes: Mapping[str, datetime] | None = None,
    frozen: Mapping[str, tuple[datetime, str]] | None = None,
) -> Message:
    """The channel message for `/ha status`: one card per pair, those that need a look
    first (as Home orders them), dividers between (and a pair's mute and freeze under its
    card)."""
    blocks: list[Block] = []
    shown = sorted(zip(statuses, ids, strict=True), key=lambda s: bau_last(s[0].verdict))
    statuses = [status for status, _ in shown]
    for status, reading_id in shown:
        if blocks:
            blocks.append({"type": "divider"})
        blocks += status_card(status, now, reading_id)
        if mutes and status.pair in mutes:
            blocks.append(context(f":mute: Alerts muted until {slack_date(mutes[status.pair])}"))
        if frozen and status.pair in frozen:
            until, why = frozen[status.pair]
            blocks.append(context(f":snowflake: Frozen until {slack_date(until)}: {escape(why)} "
                                  "— planned operations wait"))  # fmt: skip
    if len(blocks) > MAX_BLOCKS:  # many pairs: every pair's headline, no detail
        blocks = [
            *packed_sections(_headline(s) for s in statuses),
            context(
                f"{len(statuses)} pairs: too many for their detail in one message; "
                "ask for one pair to see it."
            ),
        ]
    text = "; ".join(f"{s.pair}: {s.verdict.label}" for s in statuses)
    return Message(text, tuple(blocks), in_channel=True)


def _headline(status: PairStatus) -> str:
    return f"{VERDICT_EMOJI[status.verdict]} *{status.pair}*: {status.verdict.label}"


def packed_sections(lines: Iterable[str], limit: int = TEXT_LIMIT) -> list[Block]:
    """Lines packed into as few sections as fit Slack's text limit — none cut, none lost."""
    packed: list[str] = []
    for line in lines:
        if packed and len(packed[-1]) + 1 + len(line) <= limit:
            packed[-1] += "\n" + line
        else:
            packed.append(line)
    return [section(text) for text in packed]


def raw_message(status: PairStatus) -> Message:
    """Both nodes' raw ha-status output as each was read (and when), for the person who
    asked — the card it came from may be older than this click."""
    blocks: list[Block] = []
    for view in (status.primary, status.secondary):
        heading = (f"*{status.pair} {view.role}* ({view.address}) — raw `ha-status`, read "
                   f"{slack_date(view.observed_at, seconds=True)}")  # fmt: skip
        if offers := offer_line(view.offered):
            heading += f"\n_{offers}_"
        if view.not_understood:
            lines = ", ".join(f"“{escape(line[:120])}”" for line in view.not_understood[:10])
            heading += f"\n:mag: {not_understood_words(len(view.not_understood))}: {lines}"
        blocks.append(section(heading))
        blocks += code_blocks(  # code_blocks escapes
            view.raw if view.raw is not None else "(no output: " + (view.error or "not read") + ")",
            20,
        )
    return Message(f"Raw ha-status output of {status.pair}", tuple(blocks[:MAX_BLOCKS]))


def text_message(text: str) -> Message:
    """A plain ephemeral message."""
    return Message(text, (section(text),))


def help_message(command: str, allowed: Iterable[Sub]) -> Message:
    """What the caller may do here, and only that."""
    lines = [f"`{command} {USAGE[sub]}` — {SUMMARY[sub]}" for sub in allowed]
    body = "\n".join(lines) if lines else "You have no habot roles here; ask an admin."
    return Message(f"{command} help", (section(f"*What you can do with {command}*\n{body}"),))


LOG_NAMES = {LogKind.HA: "HA command log", LogKind.DECLUSTER: "declustering log"}


def logs_message(
    pair: str, node: str, address: str, lines: int, output: str, log: LogKind = LogKind.HA
) -> Message:
    """The tail of a node's HA command (or declustering) log as code blocks."""
    name = LOG_NAMES[log]
    header = section(f"*{pair} {node}* ({address}) — last {lines} lines of the {name}")
    body = code_blocks(output if output.strip() else "(the log is empty)")
    return Message(f"{name} of {pair} {node}", (header, *body))


#: Events a `/ha history` answer shows inline; the rest are in the file that goes with it.
HISTORY_INLINE = 15
_LINE_ROOM = 600  # characters of one event inline (a long reason is whole in the file)


def _clipped(line: str) -> str:
    return line if len(line) <= _LINE_ROOM else line[: _LINE_ROOM - 1] + "…"


def history_message(
    pair: str | None, records: Sequence[AuditRecord], operations: Mapping[str, str]
) -> Message:
    """Recent audit events as a timeline, newest first: one sentence per event, the first
    HISTORY_INLINE of them here (the answer's file holds them all)."""
    title = f"*Recent events{' on ' + pair if pair else ''}* (newest first)"
    if not records:
        return Message("No audit events yet", (section(f"{title}\nNothing recorded yet."),))
    lines = [_clipped(mrkdwn(timeline_line(r, operations))) for r in records[:HISTORY_INLINE]]
    sections: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > TEXT_LIMIT:
            sections.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    sections.append(section("\n".join(chunk)))
    return Message("Recent events", (section(title), *sections))


def home_view(pairs: Sequence[str], command: str) -> dict[str, Any]:
    """The App Home tab (a fuller dashboard arrives with scheduled checks)."""
    listed = "\n".join(f"• *{name}* — `{command} status {name}`" for name in pairs)
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "habot — PAM HA pairs"}},
            section(f"*Configured pairs*\n{listed}"),
            context(f"Type `{command} help` in a channel to see what you can do."),
        ],
    }


# -- answers (habot/core/replies.py) rendered for Slack ---------------------------------

TONE_EMOJI = {
    Tone.INFO: "",
    Tone.DONE: ":white_check_mark:",
    Tone.REFUSED: ":no_entry:",
    Tone.FAILED: ":x:",
    Tone.UNCLEAR: ":grey_question:",
    Tone.WAIT: ":hourglass:",
    Tone.MUTED: ":mute:",
    Tone.UNMUTED: ":loud_sound:",
    Tone.WARNING: ":warning:",
    Tone.ANCHOR: ":lock:",
}


def mrkdwn(reply: Reply) -> str:
    """A reply as one mrkdwn text: its tone's emoji, then its parts (words escaped)."""
    text = "".join(_part(part) for part in reply.parts)
    emoji = TONE_EMOJI[reply.tone]
    return f"{emoji} {text}" if emoji else text


def _part(part: Part) -> str:
    if isinstance(part, str):
        return escape(part)
    if isinstance(part, Person):
        return mention(part.user)
    if isinstance(part, Room):
        return f"<#{part.channel}>"
    if isinstance(part, Link):
        return f"<{part.url}|{escape(part.label)}>"
    if isinstance(part, Code):
        return f"`{escape(part.text)}`"
    if isinstance(part, Strong):
        return f"*{escape(part.text)}*"
    if isinstance(part, When):
        return slack_date(part.at)
    return "```" + escape(part.text.replace("```", "'''")) + "```"


def render(answer: Answer) -> Message:
    """Any answer a service gives, as the Slack message that shows it."""
    if isinstance(answer, Reply):
        text = mrkdwn(answer)
        return Message(text, (section(text),), in_channel=answer.in_channel)
    if isinstance(answer, StatusAnswer):
        return status_message(
            answer.statuses, answer.at, answer.reading_ids, answer.mutes, answer.frozen
        )
    if isinstance(answer, RawAnswer):
        return raw_message(answer.status)
    if isinstance(answer, LogsAnswer):
        a = answer
        return logs_message(a.pair, a.node, a.address, a.lines, a.output, a.log)
    if isinstance(answer, HistoryAnswer):
        return history_message(answer.pair, answer.records, answer.operations)
    if isinstance(answer, IncidentAnswer):
        text = (f"The timeline of `{answer.request_id}` on {escape(answer.pair)}: "
                f"{plural(answer.events, 'event')} from the audit chain.")  # fmt: skip
        return Message(text, (section(text),))
    return help_message(answer.command, answer.allowed)
