"""The App Home dashboard: every pair at a glance, what the viewer can act on, recent runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from habot.core.approvals import Request, RequestAction, RequestState, owed_parts
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
from habot.core.cards import decision_buttons, state_line
from habot.core.durations import format_duration
from habot.core.model import NodeState, Verdict
from habot.core.operations import OperationPlan
from habot.core.preflight import next_steps
from habot.core.replies import say
from habot.core.stepup import Confirm
from habot.core.verdict import bau_last

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
    if line.verdict in _SPELLED_OUT:  # what it means, and where to look
        text += f"\n_{VERDICT_WORDS[line.verdict]}._ {next_steps(line.verdict) or ''}".rstrip()
    if line.muted_until and line.muted_until > now:
        text += f"\n:mute: alerts muted until {slack_date(line.muted_until)}"
    if line.cooldown_until and line.cooldown_until > now:
        text += f"\n:hourglass: cooldown until {slack_date(line.cooldown_until)}"
    if line.frozen:
        until, why = line.frozen
        text += f"\n:snowflake: frozen until {slack_date(until)}: {escape(why)}"
    return section(text)


@dataclass(frozen=True)
class Waiting:
    """A request the viewer may act on now: what it is, the buttons for what they may do
    (the card's own, under the same rules), and a link to its card."""

    request: Request
    plan: OperationPlan
    actions: tuple[RequestAction, ...]
    confirm: Confirm = Confirm.CLICK
    link: str | None = None


@dataclass(frozen=True)
class Ended:
    """An operation that ended: when, how, the request it ran for (None once no longer
    kept), and a link to its card."""

    at: datetime
    pair: str
    outcome: str
    request: Request | None = None
    link: str | None = None


#: A view's 100 blocks, shared out (93 at most): header 2, reviews owed 7, pairs 41, a
#: divider, waiting 2 + 2 each, scheduled 3 + 1 each, a divider, recent 1 + 1 each, help 1.
MAX_PAIRS = 40
MAX_WAITING = 8
MAX_SCHEDULED = 8
MAX_RECENT = 10


def _pairs(pairs: Sequence[PairLine], now: datetime, command: str) -> list[Block]:
    """The pairs, those not in BAU first; past MAX_PAIRS, the rest named in one line."""
    ordered = sorted(pairs, key=lambda p: bau_last(p.verdict))
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
                   else r.tally)
            )
            for r in later[:MAX_SCHEDULED] if r.run_at
        ],
        *_more(len(later) - MAX_SCHEDULED, "scheduled", f"`{command} pending`"),
    ]  # fmt: skip


def _card_link(link: str | None) -> str:
    return f" · <{link}|its card>" if link else ""


def _waiting(waiting: Sequence[Waiting], command: str) -> list[Block]:
    """What waits for this viewer: each request in a line, with its buttons."""
    if not waiting:
        return [section("*Waiting for you*\nNothing right now.")]
    blocks = [section("*Waiting for you*")]
    for w in waiting[:MAX_WAITING]:
        r = w.request
        deadline = (f"runs {slack_date(r.run_at)} once approved" if r.run_at
                    else f"expires {slack_date(r.expires_at)}")  # fmt: skip
        blocks.append(section(
            f"`{r.id}` {r.operation.value} on *{r.pair}* ({r.node}) asked by "
            f"{mention(r.requester)} · {r.tally} · {deadline}"
            f"{_card_link(w.link)}"
        ))  # fmt: skip
        blocks.append(decision_buttons(r, w.plan, w.confirm, w.actions))
    return blocks + _more(len(waiting) - MAX_WAITING, "waiting for you", f"`{command} pending`")


def _ended_line(e: Ended) -> str:
    """ "switchover on prod by @Olivia, approved by @Amir · Succeeded": what, who, how."""
    r = e.request
    if r is None:
        return f"{slack_date(e.at)} · an operation on *{e.pair}* · {e.outcome}{_card_link(e.link)}"
    approved = ", approved by " + ", ".join(mention(a) for a in r.approvals)
    if not r.approvals:
        approved = ", run without a second approver (break glass)" if r.glass else ""
    return (
        f"{slack_date(e.at)} · `{r.id}` {r.operation.value} on *{r.pair}* by "
        f"{mention(r.requester)}{approved} · {state_line(r.state)}{_card_link(e.link)}"
    )


def dashboard(
    pairs: Sequence[PairLine],
    waiting: Sequence[Waiting],
    recent: Sequence[Ended],
    command: str,
    now: datetime,
    owed: Sequence[Request] = (),
    scheduled: Sequence[Request] = (),
) -> dict[str, Any]:
    """The Home tab view (at most 100 blocks); break-glass reviews owed come first, then
    the pairs, what waits for this viewer (with the card's buttons), the operations asked
    for later, and the recent ones (who asked, who approved, how it ended)."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "habot — PAM HA pairs"}},
        context(
            f"As of {slack_date(now, seconds=True)}; republished when a reading or a request "
            "changes. Reopen the tab for the latest."
        ),
        *_owed(owed, command),
        *_pairs(pairs, now, command),
        {"type": "divider"},
        *_waiting(waiting, command),
        *_scheduled(scheduled, command),
        {"type": "divider"},
        section("*Recent operations*" if recent else "*Recent operations*\nNone yet."),
        *[context(_ended_line(e)) for e in recent[:MAX_RECENT]],
        context(f"`{command} help` in a channel shows what you can do."),
    ]
    assert len(blocks) <= MAX_VIEW_BLOCKS, "the shares above add up to more than a view holds"
    return {"type": "home", "blocks": blocks}
