"""The approval card: what will run, where, why now, on what status, who asked, buttons."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from habot.core.approvals import WAITING, Glass, Request, RequestAction, RequestState
from habot.core.asks import OperationRequest
from habot.core.blocks import (
    VERDICT_EMOJI,
    Block,
    Form,
    Message,
    context,
    escape,
    mention,
    mrkdwn,
    section,
    slack_date,
    text_input,
)
from habot.core.breakglass import MIN_REASON
from habot.core.change import REASON, TICKET, ChangeRule
from habot.core.checks import steps
from habot.core.grammar import MAX_REASON
from habot.core.model import Mark
from habot.core.operations import CONSEQUENCE, Operation, OperationPlan
from habot.core.outcomes import Topology, topology_words
from habot.core.replies import Code, Link, Part, Person, Reply, Room, Strong, When, plural, say
from habot.core.schedule import countdown
from habot.core.stepup import PAIR_NAME, Confirm
from habot.core.totp import CODE
from habot.core.unknown import resolve_button, way_out

APPROVE, REJECT, CANCEL = "approve_request", "reject_request", "cancel_request"
BREAK_GLASS = "break_glass"
_STATE_LINE = {
    RequestState.PENDING: ":hourglass_flowing_sand: Waiting for approval",
    RequestState.SCHEDULED: ":calendar: Approved — scheduled",
    RequestState.EXECUTING: ":gear: Running now",
    RequestState.SUCCEEDED: ":white_check_mark: Succeeded",
    RequestState.FAILED: ":x: Failed",
    RequestState.UNVERIFIED: ":grey_question: Ran, but the result could not be verified",
    RequestState.ABORTED: ":octagonal_sign: Aborted before running",
    RequestState.UNKNOWN: ":warning: Interrupted — outcome unknown, check status",
    RequestState.REJECTED: ":no_entry_sign: Rejected",
    RequestState.CANCELLED: ":heavy_multiplication_x: Cancelled",
    RequestState.EXPIRED: ":alarm_clock: Expired — nothing ran",
    RequestState.RESOLVED: ":ballot_box_with_check: Outcome was unknown — resolved by a person",
}


def approval_card(
    request: Request,
    plan: OperationPlan,
    note: Reply | None = None,
    outcome: str | None = None,
    approvers: Sequence[str] = (),
    asked: str | None = None,
    confirm: Confirm = Confirm.CLICK,
    code: bool = False,
    now: datetime | None = None,
    command: str = "/ha",
) -> Message:
    """The card for a request in its current state; buttons only while it is pending (a
    scheduled one keeps Cancel; an unknown outcome has Resolve and says how to close it),
    and the ``approvers`` named (notified when the card is first posted), who has been
    ``asked`` (the escalation levels), how approving it is ``confirm``ed, and — asked for
    later — when it runs and how long until then (``now``)."""
    verdict, primary, secondary = request.snapshot
    waiting = request.state in WAITING
    blocks: list[Block] = [
        section(
            f"*{request.operation.value}* on *{request.pair}* — runs `{plan.command.value}` on "
            f"the {plan.node} ({plan.address})\n{state_line(request.state)}"
        ),
        section(
            f"*{'Why it is allowed now' if waiting else 'Why it was allowed'}:* {escape(plan.why)}"
        ),
        context(
            f"Judged on: {VERDICT_EMOJI[verdict]} {verdict.label} · Primary {primary.label} · "
            f"Secondary {secondary.label}"
        ),
        context(
            f"Asked by {mention(request.requester)} · request `{request.id}` · {request.tally}"
            + "".join(f" · approved by {mention(a)}" for a in request.approvals)
            + (
                f" · {'or expires' if request.run_at else 'expires'} "
                f"{slack_date(request.expires_at)}"
                if waiting
                else ""
            )
        ),
    ]
    if request.run_at is not None:
        blocks.insert(1, section(_when_it_runs(request, now)))
    if plan.warning:
        blocks.append(section(f":warning: *{plan.warning}*"))
    if request.reason or request.ticket:
        blocks.append(section(_why_asked(request)))
    if request.checks and request.state is RequestState.PENDING:
        blocks.append(section(_checked(request, plan)))
    frozen = next((c for c in request.checks if c.name == "freeze" and c.mark is Mark.WARN), None)
    if frozen is not None and request.state is not RequestState.PENDING:
        blocks.append(
            section(f":snowflake: *Asked during a change freeze:* {escape(frozen.words)}")
        )
    if request.override:
        blocks.append(
            section(f":rotating_light: *Cooldown overridden:* {escape(request.override)}")
        )
    if request.glass:
        blocks.append(section(_glass_line(request.glass)))
    if note:
        blocks.append(section(mrkdwn(note)))
    if outcome:  # the run's words carry appliance and error text
        blocks.append(section(escape(outcome)))
    text = f"{request.operation.value} {request.pair}: {request.state.value}"
    if request.state is RequestState.SCHEDULED:
        blocks.append(_cancel_only(request))
    if request.state is RequestState.UNKNOWN:
        blocks += [section(way_out(request, command)), resolve_button(request)]
    if _code_handed_out(request):
        blocks.append(context(
            f":key: The joining code was shown once, only to {mention(request.requester)}, "
            f"and is stored nowhere. {_ask_again(request, command)}"
        ))  # fmt: skip
    if request.state is RequestState.PENDING:
        blocks.append(_buttons(request, plan, confirm))
        if confirm is Confirm.TYPE_PAIR_NAME:
            step = f":lock: Step-up: approving asks the approver to type *{request.pair}*"
            with_code = " and the code from their authenticator app" if code else ""
            blocks.append(context(f"{step}{with_code} in a form that shows what will happen."))
        if approvers:
            named = ", ".join(mention(a) for a in approvers)
            blocks.append(context(f"Approvers: {named}"))
            text = f"{named} {text}"
        if asked:  # who the escalation levels have asked, and who is next
            blocks.append(context(asked))
    return Message(text, tuple(blocks), in_channel=True)


def _code_handed_out(request: Request) -> bool:
    return request.operation is Operation.JOINING_CODE and request.state is RequestState.SUCCEEDED


def _ask_again(request: Request, command: str) -> str:
    return f"Not seen it? Ask again: `{command} joining-code {request.pair}`."


def outcome_told(
    request: Request, state: RequestState, words: str, link: str | None, command: str
) -> Reply:
    """The direct message that tells the requester how their request ended (kept in their
    DM with habot, unlike an ephemeral), with a link to its card; for a joining code, how
    to get one again (the code itself went once, to them only, and is stored nowhere)."""
    card: tuple[Part, ...] = (" (", Link(link, "its card"), ")") if link else ()
    again = replace(request, state=state)
    missed: tuple[Part, ...] = (
        (" The code was shown to you once, in the channel, and is stored nowhere. ",
         Code(f"{command} joining-code {request.pair}"), " asks for a new one if you "
         "missed it.") if _code_handed_out(again) else ()
    )  # fmt: skip
    return say("Your ", Code(request.operation.value), f" on {request.pair}: {words}", *card,
               *missed)  # fmt: skip


@dataclass(frozen=True)
class Where:
    """Where a click came from: its channel and workspace, the workspace habot is
    installed in (the bot token's, from ``auth.test``), and whether it came from the
    clicker's App Home (a view only habot publishes, to that person alone)."""

    channel: str | None
    team: str | None
    home_team: str | None
    on_home: bool = False


def from_elsewhere(click: Where) -> str | None:
    """Why a click on any of habot's buttons is refused for its workspace (None when it
    comes from the one habot is installed in): habot's cards act only there."""
    if click.home_team is None or click.team != click.home_team:
        return (
            "That click came from another workspace than the one habot serves; "
            "habot's buttons act only in its own workspace."
        )
    return None


def click_mismatch(
    request_id: str,
    block_id: str,
    click: Where,
    card_channel: str | None,
) -> str | None:
    """Why a button click does not belong to the card of ``request_id`` (None when it
    does): it must come from the workspace habot is installed in and that request's
    buttons — on its card, in the channel the card lives in, or on the clicker's Home."""
    if elsewhere := from_elsewhere(click):
        return elsewhere
    if not block_id.startswith(f"request-{request_id}-"):
        return "That click does not match the card it came from; nothing was counted."
    if click.on_home and click.channel is None:
        return None
    if card_channel is None or click.channel != card_channel:
        return (
            f"Request {request_id}'s card lives in another channel; act on it there "
            "(or type the command where the card is)."
        )
    return None


def _checked(request: Request, plan: OperationPlan) -> str:
    """What habot checked and the steps it will take (while it waits for approval)."""
    lines = [escape(c.line) for c in request.checks]
    numbered = [f"{n}. {escape(step)}" for n, step in enumerate(steps(plan), 1)]
    return (
        "*What habot checked* (necessary, not sufficient: you judge the rest)\n"
        + "\n".join(lines)
        + "\n*Then it will:*\n"
        + "\n".join(numbered)
    )


def _why_asked(request: Request) -> str:
    """The requester's reason and change ticket, as typed (escaped)."""
    parts = [f"*Reason:* {escape(request.reason)}"] if request.reason else []
    parts += [f"*Ticket:* `{escape(request.ticket)}`"] if request.ticket else []
    return " · ".join(parts)


def _glass_line(glass: Glass) -> str:
    """The card's mark of a break-glass: the review owed, or who reviewed it."""
    broke = (
        f"{mention(glass.by)} ran it without a second approver {slack_date(glass.at)}: "
        f"{escape(glass.reason)}"
    )
    if glass.owed:
        return f":rotating_light: *Break-glass — review owed.* {broke}"
    assert glass.reviewed_at is not None
    assert glass.reviewed_by is not None
    return (
        f":rotating_light: *Break-glass — reviewed* by {mention(glass.reviewed_by)} "
        f"{slack_date(glass.reviewed_at)}: {escape(glass.review or '')}\n{broke}"
    )


def _glass_button(request: Request, plan: OperationPlan) -> dict[str, object]:
    """Offered to the requester once break-glass is possible (the click opens a form for
    the reason; the rules are checked again when it is sent)."""
    return {
        "type": "button",
        "action_id": BREAK_GLASS,
        "style": "danger",
        "value": request.id,
        "text": {"type": "plain_text", "text": "Break glass (requester)"},
        "confirm": {
            "title": {"type": "plain_text", "text": "Break glass?"},
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"Run `{plan.command.value}` on *{request.pair}* {plan.node} without a "
                    "second approver. habot reads both nodes again first and runs it only if "
                    "the Primary is down in both nodes' words. Every approver is told, and "
                    "an approver must review it afterwards. You give the reason next."
                ),
            },
            "confirm": {"type": "plain_text", "text": "Give the reason"},
            "deny": {"type": "plain_text", "text": "Keep waiting"},
            "style": "danger",
        },
    }


