"""Deciding: approve, reject or cancel a pending request from its card (four eyes: the
last approval needed starts the run, once), and resolve one whose outcome was unknown."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from habot.core import unknown
from habot.core.approvals import (
    Decision,
    Request,
    RequestAction,
    RequestState,
    Ruling,
    closing_problem,
    judge,
)
from habot.core.blocks import Form
from habot.core.cards import (
    Where,
    approval_form,
    click_mismatch,
    closed_note,
    closing_form,
    pinned_note,
    told_requester,
)
from habot.core.freeze import PLANNED, held
from habot.core.grammar import Sub
from habot.core.paging import unknown_resolved
from habot.core.refusals import role_refusal
from habot.core.replies import Code, Person, Reply, When, plain, refused, say
from habot.core.roles import missing_role
from habot.core.stepup import Confirm, name_problem
from habot.core.totp import code_problem
from habot.services.leader import gone
from habot.services.operations.executing import Execution
from habot.services.operations.stage import Parts, Stage
from habot.services.ports import Caller

#: The audit kind of each action's refusal.
_REFUSED = {
    RequestAction.APPROVE: "approval_refused",
    RequestAction.REJECT: "reject_refused",
    RequestAction.CANCEL: "cancel_refused",
}
_CLOSES_TO = {
    RequestAction.REJECT: RequestState.REJECTED,
    RequestAction.CANCEL: RequestState.CANCELLED,
}


class Deciding(Stage):
    """Clicks on approval cards, and resolutions."""

    def __init__(self, parts: Parts, execution: Execution) -> None:
        super().__init__(parts)
        self._execution = execution

    async def click(
        self,
        action: RequestAction,
        caller: Caller,
        request_id: str,
        block_id: str,
        where: Where,
    ) -> Reply | Form:
        """A button on an approval card: honoured only from that card (habot's workspace,
        the card's channel, that request's buttons); refusals are audited."""
        if wrong := await self.click_refusal(caller, request_id, block_id, where, action.value):
            return wrong
        if action is RequestAction.APPROVE:
            return await self._approve_click(caller, request_id)
        close = self.reject if action is RequestAction.REJECT else self.cancel
        return await close(caller, request_id, None)

    async def click_refusal(
        self, caller: Caller, request_id: str, block_id: str, where: Where, action: str
    ) -> Reply | None:
        """Why a click on a request's button does not count (audited), or None when it
        comes from that request's card, in its channel, in habot's workspace."""
        card_channel, _ = await self._requests.card(request_id)
        wrong = click_mismatch(request_id, block_id, where, card_channel)
        if wrong is None:
            return None
        request = await self._requests.get(request_id)
        await self._record(
            "click_refused", caller.user, request.pair if request else None, "refused",
            {"request": request_id, "action": action, "reason": wrong,
             "channel": where.channel, "team": where.team},
        )  # fmt: skip
        return refused(wrong)

    async def _judged(
        self, caller: Caller, request_id: str, action: RequestAction
    ) -> Request | Reply:
        """The request when ``caller`` may take ``action`` on it now; else what to say (no
        such request, or the rules' refusal — audited)."""
        request = await self._requests.get(request_id)
        if request is None:
            return say("There is no request ", Code(request_id), ".")
        decision = judge(action, request, caller.user, caller.roles, self._clock())
        if decision.ruling is Ruling.REFUSED:
            return await self._refuse(_REFUSED[action], caller, request, decision)
        return request

    async def _approve_click(self, caller: Caller, request_id: str) -> Reply | Form:
        """Approve clicked: counted at once — or, for a step-up operation, the form in
        which the approver types the pair's name (when the rules allow them to approve)."""
        request = await self._judged(caller, request_id, RequestAction.APPROVE)
        if isinstance(request, Reply):
            return request
        if self._step_up.confirm(request.operation) is Confirm.CLICK:
            return await self.approve(caller, request_id)
        channel, _ = await self._card_channel(request)
        plan = await self._requests.plan(request.id)
        code = self._step_up.needs_code(request.operation)
        return approval_form(request, plan, channel or caller.channel or "", code)

    async def approve(
        self, caller: Caller, request_id: str, typed: str | None = None, code: str | None = None
    ) -> Reply:
        """An approver's approval: counted once; the last needed one starts the run, once.
        A step-up operation's counts only with its pair's name ``typed`` (and, with totp,
        the approver's current authenticator ``code``, accepted once)."""
        request = await self._judged(caller, request_id, RequestAction.APPROVE)
        if isinstance(request, Reply):
            return request
        # One asked for later is held by a freeze over its time, not one over now.
        at = request.run_at if request.run_at and request.run_at > self._clock() else None
        freeze = await self._freezes.holding(request.pair, at) if self._freezes else None
        if freeze is not None and request.operation in PLANNED:
            refusal = Decision(Ruling.REFUSED, held(freeze))
            return await self._refuse("approval_refused", caller, request, refusal)
        confirm = self._step_up.confirm(request.operation)
        wrong = name_problem(request.pair, typed) if confirm is Confirm.TYPE_PAIR_NAME else None
        if wrong is None and self._step_up.needs_code(request.operation):
            wrong = await self._code_problem(caller.user, code)
        if wrong is not None:
            refusal = Decision(Ruling.REFUSED, (wrong,))
            return await self._refuse("approval_refused", caller, request, refusal)
        totp = {"totp": True} if self._step_up.needs_code(request.operation) else {}
        said = self._event(
            "approved", caller.user, request.pair, "counted",
            {"request": request.id, "confirm": confirm.value, **totp},
        )  # fmt: skip
        count = await self._requests.add_approval(request.id, caller.user, self._clock(), said)
        if count is None:  # closed, or enough approvals, between reading it and counting
            now = await self._requests.get(request.id)
            if now is not None and now.state is RequestState.PENDING:
                return say(
                    "Request ", Code(request.id), " already has the approvals it needs and is "
                    "starting; yours was not needed.",
                )  # fmt: skip
            state = now.state.value if now else "closed"
            return say("Request ", Code(request.id), f" is already {state}; nothing was counted.")
        self._changed()
        request = replace(request, approvals=(*request.approvals, caller.user))
        if count < request.required:
            await self._refresh_card(request)
            return say(f"Approval counted; {request.required - count} more needed.")
        if request.run_at is not None and self._clock() < request.run_at:
            return await self._schedule(request, caller.user)
        return await self._execution.begin(request, None, caller.user)

    async def _schedule(self, request: Request, user: str) -> Reply:
        """The last approval of a request asked for later: it waits, scheduled, for its time
        (the sweep starts it then, once)."""
        assert request.run_at is not None
        said = self._event(
            "scheduled", user, request.pair, "scheduled",
            {"request": request.id, "run_at": request.run_at.isoformat()},
        )  # fmt: skip
        if not await self._requests.transition(
            request.id, RequestState.PENDING, RequestState.SCHEDULED, said=said
        ):
            return say("Request ", Code(request.id), " is already scheduled or closed.")
        self._changed()
        scheduled = replace(request, state=RequestState.SCHEDULED)
        await self._refresh_card(scheduled)
        await self._unpage(scheduled)  # the approvers are done: their page resolves
        return say(
            "Approved: ", Code(request.operation.value), f" on {request.pair} runs ",
            When(request.run_at), ", if the pair still looks as it does now. Its requester or "
            "an approver can cancel it until then.",
        )  # fmt: skip

    async def _code_problem(self, user: str, code: str | None) -> str | None:
        """Why ``code`` is not ``user``'s current authenticator code (None: it is, and it
        is now used up — a second use, here or on another replica, is refused)."""
        if self._codes is None:
            return (
                "This approval needs an authenticator code, but habot has no totp_key to read "
                "approvers' secrets with: `habot approver new-key` says how to set one."
            )
        problem, step = code_problem(await self._codes.enrolled(user), code, self._clock(), user)
        if problem is not None or step is None:
            return problem
        if not await self._codes.use(user, step):
            return "That code was already used: wait for your app's next one."
        return None

    async def reject(self, caller: Caller, request_id: str, reason: str | None = None) -> Reply:
        """An approver rejects a pending request (saying why, when asked to)."""
        return await self._close(caller, request_id, RequestAction.REJECT, reason)

    async def cancel(self, caller: Caller, request_id: str, reason: str | None = None) -> Reply:
        """The requester (or an approver) cancels a pending request."""
        return await self._close(caller, request_id, RequestAction.CANCEL, reason)

    async def closing_form(
        self, caller: Caller, request_id: str, action: RequestAction
    ) -> Reply | Form:
        """Reject or Cancel on a card: the form for why, or — when the rules already
        refuse the click — why not (audited)."""
        request = await self._judged(caller, request_id, action)
        if isinstance(request, Reply):
            return request
        channel, _ = await self._card_channel(request)
        required = self._settings.approval.reject_reason == "required"
        return closing_form(request, action, required, channel or caller.channel or "")

    async def _close(
        self, caller: Caller, request_id: str, action: RequestAction, reason: str | None
    ) -> Reply:
        state = _CLOSES_TO[action]
        request = await self._judged(caller, request_id, action)
        if isinstance(request, Reply):
            return request
        if problem := closing_problem(self._settings.approval.reject_reason, reason):
            return await self._refuse(_REFUSED[action], caller, request,
                                      Decision(Ruling.REFUSED, (problem,)))  # fmt: skip
        detail = {"request": request.id, **({"reason": reason} if reason else {})}
        said = self._event(state.value, caller.user, request.pair, state.value, detail)
        if not await self._requests.transition(
            request.id, request.state, state, {"reason": reason} if reason else None,
            said=said,
        ):  # fmt: skip
            return say("Request ", Code(request.id), " was already closed or started.")
        self._changed()
        note = closed_note(state, caller.user, reason)
        await self._refresh_card(request, note=note)
        await self._unpage(replace(request, state=state))
        await self._ended(request, state, note)
        if caller.user != request.requester:
            words = told_requester(request, state, caller.user, reason)
            await self._notify.direct(request.requester, words)
        return say("Request ", Code(request.id), f" {state.value}.")

    async def _refuse(
        self, kind: str, caller: Caller, request: Request, decision: Decision
    ) -> Reply:
        """A click the rules refuse: audited with the reason, and the reason told."""
        detail = {"request": request.id, "reason": decision.message}
        await self._record(kind, caller.user, request.pair, "refused", detail)
        return refused(*decision.words)

    async def resolve(self, caller: Caller, request_id: str, finding: str) -> Reply:
        """An approver closes a request whose outcome was unknown, saying what they found;
        the pair is open to operations again."""
        request = await self._requests.get(request_id)
        if request is None:
            return say("There is no request ", Code(request_id), ".")
        if request.state is not RequestState.UNKNOWN:
            return say(
                "Request ", Code(request.id), f" is {request.state.value}, not unknown: there "
                "is nothing to resolve.",
            )  # fmt: skip
        still = await self._may_still_run(request)
        if still is not None:
            detail = {"request": request.id, "reason": plain(still.parts)}
            await self._record("resolve_refused", caller.user, request.pair, "refused", detail)
            return still
        said = self._event(
            "resolved", caller.user, request.pair, "resolved",
            {"request": request.id, "finding": finding},
        )  # fmt: skip
        if not await self._requests.transition(
            request.id, RequestState.UNKNOWN, RequestState.RESOLVED, {"finding": finding}, said=said
        ):
            return say("Request ", Code(request.id), " was resolved by someone else just now.")
        self._changed()
        note = say("Resolved by ", Person(caller.user), f": {finding}")
        await self._refresh_card(request, note=note)
        await self._ended(request, RequestState.RESOLVED, note)
        channel, card = await self._card_channel(request)
        if channel and card is not None:
            await self._notify.thread(request.pair, channel, card, note)
        if self._paging is not None:
            pagers = self._settings.paging.pagers
            await self._paging.resolve(pagers, unknown_resolved(request), approvers=True)
        return say(
            "Request ", Code(request.id), f" resolved; {request.pair} is open to operations again."
        )

    async def note(self, caller: Caller, request_id: str, words: str) -> Reply:
        """A note on a request's timeline: audited (chained like any event, so an incident
        export carries it and `verify --timeline` checks it), and said in the card's thread
        and in the thread of the alert it was asked under."""
        request = await self._requests.get(request_id)
        if request is None:
            return say("There is no request ", Code(request_id), ".")
        await self._record("noted", caller.user, request.pair, "noted",
                           {"request": request.id, "note": words})  # fmt: skip
        said = pinned_note(caller.user, words)
        channel, card = await self._card_channel(request)
        if channel and card is not None:
            await self._notify.thread(request.pair, channel, card, said)
        await self._tell_alert(request, said)
        return say("Noted on the timeline of ", Code(request.id), " (", Code(
            f"{self._settings.slack.command} incident {request.id}"), " shows it).")  # fmt: skip

    async def resolve_form(self, caller: Caller, request_id: str) -> Reply | Form:
        """The Resolve button: the form for what they found — or why not (not an approver,
        no such request, or it is not unknown)."""
        if role := missing_role(Sub.RESOLVE, caller.roles):
            return role_refusal(Sub.RESOLVE, role, caller.roles, self._settings.slack.command)
        request = await self._requests.get(request_id)
        if request is None:
            return say("There is no request ", Code(request_id), ".")
        if request.state is not RequestState.UNKNOWN:
            return say("Request ", Code(request.id), f" is {request.state.value}: there is "
                       "nothing to resolve.")  # fmt: skip
        channel, _ = await self._card_channel(request)
        return unknown.resolve_form(request, channel or caller.channel or "")

    async def _may_still_run(self, request: Request) -> Reply | None:
        """Why an unknown run may still be going on its node (so resolving it now could
        let a second operation meet the first), or None once it cannot be: its process
        ended — here, or certainly dead in this place — or its longest time has passed."""
        runner = await self._requests.runner(request.id)
        here = runner == self._replica and self._execution.runs_here(request.id)
        if runner is None or gone(runner, self._replica) or (runner == self._replica and not here):
            return None
        if here or (self._alive is not None and await self._alive(runner)):
            return refused(
                "Not yet: the habot replica that ran ", Code(request.id), " is still alive, so "
                f"its {request.operation.value} may still be open on the node. Ask again once "
                "its card shows the outcome, or after that replica has stopped.",
            )  # fmt: skip
        until = await self._longest_end(request)
        if self._clock() < until:
            return refused(
                "Not yet: the habot replica that ran ", Code(request.id), " went silent, but "
                "its session on the node may still be open until its time limit has passed, "
                "at ", When(until), ". Check the node, then resolve it after that.",
            )  # fmt: skip
        return None

    async def _longest_end(self, request: Request) -> datetime:
        """When the run's commands must have ended at the latest: its start (from the audit;
        at worst the request's own deadline, before which it was approved) plus each
        command's time limit and login."""
        began = request.expires_at
        for record in await self._audit.recent(500, request.pair):
            event = record.event
            if event.kind == "executing" and event.detail.get("request") == request.id:
                began = event.at
                break
        plan = await self._requests.plan(request.id)
        commands = 2 if plan is not None and plan.joining_code_from is not None else 1
        ssh = self._settings.ssh
        return began + commands * (ssh.command_timeout + ssh.connect_timeout)
