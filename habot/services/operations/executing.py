"""Executing: an approved request runs exactly once — re-checked against a fresh reading,
the command sent with its confirmation answered only while this replica still owns the
request, the outcome verified against the plan, and every end (succeeded, failed,
unverified, aborted, unknown) written durably with its card and the requester told."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any

from habot.core import unknown
from habot.core.alerts import Announced, shape
from habot.core.approvals import CANCELLABLE, Glass, Request, RequestState
from habot.core.audit import digest
from habot.core.cards import before_after, outcome_told
from habot.core.catalogue import HaCommand, ha_command
from habot.core.checks import changed, checks_made
from habot.core.durations import format_duration
from habot.core.model import Role
from habot.core.operations import SECRET_OUTPUT, OperationPlan, PreconditionFailed
from habot.core.outcomes import Outcome, topology, topology_change, verify_outcome
from habot.core.paging import outcome_unknown
from habot.core.preflight import preflight
from habot.core.prompts import joining_code_in
from habot.core.replies import Code, Output, Reply, Tone, say
from habot.core.results import CommandResult
from habot.core.verdict import PairStatus, serving_changed
from habot.errors import (
    CommandTimedOut,
    ConnectionLostError,
    NodeError,
    OwnershipLost,
    StoreError,
    UnexpectedPrompt,
)
from habot.logs import about
from habot.services.operations.stage import MAX_DIRECT, PROGRESS_EVERY, Notifier, Parts, Stage

log = logging.getLogger(__name__)
#: Characters of recent output a progress post is cut from (it shows the last 8 lines).
PROGRESS_KEPT = 8192
_OUTCOME_STATE = {
    Outcome.SUCCEEDED: RequestState.SUCCEEDED,
    Outcome.FAILED: RequestState.FAILED,
    Outcome.UNVERIFIED: RequestState.UNVERIFIED,
}


class Execution(Stage):
    """Runs approved requests."""

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts)
        #: Requests whose run is still going in this process. A request this replica owns
        #: but no longer runs (its task died) is an orphan like a dead replica's.
        self._live: set[str] = set()
        #: When each run here started (for the operation-duration histogram).
        self._began: dict[str, datetime] = {}

    def runs_here(self, request_id: str) -> bool:
        """Whether this process is carrying out the request right now."""
        return request_id in self._live

    async def begin(self, request: Request, plan: OperationPlan | None, user: str) -> Reply:
        """Start an approved request's run — once."""
        if not await self._start(request, user, None):
            return say("Request ", Code(request.id), " is already running or closed.")
        return say("Approved: ", Code(request.operation.value), f" on {request.pair} is running.")

    async def begin_glass(self, request: Request, glass: Glass) -> bool:
        """Start a break-glass run — once, and only while no other break-glass owes its
        review; False when it lost that compare-and-set."""
        return await self._start(request, glass.by, glass)

    async def begin_scheduled(self, request: Request) -> bool:
        """Start a scheduled request at its time — once, across replicas: of two sweeps,
        one moves it from scheduled to executing; False for the other."""
        return await self._start(request, "habot", None)

    async def _start(self, request: Request, user: str, glass: Glass | None) -> bool:
        """Claim the request (from the state it was read in: pending, or scheduled) and
        run it in the background; False when another claim won."""
        if request.state not in CANCELLABLE:  # only a request that has not started starts
            return False
        detail: dict[str, object] = {"request": request.id}
        if glass:
            detail["break_glass"] = True
        if request.run_at is not None:
            detail["run_at"] = request.run_at.isoformat()
        said = self._event(
            "executing", user, request.pair, "executing", detail, node=request.node.value
        )
        self._live.add(request.id)  # before the claim: housekeeping never sees a gap
        if glass is not None:
            claimed = await self._requests.break_glass(request.id, glass, self._replica, said)
        else:
            claimed = await self._requests.transition(
                request.id, request.state, RequestState.EXECUTING, runner=self._replica,
                said=said,
            )  # fmt: skip
        if not claimed:
            self._live.discard(request.id)
            return False
        self._changed()
        self._began[request.id] = self._clock()
        running = replace(request, state=RequestState.EXECUTING, glass=glass)
        self.spawn(self._carry_out(running))
        await self._unpage(running)  # the approvers are done: their page resolves
        return True

    async def _carry_out(self, request: Request) -> None:
        with about(pair=request.pair, request=request.id):
            log.info("running %s on %s", request.operation.value, request.pair)
            try:
                await self._carry_out_logged(request)
            finally:
                self._live.discard(request.id)

    async def _carry_out_logged(self, request: Request) -> None:
        try:
            await self._run_checked(request)
        except Exception:
            log.exception("request %s failed inside habot", request.id)
            await self.finish(
                request,
                RequestState.UNKNOWN,
                "habot failed while running it; check status before retrying",
                None,
            )

    async def _run_checked(self, request: Request) -> None:
        pair = self._settings.pair(request.pair)
        # The card says "running" while the fresh reading is taken: neither waits for the other.
        fresh, _ = await asyncio.gather(
            self._status.read_pair(pair), self._durably(lambda: self._refresh_card(request))
        )
        change = topology_change(request.snapshot, fresh)
        if change:
            named = await self._changed_checks(request, fresh)
            await self.finish(
                request, RequestState.ABORTED, f"Aborted: {change}.{named} Nothing ran.", fresh
            )
            return
        try:
            plan = preflight(request.operation, fresh, request.node, pair.procedures)
        except PreconditionFailed as exc:  # e.g. its console stopped offering the command
            named = await self._changed_checks(request, fresh)
            await self.finish(
                request, RequestState.ABORTED, f"Aborted: {exc}{named} Nothing ran.", fresh
            )
            return
        result = await self._send_command(request, plan)
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
            channel, _ = await self._durably(lambda: self._card_channel(request))
            if channel:
                await self._notify.tell_secret(
                    channel,
                    request.requester,
                    say(
                        f"Joining code for {request.pair} (only you see this):\n",
                        Output(output.strip()),
                    ),
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
        await self.finish(
            request, _OUTCOME_STATE[outcome], f"{outcome.value}: {why}", after, before=fresh
        )

    async def _changed_checks(self, request: Request, fresh: PairStatus) -> str:
        """The checks the card showed that read differently now, named (or nothing)."""
        if not request.checks:
            return ""
        plan = await self._durably(lambda: self._requests.plan(request.id))
        cooldown = format_duration(self._settings.approval.cooldown)
        diff = changed(request.checks, checks_made(fresh, plan, cooldown, request.override))
        return f" Changed since it was approved: {diff}." if diff else ""

    async def _send_command(self, request: Request, plan: OperationPlan) -> CommandResult | None:
        card = await self._card_channel(request)
        progress = _Progress(
            request, card, notify=self._notify, spawn=self.spawn, durably=self._durably
        )

        async def owned() -> bool:  # asked right before every point of no return
            # A busy database makes the node's question wait, never an unanswered abort.
            return await self._durably(lambda: self._requests.still_runs(request.id, self._replica))

        try:
            if not await owned():  # a command without a confirmation is sent right away
                raise OwnershipLost(plan.address, "this replica no longer owns the request")
            code = await self._joining_code(request, plan, owned)
            try:
                result = await self._runner.run(
                    self._settings.pair(request.pair).address(plan.node),
                    ha_command(plan.command),
                    answer_prompt=True,
                    on_output=progress.feed,
                    joining_code=code,
                    confirm_gate=owned,
                )
            finally:  # what it printed is in the thread before what became of it
                await progress.flush()
        except OwnershipLost as exc:
            await self._abandon(request, exc)
            return None
        except UnexpectedPrompt as exc:
            if exc.confirmed:  # past the point of no return: the change may have been made
                await self._unknown_after_confirmation(request, exc)
            else:
                await self.finish(request, RequestState.ABORTED, f"Aborted: {exc.detail}", None)
            return None
        except (ConnectionLostError, CommandTimedOut) as exc:
            await self.finish(
                request,
                RequestState.UNKNOWN,
                f"Outcome unknown — {exc.detail}. Check status; it is not re-run.",
                None,
            )
            return None
        except NodeError as exc:
            await self.finish(request, RequestState.FAILED, f"Did not run: {exc.detail}", None)
            return None
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
        await self.finish(
            request,
            RequestState.UNKNOWN,
            f"Outcome unknown — the confirmation was answered, then {exc.detail}. The pair is "
            f"now {after.verdict.label}; check it before anything else. It is not re-run.",
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

    async def _measure(self, request: Request, state: RequestState) -> None:
        """How long the operation took: asked → approved, approved → its run started (its
        time, for one asked for later), its run → the verified outcome, and in all (runs
        that ended with a verdict on the appliance; an interrupted one is not a time)."""
        began, ended = self._began.pop(request.id, None), self._clock()
        if self._telemetry is None or state not in _MEASURED or began is None:
            return
        try:  # a measure, never a reason to hold the outcome's card and messages back
            recent = await self._audit.recent(200, request.pair)
        except StoreError:
            return
        approvals = [r.event.at for r in recent if r.event.kind == "approved"
                     and r.event.detail.get("request") == request.id]  # fmt: skip
        approved = max(approvals, default=request.created_at)
        op = request.operation.value
        for stage, since, until in (("approval", request.created_at, approved),
                                    ("start", approved, began), ("running", began, ended),
                                    ("total", request.created_at, ended)):  # fmt: skip
            self._telemetry.operation_took(op, stage, (until - since).total_seconds())

    async def finish(
        self,
        request: Request,
        state: RequestState,
        words: str,
        after: PairStatus | None,
        before: PairStatus | None = None,
    ) -> None:
        log.info("request %s ended %s: %s", request.id, state.value, words)
        if after is not None:
            await self._keep_reading(after)
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
        await self._measure(request, state)
        outcome = f"{words}\n{before_after(request.snapshot, topology(after) if after else None)}"
        await self._durably(lambda: self._refresh_card(request, outcome=outcome))
        channel, card = await self._durably(lambda: self._card_channel(request))
        link = await self._notify.link(card) if card is not None else None
        if channel:
            command = self._settings.slack.command
            text = outcome_told(request, state, words, link, command)
            await self._durably(lambda: self._notify.direct(request.requester, text))
        await self._ended(request, state, say(words))
        if state is RequestState.UNKNOWN:
            await self._call_approvers(request, words, channel, card, link)

    async def _call_approvers(
        self, request: Request, words: str, channel: str | None, card: int | None, link: str | None
    ) -> None:
        """An unknown outcome closes the pair until a person resolves it: the approvers
        are named in the card's thread, told by direct message, and paged (if paging is
        on) — not left to find out when someone asks for another operation."""
        command = self._settings.slack.command
        if channel and card is not None:
            mentions = self._settings.slack.approvers_mention
            called = unknown.approvers_called(request, words, mentions, command)
            await self._durably(lambda: self._notify.thread(request.pair, channel, card, called))
        dm = unknown.approver_dm(request, words, link, command)
        approvers = await self._everyone_approving() - {request.requester}
        for user in sorted(approvers)[:MAX_DIRECT]:
            await self._durably(lambda: self._notify.direct(user, dm))  # noqa: B023 (awaited now)
        if self._paging is not None:
            page = outcome_unknown(request, words, card)
            await self._paging.send(self._settings.paging.pagers, page, approvers=True)

    async def _keep_reading(self, after: PairStatus) -> None:
        """The reading that judged the outcome is the pair's newest: kept with the scheduled
        ones, so App Home, the digest and the next poll start from it — not from a reading
        taken before the change (until the next poll, Home said BAU after a failover)."""
        if self._readings is None:
            return
        try:
            await self._readings.add(after)
        except StoreError as exc:  # the outcome matters more: it is written next
            log.warning("the outcome's reading of %s was not kept: %s", after.pair, exc)

    async def _late(self, request: Request, state: RequestState, words: str) -> None:
        """This replica ran the request, but another declared it interrupted before the
        outcome was in: the request keeps the state it was given (a person resolves it),
        and what this replica saw is audited and told in the card's thread, not lost."""
        runner = await self._durably(lambda: self._requests.runner(request.id))
        if runner != self._replica:
            return  # another replica's run, closed by someone else: nothing seen here
        log.warning("request %s finished here after it was closed elsewhere: %s", request.id, words)
        await self._record(
            "late_outcome", "habot", request.pair, state.value,
            {"request": request.id, "seen": words, "replica": self._replica},
        )  # fmt: skip
        channel, card = await self._durably(lambda: self._card_channel(request))
        if channel and card is not None:
            note = say(
                "This run was declared interrupted by another habot replica, but it finished "
                f"here: {words}. Use this when you resolve it.",
                tone=Tone.WARNING,
            )
            await self._durably(lambda: self._notify.thread(request.pair, channel, card, note))


_MEASURED = frozenset({RequestState.SUCCEEDED, RequestState.FAILED, RequestState.UNVERIFIED})


class _Progress:
    """Condensed command output into the card's thread, at most one post per 3 s."""

    def __init__(
        self,
        request: Request,
        card: tuple[str | None, int | None],
        *,
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
        #: One post at a time, each taking the text gathered before it: a flush spawned by
        #: output and the run's last flush never race (the later one could land above).
        self._posting = asyncio.Lock()

    def feed(self, chunk: str) -> None:
        if self._request.operation in SECRET_OUTPUT:
            return  # never echo a secret into the channel
        # Only the last lines are posted: a node printing without end costs no memory here.
        self._buffer = (self._buffer + chunk)[-PROGRESS_KEPT:]
        if time.monotonic() - self._last >= PROGRESS_EVERY:
            self._last = time.monotonic()  # one spawned post per period, however much output
            self._spawn(self.flush())

    async def flush(self) -> None:
        """Post what was printed since the last post (the run awaits this before its
        outcome, and so after any post already under way)."""
        async with self._posting:
            text, self._buffer = self._buffer.strip(), ""
            self._last = time.monotonic()
            if text and self._channel and self._card is not None:
                lines = say(Output("\n".join(text.splitlines()[-8:])))
                pair, channel, card = self._request.pair, self._channel, self._card
                await self._durably(lambda: self._notify.thread(pair, channel, card, lines))
