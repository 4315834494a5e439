"""Asking: an operator's request is checked against fresh status and the cooldown, then
opened (one per pair) with its approval card — or refused, saying why."""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Any

from habot.core.alert_cards import asked_under_alert
from habot.core.approvals import CANCELLABLE, Request, RequestState, cooldown_refusal
from habot.core.asks import OperationRequest
from habot.core.change import problems
from habot.core.checks import checks_made
from habot.core.durations import format_duration
from habot.core.freeze import Freeze, frozen_refusal
from habot.core.operations import ROLE_NEUTRAL, Operation, OperationPlan, PreconditionFailed
from habot.core.outbox import Delivery
from habot.core.outcomes import topology
from habot.core.preflight import preflight
from habot.core.replies import Code, Link, Part, Reply, When, failed, plural, refused, say
from habot.core.schedule import deadline, schedule_refusal
from habot.core.verdict import PairStatus
from habot.errors import PairBusy
from habot.logs import about
from habot.services.operations.executing import Execution
from habot.services.operations.stage import Parts, Stage
from habot.services.ports import Caller

log = logging.getLogger(__name__)


class Asking(Stage):
    """Opens requests."""

    def __init__(self, parts: Parts, execution: Execution) -> None:
        super().__init__(parts)
        self._execution = execution

    async def request(self, caller: Caller, ask: OperationRequest) -> Reply:
        """Check an operator's request against fresh status and post its approval card."""
        with about(pair=ask.pair, user=caller.user):
            log.info("asked for %s on %s", ask.sub.value, ask.pair)
            return await self._request(caller, ask)

    async def _request(self, caller: Caller, ask: OperationRequest) -> Reply:
        operation = Operation(ask.sub.value)
        pair = self._settings.pair(ask.pair)
        if wrong := problems(self._change.rule(operation), ask.reason, ask.ticket):
            await self._record(
                "request_refused", caller.user, pair.name, "refused",
                {"operation": operation.value, "reason": " ".join(wrong.values())},
            )  # fmt: skip
            return refused(" ".join(wrong.values()))
        # Asked for later, what matters is the freeze that will hold the pair then.
        freeze = await self._freezes.holding(pair.name, ask.run_at) if self._freezes else None
        command = self._settings.slack.command
        if ask.run_at is not None and (why := schedule_refusal(
            operation, ask.run_at, self._clock(), self._timing, freeze, command
        )):  # fmt: skip
            await self._record(
                "request_refused", caller.user, pair.name, "schedule",
                {"operation": operation.value, "run_at": ask.run_at.isoformat(),
                 "freeze": freeze.id if freeze else None},
            )  # fmt: skip
            return refused(*why)
        if why := frozen_refusal(operation, freeze, ask.override, command):
            await self._record(
                "request_refused", caller.user, pair.name, "frozen",
                {"operation": operation.value, "freeze": freeze.id if freeze else None},
            )  # fmt: skip
            return refused(*why)
        status = await self._status.read_pair(pair)
        try:
            plan = preflight(operation, status, ask.node, pair.procedures)
        except PreconditionFailed as exc:
            await self._record(
                "request_refused",
                caller.user,
                pair.name,
                "refused",
                {"operation": operation.value, "reason": str(exc)},
            )
            return refused(str(exc))
        last_change = await self._requests.last_change(pair.name)
        cooldown = (
            None
            if operation in ROLE_NEUTRAL
            else cooldown_refusal(  # a later one: the cooldown as it will be at its time
                last_change,
                self._settings.approval.cooldown,
                ask.run_at or self._clock(),
                ask.override,
            )
        )
        if cooldown:
            await self._record(
                "request_refused",
                caller.user,
                pair.name,
                "cooldown",
                {"operation": operation.value},
            )
            return refused(*cooldown)
        return await self._open(caller, operation, plan, status, ask, freeze)

    async def _open(
        self,
        caller: Caller,
        operation: Operation,
        plan: OperationPlan,
        status: PairStatus,
        ask: OperationRequest,
        freeze: Freeze | None = None,
    ) -> Reply:
        now = self._clock()
        required = self._policy.required_for(operation)
        alert = await self._alert_of(plan.pair) if self._alert_of else None
        request = Request(
            id=secrets.token_hex(4),
            operation=operation,
            pair=plan.pair,
            node=plan.node,
            requester=caller.user,
            created_at=now,
            expires_at=deadline(ask.run_at, self._timing) if ask.run_at else now + self._policy.ttl,
            required=required,
            # Asked for later with nobody to approve it: it is scheduled as it opens.
            state=RequestState.SCHEDULED if ask.run_at and not required else RequestState.PENDING,
            run_at=ask.run_at,
            snapshot=topology(status),
            override=ask.override,
            reason=ask.reason,
            ticket=ask.ticket,
            checks=checks_made(
                status,
                plan,
                format_duration(self._settings.approval.cooldown),
                ask.override,
                freeze,
            ),
            alert=alert,
        )
        said = self._event(
            "requested", caller.user, plan.pair, request.state.value,
            self._describe(request, plan), node=plan.node.value,
        )  # fmt: skip
        try:
            await self._requests.create(request, caller.channel, plan, said)
        except PairBusy as busy:
            if not await self._make_way(request, busy.open_id):
                return await self._busy(plan.pair, busy.open_id)
            try:
                await self._requests.create(request, caller.channel, plan, said)
            except PairBusy as again:
                return await self._busy(plan.pair, again.open_id)
        self._changed()
        if request.required == 0 and request.run_at is None:
            await self._tell_alert(request, asked_under_alert(request, None))
            return await self._execution.begin(request, plan, caller.user)
        if not caller.channel:
            return say("Request ", Code(request.id), " is open (no channel to post a card in).")
        card = await self._notify.post_card(plan.pair, caller.channel, self._card(request, plan))
        await self._requests.set_card(request.id, caller.channel, card)
        return await self._posted(request, plan, caller.channel, card)

    async def _make_way(self, request: Request, open_id: str) -> bool:
        """An emergency failover (its preflight found the Primary really down) aborts an
        operation scheduled for later on the same pair, saying so on its card and to its
        requester; True when it did. Anything else keeps the pair."""
        held = await self._requests.get(open_id)
        if (
            request.operation is not Operation.FAILOVER
            or held is None
            or held.run_at is None
            or held.state not in CANCELLABLE
        ):
            return False
        words = (f"Aborted: the Primary went down before its time, and an emergency failover "
                 f"was asked for (request {request.id}). Nothing ran.")  # fmt: skip
        said = self._event(
            "aborted", request.requester, held.pair, "aborted",
            {"request": held.id, "detail": words, "failover": request.id},
        )  # fmt: skip
        if not await self._requests.transition(
            held.id, held.state, RequestState.ABORTED, {"outcome": words}, said=said
        ):
            return False
        self._changed()
        await self._refresh_card(held, outcome=words)
        await self._unpage(replace(held, state=RequestState.ABORTED))
        await self._ended(held, RequestState.ABORTED, say(words))
        await self._notify.direct(held.requester, say(
            "Your ", Code(held.operation.value), f" on {held.pair} (request ", Code(held.id),
            ") scheduled ", When(held.run_at), f" was aborted: {words}",
        ))  # fmt: skip
        return True

    async def _busy(self, pair: str, open_id: str) -> Reply:
        """Why a pair with an open request takes no other: what that request is doing, and
        what the asker can do about it."""
        _, card = await self._requests.card(open_id)
        link = await self._notify.link(card) if card is not None else None
        where: tuple[Part, ...] = (" — ", Link(link, "its card")) if link else ()
        held = await self._requests.get(open_id)
        command = self._settings.slack.command
        if held is not None and held.state is RequestState.SCHEDULED and held.run_at:
            return refused(
                Code(held.operation.value), f" is scheduled on {pair} ", When(held.run_at),
                " (request ", Code(held.id), ")", *where, "; one operation per pair at a "
                "time. Its requester or an approver can cancel it with ",
                Code(f"{command} cancel {held.id}"), "; a failover for a Primary that is "
                "really down is still possible, and aborts it.",
            )  # fmt: skip
        if held is not None and held.state is RequestState.UNKNOWN:
            return refused(
                "The outcome of ", Code(held.operation.value), f" on {pair} (request ",
                Code(held.id), *where, f") is unknown, so {pair} is closed to new "
                "operations. Check the pair (", Code(f"{command} status {pair}"),
                "), then an approver says what they found: ",
                Code(f'{command} resolve {held.id} "what you found"'), ".",
            )  # fmt: skip
        if held is not None and held.state is RequestState.EXECUTING:
            return refused(
                Code(held.operation.value), f" is running on {pair} right now (request ",
                Code(held.id), ")", *where, "; one operation per pair at a time. Ask again "
                "once it has finished; ", Code(f"{command} pending"), " lists it until then.",
            )  # fmt: skip
        waiting: tuple[Part, ...] = (
            (" — ", Code(held.operation.value), " waiting for approval") if held else ()
        )
        return refused(
            f"{pair} already has an open request (", Code(open_id), ")", *where, *waiting,
            "; one operation per pair at a time. See ", Code(f"{command} pending"), "; its "
            "requester or an approver can withdraw it with ", Code(f"{command} cancel {open_id}"),
            ".",
        )  # fmt: skip

    async def _posted(
        self, request: Request, plan: OperationPlan, channel: str, card: int
    ) -> Reply:
        """Say where the card is, and tell the approvers — or, if Slack refused it, withdraw
        the request (nobody could approve an invisible card) and say why."""
        fate = await self._notify.settle(card)
        needs: tuple[Part, ...] = (
            f"{plural(request.required, 'approval')} needed before ",
            When(request.expires_at),
        )
        if request.run_at is not None:
            needs = _runs_at(request)
        if fate.state is not Delivery.DEAD:
            await self._tell_alert(request, asked_under_alert(request, fate.link))
            await self._tell_approvers(request, plan, channel, card, fate.link)
        if fate.state is Delivery.SENT:
            where: Part = Link(fate.link, "posted") if fate.link else "posted"
            return say("Request ", Code(request.id), " ", where, ": ", *needs, ".")
        if fate.state is Delivery.QUEUED:
            return say(
                "Request ", Code(request.id), " is open: ", *needs, ". Slack is slow to take "
                "its card; it will appear here as soon as Slack does.",
            )  # fmt: skip
        said = self._event(
            "cancelled", "habot", request.pair, "cancelled",
            {"request": request.id, "reason": f"approval card refused: {fate.error}"},
        )  # fmt: skip
        if await self._requests.transition(
            request.id,
            request.state,
            RequestState.CANCELLED,
            {"outcome": fate.error},
            said=said,
        ):
            self._changed()
        return failed(
            "Request ", Code(request.id), " withdrawn: Slack refused its approval card (",
            Code(str(fate.error)), "), so nobody could approve it. Invite habot to this "
            "channel (", Code("/invite @habot"), ") or ask in a channel it is in.",
        )  # fmt: skip

    async def _tell_approvers(
        self, request: Request, plan: OperationPlan, channel: str, card: int, link: str | None
    ) -> None:
        """Tell whoever should decide: the first escalation level when levels are set,
        else every approver who can act (by direct message) — and page the approvers'
        on-call for an urgent request when [paging] page_approvers is on."""
        if self._escalation.levels:
            await self._ask(request, 0, self._clock())
        elif self._approvers is not None and self._settings.slack.dm_approvers:
            everyone = await self._approvers.who_can_approve()
            if everyone is not None:  # None: "*", everyone may approve — the card's mention
                await self._tell(request, everyone, plan, channel, link)
        if self._pages_at_once(request):
            await self._page_approvers(request, plan, card)

    def _describe(self, request: Request, plan: OperationPlan) -> dict[str, Any]:
        return {
            "request": request.id,
            "operation": request.operation.value,
            "command": plan.command.value,
            "why": plan.why,
            "required": request.required,
            "override": request.override,
            "reason": request.reason,
            "ticket": request.ticket,
            "snapshot": [s.value for s in request.snapshot],
            **({"run_at": request.run_at.isoformat()} if request.run_at else {}),
        }


def _runs_at(request: Request) -> tuple[Part, ...]:
    """When a request asked for later runs, and what it still needs before then."""
    assert request.run_at is not None
    then: tuple[Part, ...] = ("it runs ", When(request.run_at))
    if request.state is RequestState.SCHEDULED:
        return (*then, " (no approval needed), if the pair still looks as it does now")
    return (*then, f" once approved ({plural(request.required, 'approval')} needed, from now until "
            "then), if the pair still looks as it does now")  # fmt: skip