def state_line(state: RequestState) -> str:
    """How a request's state reads on its card and on Home (an emoji and words)."""
    return _STATE_LINE[state]


def state_emoji(state: RequestState) -> str:
    """The emoji of a request's state, for a line whose words already say it."""
    return _STATE_LINE[state].split(" ", 1)[0]


_LABELS = {
    RequestAction.APPROVE: "Approve",
    RequestAction.REJECT: "Reject",
    RequestAction.CANCEL: "Cancel (requester)",
}
_ACTION_IDS = {
    RequestAction.APPROVE: APPROVE,
    RequestAction.REJECT: REJECT,
    RequestAction.CANCEL: CANCEL,
}


def decision_buttons(
    request: Request,
    plan: OperationPlan,
    confirm: Confirm = Confirm.CLICK,
    actions: Sequence[RequestAction] | None = None,
) -> Block:
    """Approve / Reject / Cancel of a pending request: the card's (all three, for
    everyone: Cancel says whose it is) and Home's (only ``actions``, those its viewer may
    take) alike — the same ids, the same block id, the same confirm dialog."""
    dialog = {
        "title": {"type": "plain_text", "text": "Approve this operation?"},
        "text": {
            "type": "mrkdwn",
            "text": f"Run `{plan.command.value}` on *{request.pair}* {plan.node} ({plan.address})."
            + (f"\n:warning: {plan.warning}" if plan.warning else ""),
        },
        "confirm": {"type": "plain_text", "text": "Approve and run"},
        "deny": {"type": "plain_text", "text": "Not yet"},
        "style": "danger",
    }
    elements: list[dict[str, object]] = []
    for action in (a for a in RequestAction if actions is None or a in actions):
        label = _LABELS[action] if actions is None else action.value.capitalize()
        button: dict[str, object] = {
            "type": "button",
            "action_id": _ACTION_IDS[action],
            "value": request.id,
            "text": {"type": "plain_text", "text": label},
        }
        if action is RequestAction.APPROVE:
            button["style"] = "primary"
            if confirm is Confirm.CLICK:
                button["confirm"] = dialog
        elements.append(button)
    return {
        "type": "actions",
        "block_id": f"request-{request.id}-{len(request.approvals)}",
        "elements": elements,
    }


