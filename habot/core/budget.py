"""How much one Slack message may carry, and what becomes of the rest (pure).

Slack refuses a message whose blocks and text together run much above 12–13k characters
(``msg_blocks_too_long``; not in Slack's reference pages, see SLACK-NOTES §8) — far below
50 blocks of 3,000 characters each. Every message habot sends is measured here the same
way (its fallback text plus its blocks as JSON) and kept under :data:`BUDGET`, a margin
below the lowest size Slack was seen to refuse.

A message over the budget is cut after its last block that fits, and says so on its last
line — never silently. When the answer was long output (a log, raw ``ha-status``, the
audit history), the whole of it can go as a file (:func:`attachment`) and the cut message
says where.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from habot.core.answers import Answer, HistoryAnswer, IncidentAnswer, LogsAnswer, RawAnswer
from habot.core.blocks import HISTORY_INLINE, LOG_NAMES, Block, Message, context, mrkdwn
from habot.core.replies import Code, Link, Reply, Tone, plain, say
from habot.core.timeline import timeline_line

#: Characters of fallback text + blocks as JSON that one message may carry.
BUDGET = 11_000
#: The fallback text of a message with blocks (Slack shows it in notifications only).
TEXT_ROOM = 1_000


def size(text: str, blocks: Sequence[Block] = ()) -> int:
    """A message's size as the budget counts it (JSON escapes non-ASCII: counted high)."""
    return len(text) + (len(json.dumps(list(blocks))) if blocks else 0)


def fits(message: Message) -> bool:
    """Whether the message is within the budget as it is."""
    return size(message.text, message.blocks) <= BUDGET


def cut(message: Message, note: Reply) -> Message:
    """The message's first blocks that fit the budget with ``note`` as its last line (a
    context line saying what was left out and where it is)."""
    last = context(mrkdwn(note))
    text = clip_text(message.text, TEXT_ROOM)
    room = BUDGET - size(text, [last]) - 2  # the JSON list's ", " between blocks
    kept: list[Block] = []
    for block in message.blocks:
        need = size("", [block]) + 2
        if need > room:
            break
        kept.append(block)
        room -= need
    return Message(text, (*kept, last), message.in_channel)


def clip_text(text: str, limit: int = BUDGET) -> str:
    """Text-only messages (thread replies, private notes): cut to ``limit``, saying so."""
    if len(text) <= limit:
        return text
    tail = "\n… (cut: too long for one Slack message)"
    return text[: limit - len(tail)] + tail


@dataclass(frozen=True)
class Attachment:
    """Long output to send whole, as a file."""

    filename: str
    title: str
    content: str

    @property
    def lines(self) -> int:
        """How many lines the file holds."""
        return len(self.content.splitlines())


def attachment(answer: Answer) -> Attachment | None:
    """The whole of an answer that is long output, as a file; None for any other answer."""
    if isinstance(answer, LogsAnswer):
        name = f"{answer.pair}-{answer.node}-{answer.log.value}.log".lower()
        last = f"last {answer.lines} lines of the {LOG_NAMES[answer.log]}"
        title = f"{answer.pair} {answer.node}: {last}"
        return Attachment(_safe(name), title, answer.output)
    if isinstance(answer, RawAnswer):
        status = answer.status
        parts = [
            f"--- {status.pair} {view.role} ({view.address}): raw ha-status ---\n"
            + (view.raw if view.raw is not None else f"(no output: {view.error or 'not read'})")
            for view in (status.primary, status.secondary)
        ]
        return Attachment(_safe(f"{status.pair}-ha-status.txt"), f"{status.pair}: raw ha-status",
                          "\n\n".join(parts))  # fmt: skip
    if isinstance(answer, HistoryAnswer):
        scope = f"-{answer.pair}" if answer.pair else ""
        lines = "\n".join(plain(timeline_line(r, answer.operations).parts) for r in answer.records)
        title = f"recent events{' on ' + answer.pair if answer.pair else ''}"
        return Attachment(_safe(f"habot-history{scope}.txt"), title, lines)
    return None


def incident_file(answer: IncidentAnswer) -> Attachment:
    """An incident's timeline as the Markdown file `habot audit verify --timeline` checks."""
    title = f"Timeline of request {answer.request_id} on {answer.pair}"
    return Attachment(_safe(f"incident-{answer.request_id}.md"), title, answer.markdown)


def overflows(answer: Answer) -> bool:
    """Whether an answer holds more than its message shows even when that fits (a long
    history: its first lines inline, all of them in the file)."""
    return isinstance(answer, HistoryAnswer) and len(answer.records) > HISTORY_INLINE


def _safe(filename: str) -> str:
    """A file name of letters, digits, dots, dashes and underscores only."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in filename)


def cut_note(
    file: Attachment | None, link: str | None, error: str | None = None, whole: bool = False
) -> Reply:
    """The last line of a cut message: what was left out and where the whole of it is
    (``whole``: the message was not too long, it shows its first lines by design)."""
    head = (f"The newest {HISTORY_INLINE} events are here" if whole
            else "Too long for one Slack message, so this is only its first part")  # fmt: skip
    if file is None:
        return say(f"{head}.", tone=Tone.WARNING)
    if link is not None:
        return say(
            f"{head}. The whole {file.title} ({file.lines} lines) is in ",
            Link(link, "a file habot sent you"), ".",
        )  # fmt: skip
    return say(
        f"{head}; habot could not send the whole of it as a file (", Code(error or "unknown"),
        "). Ask for less (fewer lines), or read it on the appliance.", tone=Tone.WARNING,
    )  # fmt: skip
