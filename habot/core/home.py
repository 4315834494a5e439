"""The App Home dashboard: every pair at a glance, what the viewer can act on, recent runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from habot.core.approvals import Request, RequestState, owed_parts
from habot.core.audit import AuditRecord
from habot.core.blocks import (
    VERDICT_EMOJI,
    VERDICT_WORDS,
    Block,
    context,
    escape,
    mention,
    mrkdwn,
    section,
    slack_date,
)
from habot.core.durations import format_duration
from habot.core.model import NodeState, Verdict
from habot.core.replies import say

MAX_VIEW_BLOCKS = 100
#: Verdicts whose name alone would mislead at a glance: the words say where to look.
_SPELLED_OUT = frozenset(
    {Verdict.PRIMARY_UNREACHABLE, Verdict.SECONDARY_UNREACHABLE, Verdict.HALF_PAIR}
)


@dataclass(frozen=True)
class PairLine:
    """What the dashboard shows of one pair."""

    pair: str
    verdict: Verdict | None
    primary: NodeState | None
    secondary: NodeState | None
    read_at: datetime | None
    muted_until: datetime | None = None
    cooldown_until: datetime | None = None
    frozen: tuple[datetime, str] | None = None  # a change freeze: until when, why


def _pair_block(line: PairLine, now: datetime) -> Block:
    if line.verdict is None or line.read_at is None:
        return section(f":grey_question: *{line.pair}* — no reading yet")
    age = format_duration(max(now - line.read_at, timedelta(0)))
    text = (
        f"{VERDICT_EMOJI[line.verdict]} *{line.pair}* — {line.verdict.label} · Primary "
        f"{line.primary.label if line.primary else '?'} · Secondary "
        f"{line.secondary.label if line.secondary else '?'} · read "
        f"{slack_date(line.read_at, seconds=True)} ({age} before this view)"
    )
    if line.verdict in _SPELLED_OUT:
        text += f"\n_{VERDICT_WORDS[line.verdict]}_"
    if line.muted_until and line.muted_until > now:
        text += f"\n:mute: alerts muted until {slack_date(line.muted_until)}"
    if line.cooldown_until and line.cooldown_until > now:
        text += f"\n:hourglass: cooldown until {slack_date(line.cooldown_until)}"
    if line.frozen:
        until, why = line.frozen
        text += f"\n:snowflake: frozen until {slack_date(until)}: {escape(why)}"
    return section(text)


MAX_PAIRS = 40  # one section each: with the rest, under a view's 100 blocks
MAX_WAITING = 20


def _pairs(pairs: Sequence[PairLine], now: datetime, command: str) -> list[Block]:
    """The pairs, those not in BAU first; past MAX_PAIRS, the rest named in one line."""
    ordered = sorted(pairs, key=lambda p: p.verdict is Verdict.BAU)  # stable: config order
    shown, rest = ordered[:MAX_PAIRS], ordered[MAX_PAIRS:]
    blocks = [_pair_block(line, now) for line in shown]
    if rest:
        names = ", ".join(p.pair for p in rest)
        blocks.append(context(
            f"… and {len(rest)} more pairs (those not in BAU come first above): {names} — "
            f"see `{command} status PAIR`"
        ))  # fmt: skip
    return blocks


def _more(hidden: int, what: str, where: str) -> list[Block]:
    return [context(f"… and {hidden} more {what} — see {where}")] if hidden > 0 else []


MAX_OWED = 5


def _owed(owed: Sequence[Request], command: str) -> list[Block]:
    """Break-glass runs nobody has reviewed yet: at the top, for everyone."""
    if not owed:
        return []
    return [
        section(":rotating_light: *Break-glass review owed*"),
        *[section(mrkdwn(say(*owed_parts(r, command)))) for r in owed[:MAX_OWED]],
        *_more(len(owed) - MAX_OWED, "reviews owed", f"`{command} pending`"),
    ]


def _scheduled(requests: Sequence[Request], command: str) -> list[Block]:
    """Operations asked for later, soonest first, with their time — for everyone."""
    later = sorted((r for r in requests if r.run_at), key=lambda r: r.run_at or r.created_at)
    if not later:
        return []
    return [
        {"type": "divider"},
        section("*Scheduled*"),
        *[
            section(
                f":calendar: `{r.id}` {r.operation.value} on *{r.pair}* runs "
                f"{slack_date(r.run_at)} · asked by {mention(r.requester)} · "
                + ("approved" if r.state is RequestState.SCHEDULED
                   else f"{len(r.approvals)}/{r.required} approvals")
            )
            for r in later[:MAX_WAITING] if r.run_at
        ],
        *_more(len(later) - MAX_WAITING, "scheduled", f"`{command} pending`"),
    ]  # fmt: skip


def dashboard(
    pairs: Sequence[PairLine],
    actionable: Sequence[Request],
    recent: Sequence[AuditRecord],
    command: str,
    now: datetime,
    owed: Sequence[Request] = (),
    scheduled: Sequence[Request] = (),
) -> dict[str, Any]:
    """The Home tab view (at most 100 blocks); break-glass reviews owed come first, then
    the pairs, what waits for this viewer, the operations asked for later, recent ones."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "habot — PAM HA pairs"}},
        context(
            f"As of {slack_date(now, seconds=True)}; republished when a reading or a request "
            "changes. Reopen the tab for the latest."
        ),
        *_owed(owed, command),
        *_pairs(pairs, now, command),
        {"type": "divider"},
        section("*Waiting for you*" if actionable else "*Waiting for you*\nNothing right now."),
        *[
            section(
                f"`{r.id}` {r.operation.value} on *{r.pair}* ({r.node}) asked by "
                f"{mention(r.requester)} · {len(r.approvals)}/{r.required} approvals · "
                + (
                    f"runs {slack_date(r.run_at)} once approved"
                    if r.run_at
                    else f"expires {slack_date(r.expires_at)}"
                )
            )
            for r in actionable[:MAX_WAITING]
        ],
        *_more(len(actionable) - MAX_WAITING, "waiting for you", f"`{command} pending`"),
        *_scheduled(scheduled, command),
        {"type": "divider"},
        section("*Recent operations*" if recent else "*Recent operations*\nNone yet."),
        *[
            context(
                f"{slack_date(e.event.at)} · {e.event.pair} · "
                f"{e.event.detail.get('request', '')} · {e.event.outcome}"
            )
            for e in recent[:20]
        ],
        context(f"`{command} help` in a channel shows what you can do."),
    ]
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