def _buttons(request: Request, plan: OperationPlan, confirm: Confirm = Confirm.CLICK) -> Block:
    block = decision_buttons(request, plan, confirm)
    if request.offered:
        block = {**block, "elements": [*block["elements"], _glass_button(request, plan)]}
    return block


def _when_it_runs(request: Request, now: datetime | None) -> str:
    """A request asked for later: when it runs, how long until then, and what happens then."""
    assert request.run_at is not None
    left = f" ({countdown(request.run_at, now)})" if now is not None else ""
    at = f"{slack_date(request.run_at, seconds=request.run_at.second != 0)}{left}"
    if request.state is RequestState.PENDING:
        return (f":calendar: *Runs {at}* once approved. At that time habot reads both nodes "
                "again and runs it only if the pair still looks as it does here.")  # fmt: skip
    if request.state is RequestState.SCHEDULED:
        return (f":calendar: *Runs {at}*, if the pair still looks as it did when approved "
                "and no freeze holds it then. It never runs late: past its window it "
                "expires.")  # fmt: skip
    return f":calendar: Was scheduled for {at}."


def _cancel_only(request: Request) -> Block:
    """The one button a scheduled request keeps: its requester or an approver cancels it."""
    return {
        "type": "actions",
        "block_id": f"request-{request.id}-{len(request.approvals)}",
        "elements": [{
            "type": "button", "action_id": CANCEL, "value": request.id,
            "text": {"type": "plain_text", "text": "Cancel"},
        }],
    }  # fmt: skip


