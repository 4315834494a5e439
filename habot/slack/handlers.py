"""Bolt listeners: acknowledge at once, then call the service and send its reply."""

from __future__ import annotations

import json
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from habot.core.alert_cards import ACKNOWLEDGE, FRESH_STATUS, OPEN_REQUEST
from habot.core.answers import Answer, IncidentAnswer
from habot.core.approvals import RequestAction
from habot.core.asks import OperationRequest
from habot.core.blocks import RAW_ACTION, Form, Message, home_view, render
from habot.core.breakglass import reason_problem
from habot.core.budget import attachment, cut, cut_note, fits, incident_file, overflows
from habot.core.cards import (
    APPROVE,
    APPROVE_FORM,
    BREAK_GLASS,
    CANCEL,
    CLOSE_FORM,
    GLASS_FORM,
    GLASS_REASON,
    REJECT,
    REQUEST_FORM,
    Where,
    from_elsewhere,
)
from habot.core.change import REASON, TICKET
from habot.core.grammar import MUTATING, Sub
from habot.core.model import Role
from habot.core.replies import Code, Link, Reply, failed, plural, refused, say
from habot.core.stepup import PAIR_NAME, name_problem
from habot.core.totp import CODE
from habot.core.unknown import FOUND, RESOLVE, RESOLVE_FORM
from habot.errors import HabotError
from habot.logs import about
from habot.services.alerting import Alerter
from habot.services.commands import CommandService
from habot.services.home import HomeRefresher
from habot.services.operations import OperationService
from habot.services.ports import Caller
from habot.slack.app import after_the_ack
from habot.slack.directory import GroupDirectory
from habot.slack.files import FileSender
from habot.slack.metrics import Metrics
from habot.slack.replies import Replies

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class SlackHandlers:
    """The listeners, with their dependencies handed in once."""

    def __init__(
        self,
        *,
        commands: CommandService,
        operations: OperationService | None,
        directory: GroupDirectory,
        metrics: Metrics,
        command: str,
        pairs: list[str],
        home: HomeRefresher | None = None,
        replies: Replies,
        alerter: Alerter | None = None,
        alert_channel: str | None = None,
        files: FileSender | None = None,
    ) -> None:
        self._files = files
        self._replies = replies
        self._alerter = alerter
        self._alert_channel = alert_channel
        self._home = home
        self._commands = commands
        self._operations = operations
        self._directory = directory
        self._metrics = metrics
        self._command = command
        self._pairs = pairs

    def register(self, app: AsyncApp) -> None:
        """Attach every listener to the Bolt app."""
        app.command(self._command)(self.on_command)
        app.action(RAW_ACTION)(self.on_raw_output)
        app.action(APPROVE)(self.on_request_button)
        app.action(REJECT)(self.on_request_button)
        app.action(CANCEL)(self.on_request_button)
        app.action(FRESH_STATUS)(self.on_alert_button)
        app.action(OPEN_REQUEST)(self.on_alert_button)
        app.action(ACKNOWLEDGE)(self.on_acknowledge)
        app.action(BREAK_GLASS)(self.on_form_button)
        app.action(RESOLVE)(self.on_form_button)
        app.view(RESOLVE_FORM)(self.on_resolve_form)
        app.view(GLASS_FORM)(self.on_glass_form)
        app.view(REQUEST_FORM)(self.on_request_form)
        app.view(CLOSE_FORM)(self.on_close_form)
        app.view(APPROVE_FORM)(self.on_approve_form)
        app.event("app_home_opened")(self.on_home_opened)

    async def on_command(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """`/ha …`: ack within Slack's 3 s, then do the (possibly slow) work — or open the
        form a request needs (with the command's trigger, which lives 3 s)."""
        await ack()
        await after_the_ack()
        user, channel, text = body["user_id"], body.get("channel_id"), body.get("text", "")
        answer = await self._safely("command", self._command_reply(user, channel, text))
        await self._answer(respond, answer, user, client, body.get("trigger_id"))

    async def _answer(
        self,
        respond: AsyncRespond,
        answer: Answer | Form,
        user: str,
        client: AsyncWebClient,
        trigger: str | None,
        home: bool = False,
        **extra: Any,
    ) -> None:
        """Send the answer — or open its form (one opened from App Home is answered in a
        direct message); if Slack will not open it, say how to type it."""
        if isinstance(answer, Form):
            view = _answered_directly(answer.view) if home else answer.view
            try:
                await client.views_open(trigger_id=trigger or "", view=view)
                return
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                why = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
                log.warning("views.open failed: %s", why)
                answer = failed(
                    "Slack did not open the form. Type it in full instead, e.g. ",
                    Code(f'{self._command} switchover PAIR "why" TICKET'), ".",
                )  # fmt: skip
        await self._send(respond, answer, user, client, **extra)

    async def on_raw_output(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
    ) -> None:
        """The "Raw ha-status output" button: show the raw text to the clicker only."""
        await ack()
        reading_id = str(body["actions"][0].get("value", ""))
        user, where = body["user"]["id"], _where(body, context)
        work = self._raw_reply(user, where.channel, reading_id)
        answer = await self._safely("raw_output", _at_home(where, work))
        await self._send(respond, answer, user, replace_original=False)

    async def on_request_button(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        """Approve / Reject / Cancel on an approval card; the clicker gets the answer (Reject
        and Cancel: a form for why, first). The click's workspace is compared with the bot
        token's (``auth.test``, cached by Bolt)."""
        await ack()
        action = body["actions"][0]
        user, where = body["user"]["id"], _where(body, context)
        work = self._request_button(
            action["action_id"], user, where, str(action.get("value")), action.get("block_id", "")
        )
        answer = await self._safely(action["action_id"], work)
        trigger = body.get("trigger_id")
        await self._answer(
            respond, answer, user, client, trigger, where.on_home, replace_original=False
        )

    async def _request_button(
        self, action_id: str, user: str, where: Where, request_id: str, block_id: str
    ) -> Answer | Form:
        if self._operations is None:
            return say("Operations are not enabled in this process.")
        caller = await self._caller(user, where.channel)
        action = {
            APPROVE: RequestAction.APPROVE,
            REJECT: RequestAction.REJECT,
            CANCEL: RequestAction.CANCEL,
        }[action_id]
        with about(user=user, request=request_id):
            log.info("clicked %s on a request's card", action.value)
            if action is RequestAction.APPROVE:
                return await self._operations.click(action, caller, request_id, block_id, where)
            wrong = await self._operations.click_refusal(
                caller, request_id, block_id, where, action.value
            )
            return wrong or await self._operations.closing_form(caller, request_id, action)

    async def on_approve_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A step-up approval's form sent: a wrong name is said in the form and nothing is
        counted; the right one is an approval under the same rules as a click."""
        view = body["view"]
        meta = json.loads(view.get("private_metadata") or "{}")
        typed = _typed(view, PAIR_NAME)
        if self._operations is None or not isinstance(meta.get("pair"), str):
            await ack(response_action="errors", errors={PAIR_NAME: "This form is out of date."})
            return
        if problem := name_problem(meta["pair"], typed):
            await ack(response_action="errors", errors={PAIR_NAME: problem})
            return
        await ack()
        user, channel = body["user"]["id"], str(meta.get("channel", ""))
        code = _typed(view, CODE) or None
        work = self._approved(user, channel, str(meta.get("request", "")), typed, code)
        answer = await self._safely(APPROVE_FORM, work)
        await self._tell_sender(client, meta, user, answer)

    async def _approved(
        self, user: str, channel: str, request_id: str, typed: str, code: str | None
    ) -> Answer:
        assert self._operations is not None
        with about(user=user, request=request_id):
            caller = await self._caller(user, channel)
            return await self._operations.approve(caller, request_id, typed, code)

    async def on_close_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The Reject / Cancel form sent: a missing required reason is said in the form;
        otherwise the request is closed under the same rules as typing `/ha reject|cancel
        ID "why"`, and the answer shown to the sender in the card's channel."""
        view = body["view"]
        meta = json.loads(view.get("private_metadata") or "{}")
        reason = _typed(view, REASON) or None
        if self._operations is None or meta.get("action") not in {"reject", "cancel"}:
            await ack(response_action="errors", errors={REASON: "This form is out of date."})
            return
        if problem := self._operations.closing_problem(reason):
            await ack(response_action="errors", errors={REASON: problem})
            return
        await ack()
        user, channel = body["user"]["id"], str(meta.get("channel", ""))
        sub = Sub.REJECT if meta["action"] == "reject" else Sub.CANCEL
        text = f"{sub.value} {meta.get('request', '')} {reason or ''}"
        answer = await self._safely(CLOSE_FORM, self._command_reply(user, channel, text))
        await self._tell_sender(client, meta, user, answer)

    async def on_form_button(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        """A card's button that opens a form — Break glass (the reason), Resolve (what was
        found): the form (``views.open`` with the click's trigger, which lives 3 s), or —
        when the rules already refuse — why not."""
        await ack()
        action = body["actions"][0]
        user, where = body["user"]["id"], _where(body, context)
        request_id, block_id = str(action.get("value")), action.get("block_id", "")
        work = self._button_form(action["action_id"], user, where, request_id, block_id)
        answer = await self._safely(action["action_id"], work)
        trigger = body.get("trigger_id")
        await self._answer(respond, answer, user, client, trigger, replace_original=False)

    async def _button_form(
        self, action_id: str, user: str, where: Where, request_id: str, block_id: str
    ) -> Answer | Form:
        if self._operations is None:
            return say("Operations are not enabled in this process.")
        caller = await self._caller(user, where.channel)
        wrong = await self._operations.click_refusal(caller, request_id, block_id, where, action_id)
        if wrong is not None:
            return wrong
        opens = {BREAK_GLASS: self._operations.glass_form, RESOLVE: self._operations.resolve_form}
        return await opens[action_id](caller, request_id)

    async def on_glass_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The break-glass form sent: a short reason is refused in the form itself
        (nothing happens); otherwise it is `/ha break-glass ID "reason"` typed in the
        card's channel — the same rules — and the answer is shown to the sender there."""
        view = body["view"]
        reason = _typed(view, GLASS_REASON)
        if problem := reason_problem(reason):
            await ack(response_action="errors", errors={GLASS_REASON: problem})
            return
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        user, channel = body["user"]["id"], str(meta.get("channel", ""))
        text = f"{Sub.BREAK_GLASS.value} {meta.get('request', '')} {reason}"
        answer = await self._safely(GLASS_FORM, self._command_reply(user, channel, text))
        await self._tell_sender(client, meta, user, answer)

    async def on_resolve_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The Resolve form sent: an empty finding is said in the form; otherwise it is
        `/ha resolve ID "what you found"` typed in the card's channel — the same rules —
        and the answer is shown to the sender there."""
        view = body["view"]
        found = _typed(view, FOUND)
        if not found:
            await ack(response_action="errors", errors={FOUND: "Say what you found."})
            return
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        user, channel = body["user"]["id"], str(meta.get("channel", ""))
        text = f"{Sub.RESOLVE.value} {meta.get('request', '')} {found}"
        answer = await self._safely(RESOLVE_FORM, self._command_reply(user, channel, text))
        await self._tell_sender(client, meta, user, answer)

    async def on_request_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A request's form sent: what change control refuses is said in the form itself
        (nothing is created); otherwise the request is made, under the same rules as
        typing it, and the answer shown to the sender in the channel they asked in."""
        view = body["view"]
        meta = json.loads(view.get("private_metadata") or "{}")
        ask = _asked(meta, _typed(view, REASON) or None, _typed(view, TICKET) or None)
        if ask is None:
            await ack(response_action="errors", errors={REASON: "This form is out of date."})
            return
        wrong = self._commands.change_problems(ask)
        if wrong:
            await ack(response_action="errors", errors=wrong)
            return
        await ack()
        user, channel = body["user"]["id"], str(meta.get("channel", ""))
        work = self._submitted(user, channel, ask)
        answer = await self._safely(REQUEST_FORM, work)
        await self._tell_sender(client, meta, user, answer)

    async def _submitted(self, user: str, channel: str, ask: OperationRequest) -> Answer:
        with about(user=user, pair=ask.pair):
            return await self._commands.submit(await self._caller(user, channel), ask)

    async def _tell_sender(
        self, client: AsyncWebClient, meta: dict[str, Any], user: str, answer: Answer | Form
    ) -> None:
        """An answer to a form, shown to its sender in the channel it came from — or, for
        a form opened from their App Home, in their direct messages with habot."""
        if isinstance(answer, Form):  # a form's answer is never another form
            answer = failed("Something went wrong inside habot; it has been logged.")
        message = await self._fitted(answer, user)
        if meta.get(_FROM_HOME):
            await client.chat_postMessage(
                channel=user, text=message.text, blocks=list(message.blocks)
            )
            return
        await client.chat_postEphemeral(
            channel=str(meta.get("channel", "")), user=user, text=message.text,
            blocks=list(message.blocks),
        )  # fmt: skip

    async def on_alert_button(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        """An alert card's buttons are shortcuts for `/ha status PAIR` and `/ha OP PAIR`,
        with the same role checks as typing them (and the same form, when a request needs
        one). A fresh status goes in the alert's thread, where the incident is told."""
        await ack()
        action = body["actions"][0]
        pair = str(action.get("value", ""))
        fresh = action["action_id"] == FRESH_STATUS
        text = f"status {pair}" if fresh else pair
        user, where = body["user"]["id"], _where(body, context)
        work = _at_home(where, self._command_reply(user, where.channel, text))
        answer = await self._safely(action["action_id"], work)
        alert_ts = (body.get("container") or {}).get("message_ts")
        if fresh and not isinstance(answer, Form) and where.channel and alert_ts:
            message = await self._fitted(answer, user)
            if message.in_channel and await self._in_thread(
                client, where.channel, alert_ts, message
            ):
                return
        trigger = body.get("trigger_id")
        await self._answer(respond, answer, user, client, trigger, replace_original=False)

    async def _in_thread(
        self, client: AsyncWebClient, channel: str, ts: str, message: Message
    ) -> bool:
        """Post ``message`` as a reply in the thread of ``ts``; False if Slack would not."""
        try:
            await client.chat_postMessage(
                channel=channel, thread_ts=ts, text=message.text, blocks=list(message.blocks)
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("replying in the alert's thread failed: %s", type(exc).__name__)
            return False
        return True

    async def on_acknowledge(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
    ) -> None:
        """An alert card's Acknowledge button: who is on it goes on the incident, audited."""
        await ack()
        pair = str(body["actions"][0].get("value", ""))
        user, where = body["user"]["id"], _where(body, context)
        work = _at_home(where, self._acknowledged(user, where.channel, pair))
        answer = await self._safely(ACKNOWLEDGE, work)
        await self._send(respond, answer, user, replace_original=False)

    async def _acknowledged(self, user: str, channel: str | None, pair: str) -> Answer:
        if self._alerter is None or pair not in self._pairs:
            return say("There is no such alert to acknowledge.")
        if channel != self._alert_channel:
            return refused("Acknowledge an alert from its card in the alert channel.")
        with about(user=user, pair=pair):
            log.info("acknowledging the open alert")
            return await self._alerter.acknowledge(await self._caller(user, channel), pair)

    async def on_home_opened(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        """Publish the App Home tab."""
        self._metrics.requests.labels("app_home_opened", "ok").inc()
        user = event["user"]
        if self._home is None:
            await client.views_publish(user_id=user, view=home_view(self._pairs, self._command))
        else:
            await self._home.opened(user)

    async def _caller(self, user: str, channel: str | None) -> Caller:
        return Caller(user, channel, await self._directory.roles_of(user))

    async def _command_reply(self, user: str, channel: str | None, text: str) -> Answer | Form:
        with about(user=user):
            return await self._commands.handle(await self._caller(user, channel), text)

    async def _raw_reply(self, user: str, channel: str | None, reading_id: str) -> Answer:
        with about(user=user):
            return await self._commands.raw_output(await self._caller(user, channel), reading_id)

    async def _safely(self, kind: str, work: Coroutine[Any, Any, _T]) -> _T | Reply:
        """Run the work after the ack: a refusal becomes an answer, a bug is logged once."""
        try:
            answer = await work
        except HabotError as exc:
            self._metrics.requests.labels(kind, "refused").inc()
            return failed(str(exc))
        except Exception:
            log.exception("%s failed", kind)
            self._metrics.requests.labels(kind, "error").inc()
            return failed("Something went wrong inside habot; it has been logged.")
        self._metrics.requests.labels(kind, "ok").inc()
        return answer

    async def _fitted(self, answer: Answer, user: str) -> Message:
        """The answer as one Slack message within the budget: long output is cut, and the
        whole of it goes to the asker as a file (the cut message says where); an
        incident's timeline goes as a file into its card's thread."""
        if isinstance(answer, IncidentAnswer):
            return await self._filed_incident(answer, user)
        message = render(answer)
        whole = fits(message)
        if whole and not overflows(answer):
            return message
        file = attachment(answer)
        if file is None or self._files is None:
            return cut(message, cut_note(file, None, "files are not enabled here", whole))
        filed = await self._files.to_person(user, file)
        return cut(message, cut_note(file, filed.link, filed.error, whole))

    async def _filed_incident(self, answer: IncidentAnswer, user: str) -> Message:
        """The timeline into the card's thread (or the asker's DM, when the card is not
        known to Slack), and where it went — or why it could not go."""
        if self._files is None:
            return render(failed(
                "Files are not enabled here: ", Code(f"habot incident export {answer.request_id}"),
                " gives the timeline on habot's host.",
            ))  # fmt: skip
        file = incident_file(answer)
        if answer.thread is not None:
            filed = await self._files.to_thread(*answer.thread, user, file)
        else:
            filed = await self._files.to_person(user, file)
        if filed.link is None:
            return render(failed("Slack did not take the timeline's file (", Code(
                filed.error or "unknown"), f"): `habot incident export {answer.request_id}` "
                "gives it on habot's host."))  # fmt: skip
        where = "its card's thread" if answer.thread else "a file habot sent you"
        return render(say(
            "The timeline of ", Code(answer.request_id), f" ({plural(answer.events, 'event')}, "
            "each with its audit seq and hash — ", Code("habot audit verify --timeline FILE"),
            " checks it) is in ", Link(filed.link, where), ".",
        ))  # fmt: skip

    async def _send(
        self,
        respond: AsyncRespond,
        answer: Answer,
        user: str,
        client: AsyncWebClient | None = None,
        **extra: Any,
    ) -> None:
        """The answer on the click's or command's response_url — or, for a click on App
        Home (a view: Slack sends none), in the clicker's direct messages with habot."""
        message = await self._fitted(answer, user)
        if respond.response_url is None:
            if client is None:
                log.warning("no response_url to answer on; the answer was not sent")
                return
            await client.chat_postMessage(
                channel=user, text=message.text, blocks=list(message.blocks)
            )
            return
        body = {
            "text": message.text,
            "blocks": list(message.blocks),
            "response_type": "in_channel" if message.in_channel else "ephemeral",
            **extra,
        }
        await self._replies.send(respond.response_url, body)


def _asked(meta: dict[str, Any], reason: str | None, ticket: str | None) -> OperationRequest | None:
    """The request a form carries (its metadata as typed, and what was typed into it),
    or None when the metadata is not one habot wrote."""
    try:
        sub = Sub(str(meta["sub"]))
        node = Role(meta["node"]) if meta.get("node") else None
        # Asked for later: the form must not turn it into one that runs at once.
        run_at = datetime.fromisoformat(meta["run_at"]) if meta.get("run_at") else None
    except (KeyError, ValueError, TypeError):
        return None
    if sub not in MUTATING or not isinstance(meta.get("pair"), str):
        return None
    if run_at is not None and run_at.tzinfo is None:
        return None
    override = meta.get("override") if isinstance(meta.get("override"), str) else None
    zone = meta.get("zone") if isinstance(meta.get("zone"), str) else None
    return OperationRequest(sub, meta["pair"], node, override, reason, ticket, run_at, zone)


#: In a form's metadata: it was opened from App Home, so its answer goes by direct message.
_FROM_HOME = "home"


def _answered_directly(view: dict[str, Any]) -> dict[str, Any]:
    """A form opened from App Home: its metadata says so (its answer then goes to the
    sender's direct messages, not to a channel they are not looking at)."""
    meta = json.loads(str(view.get("private_metadata") or "{}"))
    return {**view, "private_metadata": json.dumps({**meta, _FROM_HOME: True})}


def _typed(view: dict[str, Any], block: str) -> str:
    """What was typed into a form's input (one line: a reason is words, not layout)."""
    value = (view.get("state") or {}).get("values", {}).get(block, {}).get(block, {})
    return " ".join(str(value.get("value") or "").split())


def _where(body: dict[str, Any], context: AsyncBoltContext) -> Where:
    """Where a click came from: its channel and workspace, and habot's own workspace (the
    bot token's, from ``auth.test``, cached by Bolt) — for every button alike."""
    return Where(
        channel=(body.get("channel") or {}).get("id"),
        team=(body.get("team") or {}).get("id"),
        home_team=context.authorize_result.team_id if context.authorize_result else None,
        on_home=(body.get("view") or {}).get("type") == "home",
    )


async def _at_home(where: Where, work: Coroutine[Any, Any, _T]) -> _T | Reply:
    """``work``'s answer — unless the click came from another workspace: then it is not
    run (closed, never awaited) and the refusal says why."""
    if elsewhere := from_elsewhere(where):
        work.close()
        log.warning("refused a click from another workspace (%r)", (where.team or "")[:24])
        return refused(elsewhere)
    return await work
