"""Housekeeping: pending requests past their deadline expire, runs cut short by a crash
(or by a replica that died) become unknown and are never re-run, and `/ha pending` lists
what is open."""

from __future__ import annotations

from dataclasses import replace

from habot.core.approvals import OPEN, RequestState, open_requests
from habot.core.cards import expired_note
from habot.core.replies import Reply
from habot.services.operations.breaking import Breaking
from habot.services.operations.executing import Execution
from habot.services.operations.stage import Parts, Stage


class Housekeeping(Stage):
    """The scheduled sweep and the list of open requests."""

    def __init__(self, parts: Parts, execution: Execution, breaking: Breaking) -> None:
        super().__init__(parts)
        self._execution = execution
        self._breaking = breaking

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
                await self._unpage(replace(request, state=RequestState.EXPIRED))
        return closed

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
        """The scheduled sweep: expire stale requests, ask the next escalation levels,
        offer break-glass and remind of missing reviews, close interrupted runs."""
        await self.expire()
        await self.escalate()
        await self._breaking.sweep()
        await self.recover()

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