def before_after(before: Topology, after: Topology | None) -> str:
    """A before/after comparison line for the finished card."""
    return (
        f"*Before:* {topology_words(before)} · "
        f"*After:* {topology_words(after) if after else 'could not be read'}"
    )


def expired_note(now: datetime, request: Request | None = None) -> Reply:
    """What an expired card says: nobody approved in time — or, for one approved and
    scheduled, that its run window passed without a run (it never runs late)."""
    if request is not None and request.state is RequestState.SCHEDULED and request.run_at:
        return say(
            "Its time (", When(request.run_at), ") passed while habot could not start it, "
            "and its run window ended ", When(request.expires_at), ": expired ", When(now),
            ". Nothing was run; it never runs late. Ask again for a new time.",
        )  # fmt: skip
    return say("Nobody approved before the deadline; closed ", When(now), ". Nothing was run.")


def _people(users: Sequence[str]) -> list[Part]:
    """People named one after another: "@A, @B"."""
    named: list[Part] = []
    for n, user in enumerate(users):
        named += [", ", Person(user)] if n else [Person(user)]
    return named


def run_reminder(request: Request, approvers: Sequence[str], command: str = "/ha") -> Reply:
    """The reminder in a scheduled request's thread shortly before its time, naming its
    requester and its approvers (or, not yet approved, who may still approve it)."""
    assert request.run_at is not None
    asked: tuple[Part, ...] = (" Asked by ", Person(request.requester))
    if request.state is RequestState.SCHEDULED:
        approved = _people(request.approvals)
        return say(
            ":calendar: Reminder: ", Code(request.operation.value), f" on {request.pair} "
            "runs ", When(request.run_at), ".", *asked, ", approved by ",
            *(approved or ["nobody (none needed)"]), ". habot reads both nodes first and "
            "runs it only if the pair still looks as approved. Not wanted any more? ",
            Code(f"{command} cancel {request.id}"), ".",
        )  # fmt: skip
    named = _people(approvers)
    return say(
        ":calendar: Reminder: ", Code(request.operation.value), f" on {request.pair} is due ",
        When(request.run_at), f" but still needs {plural(request.missing, 'approval')}.", *asked,
        *((". Approvers: ", *named) if named else ()), ". Without approval by ",
        When(request.expires_at), " it expires and nothing runs.",
    )  # fmt: skip


