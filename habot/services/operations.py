"""Mutating operations: request → preflight → approve → execute → verify → notify.

Exactly once: every state change is a compare-and-set in the database, so double clicks,
retries and other replicas lose the race and are told so. An execution interrupted by a
crash is marked ``unknown`` at the next start and never re-run.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from habot.config import Settings
from habot.core.alerts import Announced, shape
from habot.core.approvals import (
    ApprovalPolicy,
    Request,
    RequestAction,
    RequestState,
    Ruling,
    cooldown_refusal,
    judge,
)
from habot.core.audit import AuditEvent, digest
from habot.core.blocks import Message, escape, text_message
from habot.core.cards import (
    Where,
    approval_card,
    before_after,
    click_mismatch,
    expired_note,
)
from habot.core.catalogue import HaCommand, ha_command
from habot.core.grammar import OperationRequest
from habot.core.model import Role
from habot.core.operations import (
    ROLE_NEUTRAL,
    SECRET_OUTPUT,
    Operation,
    OperationPlan,
    Outcome,
    PreconditionFailed,
    preflight,
    topology,
    topology_change,
    verify_outcome,
)
from habot.core.outbox import Delivery, Fate
from habot.core.prompts import joining_code_in
from habot.core.results import CommandResult
from habot.core.verdict import PairStatus, serving_changed
from habot.errors import (
    CommandTimedOut,
    ConnectionLostError,
    NodeError,
    OwnershipLost,
    PairBusy,
    StoreBusy,
    UnexpectedPrompt,
)
from habot.services.background import Background
from habot.services.leader import replica_id
from habot.services.ports import AuditLog, Caller, Clock, CommandRunner, Requests
from habot.services.status import StatusService

log = logging.getLogger(__name__)
_OUTCOME_STATE = {
    Outcome.SUCCEEDED: RequestState.SUCCEEDED,
    Outcome.FAILED: RequestState.FAILED,
    Outcome.UNVERIFIED: RequestState.UNVERIFIED,
}
PROGRESS_EVERY = 3.0  # seconds between progress posts in the card's thread
DURABLE_FOR = 60.0  # seconds of quick retries of a must-not-be-lost write; then slower
_T = TypeVar("_T")


class Notifier(Protocol):
    """Where operation messages go. Cards are named by the handle ``post_card`` returns;
    in production every message but a secret goes through the outbox, so a Slack outage
    delays them and loses none."""

    async def post_card(self, pair: str, channel: str, message: Message) -> int:
        """Post a card in the channel; return its handle."""
        ...

    async def update_card(
        self, pair: str, channel: str, card: int, message: Message, version: int
    ) -> None:
        """Replace a card in place with ``message``, which shows its request at
        ``version``; an update older than one the card already got is dropped."""
        ...

    async def thread(self, pair: str, channel: str, card: int, text: str) -> None:
        """Add a reply in the card's thread."""
        ...

    async def tell(self, pair: str, channel: str, user: str, text: str) -> None:
        """Tell one person something only they see."""
        ...

    async def tell_secret(self, channel: str, user: str, text: str) -> None:
        """Tell one person a secret: sent at once and never stored anywhere."""
        ...

    async def link(self, card: int) -> str | None:
        """A link to the card once Slack has it, else None."""
        ...

    async def settle(self, card: int) -> Fate:
        """Wait briefly for the card's delivery: sent, set aside, or still queued."""
        ...


def approval_policy(settings: Settings) -> ApprovalPolicy:
    """The configured approval policy."""
    a = settings.approval
    return ApprovalPolicy(
        ttl=a.ttl,
        required=a.required,
        per_operation={Operation(k): v.required for k, v in a.operations.items()},
    )


