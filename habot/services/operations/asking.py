"""Asking: an operator's request is checked against fresh status and the cooldown, then
opened (one per pair) with its approval card — or refused, saying why."""

from __future__ import annotations

import secrets
from typing import Any

from habot.core.approvals import Request, RequestState, cooldown_refusal
from habot.core.asks import OperationRequest
from habot.core.blocks import Message, escape, text_message
from habot.core.cards import approval_card
from habot.core.operations import (
    ROLE_NEUTRAL,
    Operation,
    OperationPlan,
    PreconditionFailed,
    preflight,
    topology,
)
from habot.core.outbox import Delivery
from habot.core.verdict import PairStatus
from habot.errors import PairBusy
from habot.services.operations.executing import Execution
from habot.services.operations.stage import Parts, Stage
from habot.services.ports import Caller


class Asking(Stage):
    """Opens requests."""

    def __init__(self, parts: Parts, execution: Execution) -> None:
        super().__init__(parts)
        self._execution = execution

    async def request(self, caller: Caller, ask: OperationRequest) -> Message:
        """Check an operator's request against fresh status and post its approval card."""
        operation = Operation(ask.sub.value)
        pair = self._settings.pair(ask.pair)
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
            return text_message(f":no_entry: {escape(str(exc))}")
        last_change = await self._requests.last_change(pair.name)
        cooldown = (
            None
            if operation in ROLE_NEUTRAL
            else cooldown_refusal(
                last_change, self._settings.approval.cooldown, self._clock(), ask.override
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
            return text_message(f":no_entry: {cooldown}")
        return await self._open(caller, operation, plan, status, ask.override)

    async def _open(
        self,
        caller: Caller,
        operation: Operation,
        plan: OperationPlan,
        status: PairStatus,
        override: str | None,
    ) -> Message:
        now = self._clock()
        request = Request(
            id=secrets.token_hex(4),
            operation=operation,
            pair=plan.pair,
            node=plan.node,
            requester=caller.user,
            created_at=now,
            expires_at=now + self._policy.ttl,
            required=self._policy.required_for(operation),
            snapshot=topology(status),
            override=override,
        )
        said = self._event(
            "requested", caller.user, plan.pair, "pending", self._describe(request, plan),
            node=plan.node.value,
        )  # fmt: skip
        try:
            await self._requests.create(request, caller.channel, plan, said)
        except PairBusy as busy:
            _, card = await self._requests.card(busy.open_id)
            link = await self._notify.link(card) if card is not None else None
            where = f" — <{link}|its card>" if link else ""
            held = await self._requests.get(busy.open_id)
            if held is not None and held.state is RequestState.UNKNOWN:
                return text_message(
                    f":no_entry: The outcome of `{held.operation.value}` on {plan.pair} (request "
                    f"`{held.id}`{where}) is unknown, so {plan.pair} is closed to new operations. "
                    f"Check the pair (`{self._settings.slack.command} status {plan.pair}`), then "
                    f"an approver says what they found: `{self._settings.slack.command} resolve "
                    f'{held.id} "what you found"`.'
                )
            return text_message(
                f":no_entry: {plan.pair} already has an open request (`{busy.open_id}`){where}; "
                f"one operation per pair at a time. See `{self._settings.slack.command} pending`."
            )
        self._changed()
        if request.required == 0:
            return await self._execution.begin(request, plan, caller.user)
        if not caller.channel:
            return text_message(f"Request `{request.id}` is open (no channel to post a card in).")
        card = await self._notify.post_card(plan.pair, caller.channel, approval_card(request, plan))
        await self._requests.set_card(request.id, caller.channel, card)
        return await self._posted(request, card, caller.user)

    async def _posted(self, request: Request, card: int, user: str) -> Message:
        """Say where the card is — or, if Slack refused it, withdraw the request (nobody
        could approve an invisible card) and say why."""
        fate = await self._notify.settle(card)
        needs = f"{request.required} approval(s) needed before {request.expires_at:%H:%M} UTC"
        if fate.state is Delivery.SENT:
            where = f"<{fate.link}|posted>" if fate.link else "posted"
            return text_message(f"Request `{request.id}` {where}: {needs}.")
        if fate.state is Delivery.QUEUED:
            return text_message(
                f"Request `{request.id}` is open: {needs}. Slack is slow to take its card; "
                "it will appear here as soon as Slack does."
            )
        said = self._event(
            "cancelled", "habot", request.pair, "cancelled",
            {"request": request.id, "reason": f"approval card refused: {fate.error}"},
        )  # fmt: skip
        if await self._requests.transition(
            request.id,
            RequestState.PENDING,
            RequestState.CANCELLED,
            {"outcome": fate.error},
            said=said,
        ):
            self._changed()
        return text_message(
            f":x: Request `{request.id}` withdrawn: Slack refused its approval card "
            f"(`{fate.error}`), so nobody could approve it. Invite habot to this channel "
            f"(`/invite @habot`) or ask in a channel it is in."
        )

    def _describe(self, request: Request, plan: OperationPlan) -> dict[str, Any]:
        return {
            "request": request.id,
            "operation": request.operation.value,
            "command": plan.command.value,
            "why": plan.why,
            "required": request.required,
            "override": request.override,
            "snapshot": [s.value for s in request.snapshot],
        }