def approver_note(request: Request, plan: OperationPlan, channel: str, link: str | None) -> Reply:
    """The direct message each approver gets when a request opens: what, who, by when,
    and where to decide (the card itself, never the DM: its buttons carry the checks)."""
    card: tuple[Part, ...] = (Link(link, "its card"), " in ", Room(channel)) if link else (
        "its card in ", Room(channel),
    )  # fmt: skip
    return say(
        Person(request.requester), " asks for ", Code(request.operation.value), " on ",
        Strong(request.pair), f" (runs {plan.command.value} on the {plan.node}); request ",
        Code(request.id), f" needs {plural(request.required, 'approval')} before ",
        When(request.expires_at), ".", *_said(request), " Approve or reject it on ", *card, ".",
    )  # fmt: skip


def _said(request: Request) -> tuple[Part, ...]:
    """The reason and ticket, for a direct message (user text: shown, never a mention)."""
    parts: tuple[Part, ...] = (f" Reason: {request.reason}.",) if request.reason else ()
    return parts + ((" Ticket: ", Code(request.ticket), ".") if request.ticket else ())


#: The break-glass form: its callback id and its reason input's block and action ids.
GLASS_FORM, GLASS_REASON = "break_glass_form", "reason"


def glass_form(request: Request, channel: str) -> Form:
    """The modal the Break glass button opens: what it does, and the reason (checked again
    when sent). ``private_metadata`` carries which request and the card's channel."""
    return Form(
        {
            "type": "modal",
            "callback_id": GLASS_FORM,
            "private_metadata": json.dumps({"request": request.id, "channel": channel}),
            "title": {"type": "plain_text", "text": "Break glass"},
            "submit": {"type": "plain_text", "text": "Run the failover"},
            "close": {"type": "plain_text", "text": "Keep waiting"},
            "blocks": [
                section(
                    f"*{request.operation.value}* on *{request.pair}* (request `{request.id}`) "
                    "runs without a second approver. habot reads both nodes first and runs it "
                    "only if the Primary is down in both nodes' words. Every approver is told, "
                    "and one of them must review it."
                ),
                {
                    "type": "input",
                    "block_id": GLASS_REASON,
                    "label": {"type": "plain_text", "text": "Why it cannot wait"},
                    "hint": {
                        "type": "plain_text",
                        "text": f"At least {MIN_REASON} characters: the incident and what you saw.",
                    },
                    "element": {
                        "type": "plain_text_input",
                        "action_id": GLASS_REASON,
                        "multiline": True,
                        "min_length": MIN_REASON,
                        "max_length": MAX_REASON,
                    },
                },
            ],
        }
    )


#: The request form's callback id.
REQUEST_FORM = "request_form"


def request_form(ask: OperationRequest, rule: ChangeRule, channel: str) -> Form:
    """The form a request opens when it lacks what change control asks for: what the
    operation does, and its reason and change ticket (checked again when sent).
    ``private_metadata`` carries the rest of the request as typed, and its channel."""
    meta = {"sub": ask.sub.value, "pair": ask.pair, "node": ask.node.value if ask.node else None,
            "override": ask.override, "channel": channel}  # fmt: skip
    if ask.run_at is not None:  # asked for later: sent, it must still be for then
        meta |= {"run_at": ask.run_at.isoformat(), "zone": ask.zone}
    blocks: list[Block] = [
        section(f"*{ask.sub.value}* on *{ask.pair}*: {CONSEQUENCE[Operation(ask.sub.value)]}"
                + (f"\n:calendar: Runs {slack_date(ask.run_at)} once approved."
                   if ask.run_at else "")),
        text_input(REASON, "Why", "What this change is for, and why now.", ask.reason,
                    optional=not rule.reason_required, multiline=True),
    ]  # fmt: skip
    if rule.ticket_pattern is not None:
        hint = f"It must match {rule.ticket_pattern}"
        blocks.append(text_input(TICKET, "Change ticket", hint, ask.ticket, optional=False))
    return Form({
        "type": "modal",
        "callback_id": REQUEST_FORM,
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": f"Ask: {ask.sub.value}"[:24]},
        "submit": {"type": "plain_text", "text": "Ask for approval"},
        "close": {"type": "plain_text", "text": "Not now"},
        "blocks": blocks,
    })  # fmt: skip


