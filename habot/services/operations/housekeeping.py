"""Housekeeping: pending requests past their deadline expire, runs cut short by a crash
(or by a replica that died) become unknown and are never re-run, and `/ha pending` lists
what is open."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime

from habot.core.approvals import CANCELLABLE, OPEN, Request, RequestState, open_requests
from habot.core.cards import expired_note, run_reminder
from habot.core.replies import Code, Reply, When, plain, say
from habot.core.schedule import Step, countdown, step
from habot.services.operations.breaking import Breaking
from habot.services.operations.executing import Execution
from habot.services.operations.stage import Parts, Stage


class Housekeeping(Stage):
    """The scheduled sweep and the list of open requests."""

    def __init__(self, parts: Parts, execution: Execution, breaking: Breaking) -> None:
        super().__init__(parts)
        self._execution = execution
        self._breaking = breaking
        #: The countdown each scheduled card shows, as last posted by this replica.
        self._countdowns: dict[str, str] = {}

    async def expire(self, waiting: list[Request] | None = None) -> int:
        """Close requests past their deadline that have not started — pending ones nobody
        approved in time, and scheduled ones whose run window passed without a run (habot
        or its database was down across their time): those never run late. How many."""
        now = self._clock()
        if waiting is None:
            waiting = await self._requests.in_states(*sorted(CANCELLABLE))
        closed = 0
        for request in (r for r in waiting if now >= r.expires_at):
            said = self._event("expired", "habot", request.pair, "expired", {"request": request.id})
            if await self._requests.transition(
                request.id, request.state, RequestState.EXPIRED, said=said
            ):
                closed += 1
                self._changed()
                note = expired_note(now, request)
                await self._refresh_card(request, note=note)
                await self._unpage(replace(request, state=RequestState.EXPIRED))
                await self._ended(request, RequestState.EXPIRED, note)
        return closed

    async def due(self, waiting: list[Request]) -> int:
        """Requests asked for later, as their time comes: remind their thread once shortly
        before, start the approved ones at their time (once, across replicas), and keep
        their cards' countdowns current. How many started."""
        now, started = self._clock(), 0
        for request in (r for r in waiting if r.run_at is not None):
            match step(request, now, self._timing):
                case Step.REMIND:
                    await self._remind(request, now)
                case Step.RUN:
                    started += await self._run_at_its_time(request)
                case _:
                    await self._count_down(request, now)
        return started

    async def _remind(self, request: Request, now: datetime) -> None:
        """Its thread is told, once, that it runs soon — naming its requester and approvers."""
        if not await self._requests.remind_run(request.id, now):
            return  # another sweep reminded it
        channel, card = await self._card_channel(request)
        if channel is not None and card is not None:
            words = run_reminder(request, self._settings.slack.approvers_mention,
                                 self._settings.slack.command)  # fmt: skip
            await self._notify.thread(request.pair, channel, card, words)
        await self._refresh_card(request)

    async def _run_at_its_time(self, request: Request) -> bool:
        """Its time has come: a freeze that holds the pair now aborts it; otherwise it
        starts, once (the run re-reads both nodes and aborts naming what changed)."""
        freeze = await self._freezes.holding(request.pair) if self._freezes else None
        if freeze is None:
            return await self._execution.begin_scheduled(request)
        said_parts = (
            f"Aborted at its time: {freeze.scope} is frozen until ", When(freeze.ends_at),
            f" ({freeze.reason}). Nothing ran.",
        )  # fmt: skip
        words = plain(said_parts)
        detail = {"request": request.id, "detail": words, "freeze": freeze.id}
        said = self._event("aborted", "habot", request.pair, "aborted", detail)
        if await self._requests.transition(
            request.id, RequestState.SCHEDULED, RequestState.ABORTED, {"outcome": words}, said=said
        ):
            self._changed()
            await self._refresh_card(request, note=say(*said_parts))
            await self._notify.direct(request.requester, say(
                "Your ", Code(request.operation.value), f" on {request.pair}: ", *said_parts,
            ))  # fmt: skip
        return False

    async def _count_down(self, request: Request, now: datetime) -> None:
        """Refresh its card when the countdown it shows has moved on."""
        assert request.run_at is not None
        shown = countdown(request.run_at, now)
        if self._countdowns.get(request.id) != shown:
            self._countdowns[request.id] = shown
            await self._refresh_card(request)

    async def escalate(self) -> int:
        """Ask the next escalation level about every pending request whose current level
        has had ``escalate_after`` without a decision; return how many levels were asked."""
        if not self._escalation.levels:
            return 0
        now, asked = self._clock(), 0
        for request in await self._requests.in_states(RequestState.PENDING):
            level = self._escalation.due(request.asked, now)
            if level is not None and now < request.expires_at:
                asked += await self._ask(request, level, now) is not None
        return asked

    async def recover(self) -> int:
        """Executions cut short become unknown, never re-run: by a crash (at start), by a
        replica that died (its heartbeat lapsed), or by this process's own run that ended
        without recording an outcome (runs at start and in every housekeeping round)."""
        running = await self._requests.in_states(RequestState.EXECUTING)
        closed = 0
        for request in running:
            runner = await self._requests.runner(request.id)
            if runner == self._replica and self._execution.runs_here(request.id):
                continue  # this process runs it now
            if runner != self._replica and await self._may_live(runner):
                continue
            await self._execution.finish(
                request, RequestState.UNKNOWN, _why(runner, self._replica), None
            )
            closed += 1
        return closed

    async def _may_live(self, runner: str | None) -> bool:
        return runner is not None and self._alive is not None and await self._alive(runner)

    async def sweep(self) -> None:
        """The scheduled sweep: expire stale requests (first: a scheduled one past its
        window never starts), start scheduled ones whose time has come, ask the next
        escalation levels, offer break-glass and remind of missing reviews, close
        interrupted runs."""
        waiting = await self._requests.in_states(*sorted(CANCELLABLE))
        await self.expire(waiting)
        now = self._clock()
        await self.due([r for r in waiting if now < r.expires_at])
        await self.escalate()
        await self._breaking.sweep()
        await self.recover()
        await self._count_open()

    async def _count_open(self) -> None:
        """Tell the telemetry how many requests hold a pair, by state (an unknown one
        closes its pair until a person resolves it: worth an alert)."""
        if self._telemetry is not None:
            held = await self._requests.in_states(*sorted(OPEN))
            self._telemetry.requests_open(Counter(r.state.value for r in held))

    async def pending(self) -> Reply:
        """Open requests, for `/ha pending`."""
        held = await self._requests.in_states(*sorted(OPEN))  # every request holding a pair
        owed = await self._requests.unreviewed()
        return open_requests(held, self._settings.slack.command, owed)


def _why(runner: str | None, me: str) -> str:
    """What an interrupted run's card says happened."""
    if runner == me:
        return (
            "Interrupted — habot's run of it ended without recording an outcome. Outcome "
            "unknown; check status. It will not be re-run."
        )
    return (
        "Interrupted — habot restarted while it ran. Outcome unknown; check status. "
        "It will not be re-run."
    )
