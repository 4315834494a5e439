"""An operation whose outcome is unknown: the way out on its card (the Resolve button and
the typed command), the words that tell the approvers, and the Resolve form.

The pair stays closed to operations until a person checks it and says what they found;
these are the words that make that the obvious next step rather than a hint shown only
to whoever asks for another operation."""

from __future__ import annotations

import json
from collections.abc import Sequence

from habot.core.approvals import Request
from habot.core.blocks import Block, Form, section, text_input
from habot.core.replies import Code, Link, Part, Person, Reply, Strong, Tone, say

#: The card's Resolve button; the form it opens and that form's one field.
RESOLVE, RESOLVE_FORM, FOUND = "resolve_request", "resolve_form", "found"


def typed(request: Request, command: str) -> str:
    """The command that resolves it, as a person types it."""
    return f'{command} resolve {request.id} "what you found"'


def way_out(request: Request, command: str) -> str:
    """The card's section that says how the request is closed (mrkdwn)."""
    return (
        f":mag: *To close it:* check *{request.pair}* first (`{command} status "
        f"{request.pair}`, and the node's own console if it is in doubt), then press "
        f"*Resolve* and say what you found — or type `{typed(request, command)}`. Until "
        f"then habot runs no other operation on {request.pair}."
    )


def resolve_button(request: Request) -> Block:
    """The actions block of an unknown request's card: Resolve (approvers; the form asks
    what they found)."""
    return {
        "type": "actions",
        "block_id": f"request-{request.id}-resolve",
        "elements": [{
            "type": "button", "action_id": RESOLVE, "value": request.id, "style": "primary",
            "text": {"type": "plain_text", "text": "Resolve"},
        }],
    }  # fmt: skip


def resolve_form(request: Request, channel: str) -> Form:
    """The modal the Resolve button opens: which request, and what the person found
    (kept in the audit, shown on the card). ``private_metadata`` carries the request and
    the card's channel."""
    return Form({
        "type": "modal",
        "callback_id": RESOLVE_FORM,
        "private_metadata": json.dumps({"request": request.id, "channel": channel}),
        "title": {"type": "plain_text", "text": "Resolve request"},
        "submit": {"type": "plain_text", "text": "Resolve"},
        "close": {"type": "plain_text", "text": "Not yet"},
        "blocks": [
            section(f"*{request.operation.value}* on *{request.pair}* (request "
                    f"`{request.id}`) ended with its outcome unknown. Resolving it opens "
                    f"{request.pair} to operations again: check the pair first."),
            text_input(FOUND, "What you found", "The state of both nodes as you checked it, "
                       "and whether the operation took effect.", None, optional=False,
                       multiline=True),
        ],
    })  # fmt: skip


def approvers_called(request: Request, words: str, approvers: Sequence[str], command: str) -> Reply:
    """The card's thread reply that names the approvers (a mention notifies them)."""
    named: list[Part] = []
    for n, entry in enumerate(approvers):
        named += [", ", Person(entry)] if n else [Person(entry)]
    return say(
        *named, *((": ",) if named else ()), Code(request.operation.value),
        f" on {request.pair} (request ", Code(request.id), f") needs an approver. {words} "
        "Check the pair, then press ",
        Strong("Resolve"), " on the card or type ", Code(typed(request, command)), ".",
        tone=Tone.WARNING,
    )  # fmt: skip


def approver_dm(request: Request, words: str, link: str | None, command: str) -> Reply:
    """The direct message every approver gets when an outcome is unknown."""
    card: tuple[Part, ...] = (" (", Link(link, "its card"), ")") if link else ()
    return say(
        Code(request.operation.value), f" on {request.pair} (request ", Code(request.id),
        ", asked by ", Person(request.requester), ") needs an approver", *card,
        f". {words} {request.pair} stays closed to operations until an approver checks it "
        "and resolves it: ", Code(typed(request, command)), ".",
        tone=Tone.WARNING,
    )  # fmt: skip
