"""Pages into the outbox: each paging tool's events for one incident (or one request) in a
lane of their own, so they arrive in order; a resolve withdraws what was never delivered
(see :mod:`habot.core.paging`)."""

from __future__ import annotations

from collections.abc import Iterable

from habot.core.outbox import MessageKind
from habot.core.paging import APPROVERS_ROUTE, Page, PageAction, Pager, page_lane
from habot.services.ports import Clock, Outbox


class Paging:
    """Queues pages for the paging tools named in each call."""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    async def send(self, pagers: Iterable[Pager], page: Page, approvers: bool = False) -> None:
        """Queue a trigger or an acknowledge for each tool (for the approvers' service,
        when ``approvers``)."""
        for pager in pagers:
            await self._queue(pager, page, approvers)

    async def resolve(self, pagers: Iterable[Pager], page: Page, approvers: bool = False) -> None:
        """Queue the resolve for each tool — unless nothing of the incident was delivered
        yet: then its queued pages are withdrawn (nobody is woken for what is already
        over), and a resolve goes only when an attempt may have reached the tool."""
        assert page.action is PageAction.RESOLVE
        for pager in pagers:
            withdrawn = await self._outbox.withdraw_undelivered(
                page_lane(pager, page.key), self._clock()
            )
            if withdrawn is None or withdrawn.tried:
                await self._queue(pager, page, approvers)

    async def _queue(self, pager: Pager, page: Page, approvers: bool) -> None:
        channel = f"{pager.value}@{APPROVERS_ROUTE}" if approvers else pager.value
        lane = page_lane(pager, page.key)
        await self._outbox.enqueue(lane, MessageKind.PAGE, channel, page.payload(), self._clock())
