"""Break-glass: the requester of a failover nobody answered runs it alone — after the
rules in :mod:`habot.core.breakglass` and a fresh reading allow it — loudly (the channel,
every approver, the approvers' page), and a second person reviews it afterwards. The
sweep offers it on the card when it becomes possible and reminds daily of a missing
review."""

from __future__ import annotations

import logging
from datetime import datetime

from habot.core import breakglass
from habot.core.approvals import Glass, Request, RequestState
from habot.core.blocks import Form, render
from habot.core.breakglass import GlassRule, reading_refusal, reason_problem
from habot.core.cards import glass_form
from habot.core.paging import glass_reviewed, glass_used
from habot.core.replies import Code, Part, Person, Reply, plain, refused, say
from habot.core.roles import Access
from habot.logs import about
from habot.services.operations.executing import Execution
from habot.services.operations.stage import Parts, Stage
from habot.services.ports import Caller

log = logging.getLogger(__name__)


class Breaking(Stage):
    """Break-glass and its review."""

    def __init__(self, parts: Parts, execution: Execution) -> None:
        super().__init__(parts)
        self._execution = execution
        approval = parts.settings.approval
        self._rule = GlassRule(
            approval.break_glass_after, self._escalation, parts.settings.slack.command
        )

    # -- breaking the glass ------------------------------------------------------------

    async def form(self, caller: Caller, request_id: str) -> Reply | Form:
        """The Break glass button: the form for the reason when the rules allow it so far
        (the reading is taken when it is sent), else why not (audited)."""
        request = await self._requests.get(request_id)
        if request is None:
            return say("There is no request ", Code(request_id), ".")
        if why := await self._refusal(request, caller.user):
            return await self._refuse(caller, request, why)
        channel, _ = await self._card_channel(request)
        return glass_form(request, channel or caller.channel or "")

    async def break_glass(self, caller: Caller, request_id: str, reason: str) -> Reply:
        """`/ha break-glass ID "reason"` (or the form): run the failover alone, if allowed."""
        with about(user=caller.user, request=request_id):
            request = await self._requests.get(request_id)
            if request is None:
                return say("There is no request ", Code(request_id), ".")
            log.warning("break-glass asked on request %s", request.id)
            await self._record(
                "break_glass_asked", caller.user, request.pair, "asked",
                {"request": request.id, "reason": reason},
            )  # fmt: skip
            why = await self._refusal(request, caller.user)
            if why is None and (problem := reason_problem(reason)):
                why = (problem,)
            if why is None:
                fresh = await self._status.read_pair(self._settings.pair(request.pair))
                why = reading_refusal(fresh)
            if why is not None:
                return await self._refuse(caller, request, why)
            return await self._run(caller, request, reason)

    async def _refusal(self, request: Request, user: str) -> tuple[Part, ...] | None:
        unreviewed = await self._requests.unreviewed()
        return self._rule.refusal(request, user, self._clock(), unreviewed)

    async def _refuse(self, caller: Caller, request: Request, why: tuple[Part, ...]) -> Reply:
        detail = {"request": request.id, "reason": plain(why)}
        await self._record("break_glass_refused", caller.user, request.pair, "refused", detail)
        return refused(*why)

    async def _run(self, caller: Caller, request: Request, reason: str) -> Reply:
        glass = Glass(caller.user, self._clock(), reason)
        if not await self._execution.begin_glass(request, glass):
            now = await self._requests.get(request.id)
            if now is not None and (why := await self._refusal(now, caller.user)):
                return await self._refuse(caller, now, why)
            return say("Request ", Code(request.id), " is already running or closed.")
        log.warning("break-glass: %s on %s runs without a second approver",
                    request.operation.value, request.pair)  # fmt: skip
        await self._record(
            "break_glass_used", caller.user, request.pair, "executing",
            {"request": request.id, "reason": reason},
        )  # fmt: skip
        broken = await self._requests.get(request.id) or request
        await self._announce_glass(broken, glass)
        self._gauge(len(await self._requests.unreviewed()))
        return say(
            "Break-glass: ", Code(request.operation.value), f" on {request.pair} is running "
            "without a second approver. Every approver has been told; one of them must "
            "review it.",
        )  # fmt: skip

    async def _announce_glass(self, request: Request, glass: Glass) -> None:
        """Loud: in the channel naming the approvers, a direct message to every approver,
        and a page to the approvers' on-call (if paging is on)."""
        command = self._settings.slack.command
        channel, card = await self._card_channel(request)
        if channel:
            approvers = self._settings.slack.approvers_mention
            post = breakglass.announcement(request, glass, approvers, command)
            await self._notify.post_card(request.pair, channel, render(post))
        link = await self._notify.link(card) if card is not None else None
        for user in sorted(await self._everyone_approving() - {glass.by}):
            await self._notify.direct(user, breakglass.approver_dm(request, glass, link, command))
        if self._paging is not None:
            page = glass_used(request, glass, card)
            await self._paging.send(self._settings.paging.pagers, page, approvers=True)

    # -- the review ----------------------------------------------------------------------

    async def review(self, caller: Caller, request_id: str, note: str) -> Reply:
        """`/ha review ID "what I checked"`: an approver who did not break the glass closes
        the review it owes."""
        request = await self._requests.get(request_id)
        if request is None:
            return say("There is no request ", Code(request_id), ".")
        glass = request.glass
        why = _review_refusal(request, caller)
        if why is not None:
            detail = {"request": request.id, "reason": plain(why)}
            await self._record("review_refused", caller.user, request.pair, "refused", detail)
            return refused(*why)
        assert glass is not None
        said = self._event(
            "break_glass_reviewed", caller.user, request.pair, "reviewed",
            {"request": request.id, "note": note, "broken_by": glass.by},
        )  # fmt: skip
        if not await self._requests.review_glass(request.id, caller.user, self._clock(), note,
                                                 said):  # fmt: skip
            return say("Request ", Code(request.id), "'s break-glass was reviewed by someone "
                       "else just now.")  # fmt: skip
        self._changed()
        await self._refresh_card(request)
        channel, card = await self._card_channel(request)
        if channel and card is not None:
            words = say("Break-glass reviewed by ", Person(caller.user), f": {note}")
            await self._notify.thread(request.pair, channel, card, words)
        if self._paging is not None:
            await self._paging.resolve(
                self._settings.paging.pagers, glass_reviewed(request), approvers=True
            )
        self._gauge(len(await self._requests.unreviewed()))
        return say("Break-glass on ", Code(request.id), " reviewed; thank you.")

    # -- the sweep -----------------------------------------------------------------------

    async def sweep(self) -> None:
        """Offer break-glass on the cards where it just became possible; remind daily of
        each missing review; export how many are owed."""
        if not self._rule.enabled:
            return
        now = self._clock()
        for request in await self._requests.in_states(RequestState.PENDING):
            if self._rule.offer_due(request, now):
                await self._offer(request, now)
        owed = await self._requests.unreviewed()
        for request in owed:
            await self._remind(request, now)
        self._gauge(len(owed))

    async def _offer(self, request: Request, now: datetime) -> None:
        if not await self._requests.offer_glass(request.id, now):
            return  # another sweep offered it, or it stopped waiting
        self._changed()
        await self._refresh_card(request)
        channel, card = await self._card_channel(request)
        words = breakglass.offered(request, self._settings.slack.command)
        if channel and card is not None:
            await self._notify.thread(request.pair, channel, card, words)
        await self._notify.direct(request.requester, words)

    async def _remind(self, request: Request, now: datetime) -> None:
        glass = request.glass
        assert glass is not None
        if not breakglass.reminder_due(glass.at, glass.reminded_at, now):
            return
        if not await self._requests.remind_glass(request.id, glass.reminded_at or glass.at, now):
            return
        channel, card = await self._card_channel(request)
        if channel and card is not None:
            words = breakglass.reminder(request, glass, self._settings.slack.command)
            await self._notify.thread(request.pair, channel, card, words)

    def _gauge(self, owed: int) -> None:
        if self._telemetry is not None:
            self._telemetry.glass_owed(owed)


def _review_refusal(request: Request, caller: Caller) -> tuple[Part, ...] | None:
    glass = request.glass
    if glass is None:
        return ("Request ", Code(request.id), " did not break the glass; there is no review "
                "to give.")  # fmt: skip
    if not glass.owed:
        return ("Request ", Code(request.id), "'s break-glass was already reviewed by ",
                Person(glass.reviewed_by or "?"), ".")  # fmt: skip
    if caller.user == glass.by:
        return ("You broke the glass on ", Code(request.id), "; a second person with the ",
                "approver role must review it.")  # fmt: skip
    if Access.APPROVER not in caller.roles:
        return ("Reviewing a break-glass needs the approver role.",)
    return None