class OperationService:
    """Carries mutating operations through four-eyes approval to a verified result."""

    def __init__(
        self,
        *,
        settings: Settings,
        status: StatusService,
        runner: CommandRunner,
        requests: Requests,
        audit: AuditLog,
        notifier: Notifier,
        clock: Clock,
        on_change: Callable[[], None] | None = None,
        replica: str | None = None,
        alive: Callable[[str], Awaitable[bool]] | None = None,
        announce: Callable[[str, Announced], Awaitable[None]] | None = None,
        on_busy: Callable[[], None] | None = None,
        background: Background | None = None,
    ) -> None:
        self._background = background or Background()
        self._on_busy = on_busy
        self._announce = announce
        self._replica = replica or replica_id()  # unique per process unless given
        self._alive = alive
        self._on_change = on_change
        self._settings = settings
        self._status = status
        self._runner = runner
        self._requests = requests
        self._audit = audit
        self._notify = notifier
        self._clock = clock
        self._policy = approval_policy(settings)

    # -- asking -------------------------------------------------------------------------

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
            return await self._start(request, plan, caller.user)
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

    # -- clicking -------------------------------------------------------------------------

    async def click(
        self,
        action: RequestAction,
        caller: Caller,
        request_id: str,
        block_id: str,
        where: Where,
    ) -> Message:
        """A button on an approval card: honoured only from that card (habot's workspace,
        the card's channel, that request's buttons); refusals are audited."""
        card_channel, _ = await self._requests.card(request_id)
        wrong = click_mismatch(request_id, block_id, where, card_channel)
        if wrong is not None:
            request = await self._requests.get(request_id)
            await self._record(
                "click_refused", caller.user, request.pair if request else None, "refused",
                {"request": request_id, "action": action.value, "reason": wrong,
                 "channel": where.channel, "team": where.team},
            )  # fmt: skip
            return text_message(f":no_entry: {escape(wrong)}")
        act = {
            RequestAction.APPROVE: self.approve,
            RequestAction.REJECT: self.reject,
            RequestAction.CANCEL: self.cancel,
        }[action]
        return await act(caller, request_id)

    async def approve(self, caller: Caller, request_id: str) -> Message:
        """An approver's click: counted once; the last needed one starts the run, once."""
        request = await self._requests.get(request_id)
        if request is None:
            return text_message(f"There is no request `{escape(request_id)}`.")
        decision = judge(RequestAction.APPROVE, request, caller.user, caller.roles, self._clock())
        if decision.ruling is Ruling.REFUSED:
            await self._record(
                "approval_refused",
                caller.user,
                request.pair,
                "refused",
                {"request": request.id, "reason": decision.message},
            )
            return text_message(f":no_entry: {decision.message}")
        said = self._event(
            "approved", caller.user, request.pair, "counted", {"request": request.id}
        )
        count = await self._requests.add_approval(request.id, caller.user, self._clock(), said)
        if count is None:  # closed, or enough approvals, between reading it and counting
            now = await self._requests.get(request.id)
            if now is not None and now.state is RequestState.PENDING:
                return text_message(
                    f"Request `{request.id}` already has the approvals it needs and is "
                    "starting; yours was not needed."
                )
            state = now.state.value if now else "closed"
            return text_message(f"Request `{request.id}` is already {state}; nothing was counted.")
        self._changed()
        request = replace(request, approvals=(*request.approvals, caller.user))
        if count < request.required:
            await self._refresh_card(request)
            return text_message(f"Approval counted; {request.required - count} more needed.")
        return await self._start(request, None, caller.user)

    async def reject(self, caller: Caller, request_id: str) -> Message:
        """An approver rejects a pending request."""
        return await self._close(caller, request_id, RequestAction.REJECT, RequestState.REJECTED)

    async def cancel(self, caller: Caller, request_id: str) -> Message:
        """The requester (or an approver) cancels a pending request."""
        return await self._close(caller, request_id, RequestAction.CANCEL, RequestState.CANCELLED)

    async def _close(
        self, caller: Caller, request_id: str, action: RequestAction, state: RequestState
    ) -> Message:
        request = await self._requests.get(request_id)
        if request is None:
            return text_message(f"There is no request `{escape(request_id)}`.")
        decision = judge(action, request, caller.user, caller.roles, self._clock())
        if decision.ruling is Ruling.REFUSED:
            await self._record(
                f"{action.value}_refused",
                caller.user,
                request.pair,
                "refused",
                {"request": request.id, "reason": decision.message},
            )
            return text_message(f":no_entry: {decision.message}")
        said = self._event(
            state.value, caller.user, request.pair, state.value, {"request": request.id}
        )
        if not await self._requests.transition(request.id, RequestState.PENDING, state, said=said):
            return text_message(f"Request `{request.id}` was already closed or started.")
        self._changed()
        await self._refresh_card(request, note=f"By <@{caller.user}>.")
        return text_message(decision.message)

    # -- running --------------------------------------------------------------------------

    async def _start(self, request: Request, plan: OperationPlan | None, user: str) -> Message:
        said = self._event(
            "executing", user, request.pair, "executing", {"request": request.id},
            node=request.node.value,
        )  # fmt: skip
        if not await self._requests.transition(
            request.id,
            RequestState.PENDING,
            RequestState.EXECUTING,
            runner=self._replica,
            said=said,
        ):
            return text_message(f"Request `{request.id}` is already running or closed.")
        self._changed()
        running = replace(request, state=RequestState.EXECUTING)
        self.spawn(self._execute(running))
        return text_message(f"Approved: `{request.operation.value}` on {request.pair} is running.")

    async def drain(self, limit: timedelta = timedelta(minutes=15)) -> None:
        """Wait for running executions (tests, graceful shutdown)."""
        await self._background.drain(limit)

    async def _execute(self, request: Request) -> None:
        try:
            await self._run(request)
        except Exception:
            log.exception("request %s failed inside habot", request.id)
            await self._finish(
                request,
                RequestState.UNKNOWN,
                "habot failed while running it; check status before retrying",
                None,
            )

    async def _run(self, request: Request) -> None:
        pair = self._settings.pair(request.pair)
        # The card says "running" while the fresh reading is taken: neither waits for the other.
        fresh, _ = await asyncio.gather(
            self._status.read_pair(pair), self._durably(lambda: self._refresh_card(request))
        )
        change = topology_change(request.snapshot, fresh)
        if change:
            await self._finish(
                request, RequestState.ABORTED, f"Aborted: {change}. Nothing ran.", fresh
            )
            return
        try:
            plan = preflight(request.operation, fresh, request.node, pair.procedures)
        except PreconditionFailed as exc:  # e.g. its console stopped offering the command
            await self._finish(request, RequestState.ABORTED, f"Aborted: {exc} Nothing ran.", fresh)
            return
        result = await self._command(request, plan)
        if result is None:
            return
        output = result.output
        secret = request.operation in SECRET_OUTPUT
        # A digest of a short secret could be brute-forced back, so secrets leave none.
        await self._record(
            "command_result",
            request.requester,
            request.pair,
            "ok" if result.ok else "failed",
            {
                "request": request.id,
                "exit_status": result.exit_status,
                **({"failure": result.failure} if result.failure else {}),
                **({"output": "withheld: secret"} if secret else {}),
            },
            node=plan.node.value,
            output_digest=None if secret else digest(output),
        )
        if secret and result.ok:
            channel, _ = await self._card_channel(request)
            if channel:
                await self._notify.tell_secret(
                    channel,
                    request.requester,
                    f"Joining code for {request.pair} (only you see this):\n```{output.strip()}```",
                )
        after = await self._status.read_pair(pair)
        outcome, why = verify_outcome(plan, result.failure, after)
        before = {role: fresh.node(role).state for role in Role}
        if serving_changed(before, after):  # the same rule as the scheduled poll's
            await self._durably(lambda: self._requests.record_change(pair.name, self._clock()))
        if self._announce is not None:  # the card reports it: no alert repeats it
            announce = self._announce
            seen = Announced(shape(after), self._clock(), request.id, request.operation.value)
            await self._durably(lambda: announce(pair.name, seen))
        await self._finish(
            request, _OUTCOME_STATE[outcome], f"{outcome.value}: {why}", after, before=fresh
        )

    async def _command(self, request: Request, plan: OperationPlan) -> CommandResult | None:
        card = await self._card_channel(request)
        progress = _Progress(request, card, self._notify, self.spawn, self._durably)

        async def owned() -> bool:  # asked right before every point of no return
            # A busy database makes the node's question wait, never an unanswered abort.
            return await self._durably(lambda: self._requests.still_runs(request.id, self._replica))

        try:
            if not await owned():  # a command without a confirmation is sent right away
                raise OwnershipLost(plan.address, "this replica no longer owns the request")
            code = await self._joining_code(request, plan, owned)
            result = await self._runner.run(
                self._settings.pair(request.pair).address(plan.node),
                ha_command(plan.command),
                answer_prompt=True,
                on_output=progress.feed,
                joining_code=code,
                confirm_gate=owned,
            )
        except OwnershipLost as exc:
            await self._abandon(request, exc)
            return None
        except UnexpectedPrompt as exc:
            if exc.confirmed:  # past the point of no return: the change may have been made
                await self._unknown_after_confirmation(request, exc)
            else:
                await self._finish(request, RequestState.ABORTED, f"Aborted: {exc.detail}", None)
            return None
        except (ConnectionLostError, CommandTimedOut) as exc:
            await self._finish(
                request,
                RequestState.UNKNOWN,
                f"Outcome unknown — {exc.detail}. Check status; it is not re-run.",
                None,
            )
            return None
        except NodeError as exc:
            await self._finish(request, RequestState.FAILED, f"Did not run: {exc.detail}", None)
            return None
        await progress.flush()
        if result.prompt_answered:
            await self._record(
                "prompt_answered",
                request.requester,
                request.pair,
                "y",
                {"request": request.id},
                node=plan.node.value,
            )
        return result

    async def _abandon(self, request: Request, exc: OwnershipLost) -> None:
        """Another replica took the request over (declared it interrupted): this one stops
        before the point of no return and leaves its state to the new owner."""
        log.warning("request %s: %s", request.id, exc.detail)
        await self._record(
            "abandoned", "habot", request.pair, "not_run",
            {"request": request.id, "replica": self._replica, "reason": exc.detail},
        )  # fmt: skip

    async def _unknown_after_confirmation(self, request: Request, exc: UnexpectedPrompt) -> None:
        """A question after the answered confirmation: the change may well have been made.
        Read the pair, report what it is now, and start the cooldown — never "aborted"."""
        pair = self._settings.pair(request.pair)
        after = await self._status.read_pair(pair)
        await self._durably(lambda: self._requests.record_change(pair.name, self._clock()))
        await self._finish(
            request,
            RequestState.UNKNOWN,
            f"Outcome unknown — the confirmation was answered, then {exc.detail}. The pair is "
            f"now {after.verdict.value}; check it before anything else. It is not re-run.",
            after,
        )

    async def _joining_code(
        self, request: Request, plan: OperationPlan, owned: Callable[[], Awaitable[bool]]
    ) -> str | None:
        """Create the joining code the plan needs on its node: a secret kept only in this
        call's memory — never stored, logged, posted or digested."""
        if plan.joining_code_from is None:
            return None
        node = plan.joining_code_from
        result = await self._runner.run(
            self._settings.pair(request.pair).address(node),
            ha_command(HaCommand.CREATE_JOINING_CODE),
            answer_prompt=True,
            confirm_gate=owned,  # should it ask, the same point of no return applies
        )
        code = joining_code_in(result.output) if result.ok else None
        await self._record(
            "joining_code_created",
            request.requester,
            request.pair,
            "ok" if code else "failed",
            {"request": request.id, "exit_status": result.exit_status, "output": "withheld"},
            node=node.value,
        )
        if code is None:
            raise NodeError(
                str(self._settings.pair(request.pair).address(node)),
                f"ha-create-joining-code on the {node} gave no joining code habot could read "
                f"({result.failure or 'it said it succeeded'}); ha-initialise was not run",
            )
        return code

    async def _finish(
        self,
        request: Request,
        state: RequestState,
        words: str,
        after: PairStatus | None,
        before: PairStatus | None = None,
    ) -> None:
        said = self._event(
            state.value, request.requester, request.pair, state.value,
            {"request": request.id, "detail": words},
        )  # fmt: skip
        if not await self._durably(
            lambda: self._requests.transition(
                request.id, RequestState.EXECUTING, state, {"outcome": words}, said=said
            )
        ):
            await self._late(request, state, words)
            return
        self._changed()
        outcome = f"{words}\n{before_after(request.snapshot, topology(after) if after else None)}"
        await self._durably(lambda: self._refresh_card(request, outcome=outcome))
        channel, _ = await self._card_channel(request)
        if channel:
            text = f"Your `{request.operation.value}` on {request.pair}: {escape(words)}"
            await self._durably(
                lambda: self._notify.tell(request.pair, channel, request.requester, text)
            )

    async def _late(self, request: Request, state: RequestState, words: str) -> None:
        """This replica ran the request, but another declared it interrupted before the
        outcome was in: the request keeps the state it was given (a person resolves it),
        and what this replica saw is audited and told in the card's thread, not lost."""
        runner = await self._requests.runner(request.id)
        if runner != self._replica:
            return  # another replica's run, closed by someone else: nothing seen here
        log.warning("request %s finished here after it was closed elsewhere: %s", request.id, words)
        await self._record(
            "late_outcome", "habot", request.pair, state.value,
            {"request": request.id, "seen": words, "replica": self._replica},
        )  # fmt: skip
        channel, card = await self._card_channel(request)
        if channel and card is not None:
            note = (
                f":warning: This run was declared interrupted by another habot replica, but it "
                f"finished here: {escape(words)}. Use this when you resolve it."
            )
            await self._durably(lambda: self._notify.thread(request.pair, channel, card, note))

    async def _durably(self, write: Callable[[], Awaitable[_T]]) -> _T:
        """A write that must not be lost (an outcome, its audit, its card): a busy database
        is retried with back-off — quickly for DURABLE_FOR, then every few seconds for as
        long as this process lives, the outcome kept in memory meanwhile. Each busy retry
        is counted (``on_busy``)."""
        started, delay, warned = time.monotonic(), 0.2, False
        while True:
            try:
                return await write()
            except StoreBusy:
                if self._on_busy is not None:
                    self._on_busy()
                if not warned and time.monotonic() - started > DURABLE_FOR:
                    log.error("the database is still busy; an outcome is kept and retried")
                    warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def resolve(self, caller: Caller, request_id: str, finding: str) -> Message:
        """An approver closes a request whose outcome was unknown, saying what they found;
        the pair is open to operations again."""
        request = await self._requests.get(request_id)
        if request is None:
            return text_message(f"There is no request `{escape(request_id)}`.")
        if request.state is not RequestState.UNKNOWN:
            return text_message(
                f"Request `{request.id}` is {request.state.value}, not unknown: there is "
                "nothing to resolve."
            )
        said = self._event(
            "resolved", caller.user, request.pair, "resolved",
            {"request": request.id, "finding": finding},
        )  # fmt: skip
        if not await self._requests.transition(
            request.id, RequestState.UNKNOWN, RequestState.RESOLVED, {"finding": finding}, said=said
        ):
            return text_message(f"Request `{request.id}` was resolved by someone else just now.")
        self._changed()
        note = f"Resolved by <@{caller.user}>: {escape(finding)}"
        await self._refresh_card(request, note=note)
        return text_message(
            f"Request `{request.id}` resolved; {request.pair} is open to operations again."
        )

    # -- housekeeping ---------------------------------------------------------------------

    async def expire(self) -> int:
        """Close pending requests past their deadline; return how many."""
        now = self._clock()
        pending = await self._requests.in_states(RequestState.PENDING)
        closed = 0
        for request in (r for r in pending if now >= r.expires_at):
            said = self._event("expired", "habot", request.pair, "expired", {"request": request.id})
            if await self._requests.transition(
                request.id, RequestState.PENDING, RequestState.EXPIRED, said=said
            ):
                closed += 1
                self._changed()
                await self._refresh_card(request, note=expired_note(now))
        return closed

    async def recover(self) -> int:
        """Executions cut short by a crash become unknown, never re-run. With several
        replicas, only those whose replica is no longer alive (runs at start and in every
        housekeeping round)."""
        running = await self._requests.in_states(RequestState.EXECUTING)
        orphans = [r for r in running if not await self._still_running(r)]
        for request in orphans:
            await self._finish(
                request,
                RequestState.UNKNOWN,
                "Interrupted — habot restarted while it ran. Outcome unknown; "
                "check status. It will not be re-run.",
                None,
            )
        return len(orphans)

    async def _still_running(self, request: Request) -> bool:
        runner = await self._requests.runner(request.id)
        if runner == self._replica:
            return True  # this process runs it
        return runner is not None and self._alive is not None and await self._alive(runner)

    async def housekeeping(self) -> None:
        """The scheduled sweep: expire stale requests, close interrupted runs."""
        await self.expire()
        await self.recover()

    async def pending(self) -> Message:
        """Open requests, for `/ha pending`."""
        open_ = await self._requests.in_states(RequestState.PENDING, RequestState.EXECUTING)
        if not open_:
            return text_message("No open requests.")
        lines = [
            f"`{r.id}` {r.operation.value} {r.pair} ({r.node}) — {r.state.value}, "
            f"asked by <@{r.requester}>, {len(r.approvals)}/{r.required} approvals"
            for r in open_
        ]
        return text_message("\n".join(lines))

    # -- helpers --------------------------------------------------------------------------

    async def _card_channel(self, request: Request) -> tuple[str | None, int | None]:
        return await self._requests.card(request.id)

    async def _refresh_card(
        self, request: Request, note: str | None = None, outcome: str | None = None
    ) -> None:
        channel, card = await self._card_channel(request)
        if channel is None or card is None:
            return
        # Always what the database holds now, with its version: a slower writer's card
        # (an approval that lost to a cancel) is then older and dropped, never shown.
        current = await self._requests.get(request.id) or request
        plan = await self._requests.plan(request.id)
        message = approval_card(current, plan, note, outcome)
        await self._notify.update_card(current.pair, channel, card, message, current.version)

    async def _record(
        self,
        kind: str,
        actor: str,
        pair: str | None,
        outcome: str,
        detail: dict[str, Any],
        node: str | None = None,
        output_digest: str | None = None,
    ) -> None:
        """Audit something that is not a change of the request itself (those are written
        with the change, in its transaction)."""
        event = self._event(kind, actor, pair, outcome, detail, node, output_digest)
        await self._durably(lambda: self._audit.append(event))
        self._changed()

    def _event(
        self,
        kind: str,
        actor: str,
        pair: str | None,
        outcome: str,
        detail: dict[str, Any],
        node: str | None = None,
        output_digest: str | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            kind=kind,
            actor=actor,
            outcome=outcome,
            at=self._clock(),
            pair=pair,
            node=node,
            output_digest=output_digest,
            detail=detail,
        )

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()  # every recorded change can change someone's Home

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run background work tracked by :meth:`drain`."""
        self._background.spawn(work)


class _Progress:
    """Condensed command output into the card's thread, at most one post per 3 s."""

    def __init__(
        self,
        request: Request,
        card: tuple[str | None, int | None],
        notify: Notifier,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        durably: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]],
    ) -> None:
        self._request = request
        self._channel, self._card = card
        self._notify = notify
        self._spawn = spawn
        self._durably = durably  # a busy database delays progress; it never fails the run
        self._buffer = ""
        self._last = 0.0

    def feed(self, chunk: str) -> None:
        if self._request.operation in SECRET_OUTPUT:
            return  # never echo a secret into the channel
        self._buffer += chunk
        if time.monotonic() - self._last >= PROGRESS_EVERY:
            self._spawn(self.flush())

    async def flush(self) -> None:
        text, self._buffer = self._buffer.strip(), ""
        self._last = time.monotonic()
        if text and self._channel and self._card is not None:
            lines = "```" + escape("\n".join(text.splitlines()[-8:])) + "```"
            pair, channel, card = self._request.pair, self._channel, self._card
            await self._durably(lambda: self._notify.thread(pair, channel, card, lines))