#: The reject/cancel form's callback id.
CLOSE_FORM = "close_form"
_CLOSING = {
    RequestAction.REJECT: ("Reject request", "Reject", "Why reject it?"),
    RequestAction.CANCEL: ("Cancel request", "Cancel it", "Why cancel it?"),
}


def closing_form(request: Request, action: RequestAction, required: bool, channel: str) -> Form:
    """The form Reject or Cancel opens: which request, and why (told to the requester)."""
    title, submit, label = _CLOSING[action]
    meta = {"request": request.id, "action": action.value, "channel": channel}
    return Form({
        "type": "modal",
        "callback_id": CLOSE_FORM,
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Keep it"},
        "blocks": [
            section(f"*{request.operation.value}* on *{request.pair}* (request `{request.id}`), "
                    f"asked by {mention(request.requester)}."),
            text_input(REASON, label, "Told to the requester and kept in the audit.", None,
                        optional=not required, multiline=True),
        ],
    })  # fmt: skip


def pinned_note(by: str, words: str) -> Reply:
    """A note someone pinned to a request's timeline, as its threads show it."""
    return say(":pushpin: Note from ", Person(by), f": {words}")


def closed_note(state: RequestState, by: str, reason: str | None) -> Reply:
    """The card's line when a request is rejected or cancelled: by whom, and why."""
    done = "Rejected" if state is RequestState.REJECTED else "Cancelled"
    return say(f"{done} by ", Person(by), *((": ", reason) if reason else (".",)))


def told_requester(request: Request, state: RequestState, by: str, reason: str | None) -> Reply:
    """The direct message a requester gets when someone else closes their request."""
    done = "rejected" if state is RequestState.REJECTED else "cancelled"
    why: tuple[Part, ...] = (": ", reason) if reason else (" (no reason given).",)
    return say(
        "Your ", Code(request.operation.value), f" on {request.pair} (request ",
        Code(request.id), f") was {done} by ", Person(by), *why,
    )  # fmt: skip


#: The step-up approval form's callback id.
APPROVE_FORM = "approve_form"


def approval_form(request: Request, plan: OperationPlan, channel: str, code: bool) -> Form:
    """The form a step-up Approve opens: exactly what will happen, the pair's name to type
    (and, with ``code``, the approver's authenticator code). ``private_metadata`` carries
    the request and the card's channel."""
    meta = {"request": request.id, "pair": request.pair, "channel": channel}
    what = (
        f"*{request.operation.value}* on *{request.pair}*: runs `{plan.command.value}` on the "
        f"{plan.node} ({plan.address}) — {CONSEQUENCE[request.operation]}"
    )
    blocks: list[Block] = [section(what)]
    if plan.warning:
        blocks.append(section(f":warning: *{plan.warning}*"))
    blocks.append({
        "type": "input", "block_id": PAIR_NAME,
        "label": {"type": "plain_text", "text": f"Type {request.pair} to approve"[:2000]},
        "hint": {"type": "plain_text", "text": "The pair's name, exactly: a slip changes nothing."},
        "element": {"type": "plain_text_input", "action_id": PAIR_NAME, "max_length": 64},
    })  # fmt: skip
    if code:
        blocks.append({
            "type": "input", "block_id": CODE,
            "label": {"type": "plain_text", "text": "Code from your authenticator app"},
            "element": {"type": "plain_text_input", "action_id": CODE, "max_length": 10},
        })  # fmt: skip
    return Form({
        "type": "modal", "callback_id": APPROVE_FORM, "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "Approve"},
        "submit": {"type": "plain_text", "text": "Approve and run"},
        "close": {"type": "plain_text", "text": "Not yet"},
        "blocks": blocks,
    })  # fmt: skip
