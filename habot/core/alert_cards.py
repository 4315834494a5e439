"""The alert card: what is wrong, since when, both nodes, and buttons to act."""

from __future__ import annotations

from datetime import datetime

from habot.core.alerts import Announced, Incident, resolved_after
from habot.core.approvals import Request, RequestState
from habot.core.blocks import (
    VERDICT_EMOJI,
    Block,
    Message,
    context,
    escape,
    mention,
    section,
    slack_date,
)
from habot.core.cards import state_emoji
from habot.core.durations import format_duration
from habot.core.model import Verdict
from habot.core.paging import Pager
from habot.core.replies import Code, Link, Part, Person, Reply, plural, say
from habot.core.verdict import PairStatus

FRESH_STATUS, OPEN_REQUEST = "alert_fresh_status", "alert_open_request"
ACKNOWLEDGE = "alert_acknowledge"
#: The operation that usually answers a verdict (operators get a button for it).
REMEDY = {
    Verdict.PRIMARY_DOWN: "failover",
    Verdict.DEGRADED: "initialise",
    Verdict.SPLIT_BRAIN: "demote-primary",
}


def alert_card(
    status: PairStatus,
    incident: Incident,
    resolved: bool = False,
    notify: str | None = None,
    frozen: tuple[datetime, str] | None = None,
) -> Message:
    """An open (or resolved) alert for one pair; a new one names ``notify`` (notified).
    ``frozen``: the change freeze holding the pair (until when, why) — said, never
    silencing the alert."""
    emoji = ":white_check_mark:" if resolved else VERDICT_EMOJI[status.verdict]
    state = f"*{resolved_after(incident)}*" if resolved else "*ALERT*"
    blocks: list[Block] = [
        section(f"{emoji} {state} — *{status.pair}*: {escape(incident.reason)}"),
        context(
            f"Bad since {slack_date(incident.since)} · last seen {slack_date(incident.last_seen)} "
            f"· {plural(incident.readings, 'reading')}"
        ),
        section(
            f"*Primary* ({status.primary.address}): {status.primary.state.label}"
            f"{' — ' + escape(status.primary.error) if status.primary.error else ''}\n"
            f"*Secondary* ({status.secondary.address}): {status.secondary.state.label}"
            f"{' — ' + escape(status.secondary.error) if status.secondary.error else ''}"
        ),
    ]
    if incident.acknowledged_by and incident.acknowledged_at:
        blocks.append(
            context(
                f":eyes: Acknowledged by {mention(incident.acknowledged_by)} "
                f"{slack_date(incident.acknowledged_at)}"
            )
        )
    if incident.paged and incident.paged_at:
        tools = " and ".join(Pager(p).label for p in incident.paged)
        blocks.append(context(f":pager: The on-call was paged through {tools} "
                              f"{slack_date(incident.paged_at)}"))  # fmt: skip
    if frozen is not None:
        until, why = frozen
        blocks.append(context(f":snowflake: During a change freeze (until {slack_date(until)}): "
                              f"{escape(why)}"))  # fmt: skip
    if not resolved:
        blocks.append(_buttons(status, acknowledged=incident.acknowledged_by is not None))
    verb = "resolved" if resolved else "alert"
    text = f"{status.pair} {verb}: {incident.reason}"
    if notify and not resolved:
        blocks.append(context(f"For {mention(notify)}"))
        text = f"{mention(notify)} {text}"
    return Message(text, tuple(blocks), in_channel=True)


def reminder_message(status: PairStatus, incident: Incident, announced: Announced) -> Message:
    """The one reminder that a shape habot's own operation produced has lasted long."""
    lasted = format_duration(incident.last_seen - announced.at)
    text = (
        f":hourglass: *{status.pair}* is still {status.verdict.label} {lasted} after habot's "
        f"`{announced.operation}` (request `{announced.request}`) left it so — not back to "
        f"BAU yet. {escape(incident.reason)}"
    )
    return Message(f"{status.pair} still {status.verdict.label}", (section(text),), True)


def nudge_text(incident: Incident, notify: str | None, now: datetime) -> str:
    """The thread reply that calls an open alert's people again: nobody has said they are
    on it (Acknowledge on the card stops these)."""
    who = f"{mention(notify)} " if notify else ""
    open_for = format_duration(now - incident.since)
    return (
        f":bell: {who}Still open after {open_for} and nobody has acknowledged it: "
        f"{escape(incident.reason)}. Press *Acknowledge* on the card when you are on it."
    )


def _buttons(status: PairStatus, acknowledged: bool) -> Block:
    elements = [
        {
            "type": "button",
            "action_id": FRESH_STATUS,
            "value": status.pair,
            "text": {"type": "plain_text", "text": "Fresh status"},
        },
    ]
    if not acknowledged:
        elements.insert(
            0,
            {
                "type": "button",
                "action_id": ACKNOWLEDGE,
                "value": status.pair,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"},
            },
        )
    remedy = REMEDY.get(status.verdict)
    if remedy:
        elements.append(
            {
                "type": "button",
                "action_id": OPEN_REQUEST,
                "value": f"{remedy} {status.pair}",
                "text": {"type": "plain_text", "text": f"Request {remedy} (operators)"},
            }
        )
    return {"type": "actions", "block_id": f"alert-{status.pair}", "elements": elements}


def _its_card(link: str | None) -> tuple[Part, ...]:
    return (" — ", Link(link, "its card")) if link else ()


def asked_under_alert(request: Request, link: str | None) -> Reply:
    """The alert's thread, when a request is asked while the pair alerts: who asked for
    what, and where its card is."""
    return say(
        ":link: ", Person(request.requester), " asked for ", Code(request.operation.value),
        f" on {request.pair} (request ", Code(request.id), ")", *_its_card(link), ".",
    )  # fmt: skip


def ended_under_alert(request: Request, state: RequestState, how: Reply, link: str | None) -> Reply:
    """The alert's thread, when that request ends: how, in the card's words."""
    return say(
        state_emoji(state), " ", Code(request.operation.value), f" on {request.pair} "
        "(request ", Code(request.id), ") ended — ", *how.parts, *_its_card(link),
    )  # fmt: skip
