"""Housekeeping: pending requests past their deadline expire, runs cut short by a crash
(or by a replica that died) become unknown and are never re-run, and `/ha pending` lists
what is open."""

from __future__ import annotations

from habot.core.approvals import Request, RequestState, open_requests
from habot.core.cards import expired_note
from habot.core.replies import Reply
from habot.services.operations.executing import Execution
from habot.services.operations.stage import Parts, Stage


class Housekeeping(Stage):
    """The scheduled sweep and the list of open requests."""

    def __init__(self, parts: Parts, execution: Execution) -> None:
        super().__init__(parts)
        self._execution = execution

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
            await self._execution.finish(
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

    async def sweep(self) -> None:
        """The scheduled sweep: expire stale requests, close interrupted runs."""
        await self.expire()
        await self.recover()

    async def pending(self) -> Reply:
        """Open requests, for `/ha pending`."""
        return open_requests(
            await self._requests.in_states(RequestState.PENDING, RequestState.EXECUTING)
        )
