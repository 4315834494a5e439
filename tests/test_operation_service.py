"""The operation flow against the simulator over SSH and a real SQLite database.

Slack is replaced at the Notifier port by a recorder; end-to-end Slack tests come with the
Slack wiring.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from habot.core.approvals import RequestState
from habot.core.asks import parse_operation
from habot.core.blocks import mrkdwn
from habot.core.model import NodeState, Role, Verdict
from habot.core.replies import Reply
from habot.core.roles import Access
from habot.services.operations.stage import MAX_DIRECT
from habot.services.ports import Caller
from habot.sim.simulator import Simulator
from habot.store import sql_stores
from habot.store.db import upgrade
from habot.store.memory import memory_stores
from tests.kit.world import (
    LEAD,
    LEAD2,
    OPERATOR,
    VIEWER,
    KnownApprovers,
    Recorder,
    World,
    shown,
    world_on,
)
from tests.kit.world import world as world  # the fixture


async def test_switchover_approved_runs_once_and_is_verified(world: World) -> None:
    """Operator asks, a second person approves, ha-failover runs once on the Primary,
    the card ends 'succeeded' with before/after, and every step is audited."""
    reply = await world.ask("switchover prod")
    assert "1 approval needed" in reply
    card = json.dumps(world.notifier.last().blocks)
    assert "runs `ha-failover` on the primary" in card
    assert "approve_request" in card
    assert '"confirm"' in card
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    await world.service.drain()
    assert world.runs() == [["primary", "ha-failover"]]
    assert world.sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.PROMOTED_ACTIVE
    final = json.dumps(world.notifier.last().blocks)
    assert "Succeeded" in final
    assert "*After:* Failed over" in final
    assert "approve_request" not in final  # buttons gone
    kinds = [r.event.kind for r in reversed(await world.audit.recent(50))]
    assert kinds == [
        "requested",
        "approved",
        "executing",
        "prompt_answered",
        "command_result",
        "succeeded",
    ]
    assert (await world.audit.verify()).ok
    [(who, outcome)] = [d for d in world.notifier.directs if d[0] == OPERATOR.user]
    assert who == OPERATOR.user
    assert outcome.startswith("Your `switchover` on prod: succeeded: the pair is now Failed over")
    assert "|its card>" in outcome
    assert any("Failover complete" in text for text in world.notifier.threads)  # progress


@dataclass
class FirstReplySlow(Recorder):
    """A Notifier whose first thread reply takes half a second to be stored (a busy
    database), while the ones after it would be stored at once."""

    waiting: bool = True

    async def thread(self, pair: str, channel: str, card: int, words: Reply) -> None:
        if self.waiting:
            self.waiting = False
            await asyncio.sleep(0.5)
        await super().thread(pair, channel, card, words)


async def test_progress_replies_keep_the_order_the_node_printed_them(world: World) -> None:
    """The command's output reaches the thread in the order the node printed it, even when
    the first reply (posted while the command still ran) is slow to be stored: the run's
    last reply waits for it rather than overtaking it."""
    notifier = FirstReplySlow()
    service = world.with_service(notifier=notifier)
    ask = parse_operation("switchover prod", ["prod"], now=world.clock(), zone=ZoneInfo("UTC"))
    await service.request(OPERATOR, ask)
    rid = json.dumps(notifier.last().blocks).split("request `")[1].split("`")[0]
    await service.approve(LEAD, rid)
    await service.drain()
    printed = ["This will hand operations over", "Do you want to continue?", "Failover complete"]
    where = [next(i for i, t in enumerate(notifier.threads) if p in t) for p in printed]
    assert where == sorted(where), notifier.threads
    assert len(notifier.threads) == 2  # the output while it ran, then the rest


async def test_each_approver_who_can_act_is_told_by_direct_message(world: World) -> None:
    """A new request: every approver but its requester gets a DM naming the operation, the
    pair, the request and a link to its card — the card is where they decide."""
    approvers = KnownApprovers(frozenset({LEAD.user, LEAD2.user, OPERATOR.user}))
    world.service = world.with_service(approvers=approvers)
    await world.ask("switchover prod")
    told = dict(world.notifier.directs)
    assert sorted(told) == [LEAD.user, LEAD2.user]  # not the requester
    note = told[LEAD.user]
    assert f"<@{OPERATOR.user}> asks for `switchover` on *prod*" in note
    assert f"`{world.request_id()}`" in note
    assert "<https://slack.example/card/1|its card>" in note


@pytest.mark.parametrize(
    ("who", "setting", "refuse"),
    [
        (None, True, None),  # everyone may approve: the card's mention is the notice
        (frozenset({"U0LEAD1"}), False, None),  # [slack] dm_approvers = false
        (frozenset({"U0LEAD1"}), True, "not_in_channel"),  # no card: nothing to act on
    ],
)
async def test_no_direct_messages_when_nobody_should_get_one(
    world: World, who: frozenset[str] | None, setting: bool, refuse: str | None
) -> None:
    """No direct message goes out when dm_approvers is off, nobody is known, or Slack refuses."""
    slack = world.settings.slack.model_copy(update={"dm_approvers": setting})
    settings = world.settings.model_copy(update={"slack": slack})
    world.notifier.refuse = refuse
    world.service = world.with_service(approvers=KnownApprovers(who), settings=settings)
    await world.ask("switchover prod")
    assert world.notifier.directs == []


async def test_direct_messages_are_capped_for_a_huge_approver_group(world: World) -> None:
    """A huge approver group gets at most MAX_DIRECT direct messages."""
    crowd = frozenset(f"U0LEAD{i:03d}" for i in range(300))
    world.service = world.with_service(approvers=KnownApprovers(crowd))
    await world.ask("switchover prod")
    assert len(world.notifier.directs) == MAX_DIRECT


async def test_the_outcomes_reading_is_the_pairs_newest(world: World) -> None:
    """The reading that judged a switchover is kept with the scheduled ones, so App Home
    and the digest show the pair as it is now — not as the last poll, taken before the
    change, saw it (found by the demo's browser test: Home said BAU after a failover)."""
    readings = memory_stores().readings
    world.service = world.with_service(readings=readings)
    await world.ask("switchover prod")
    await world.service.approve(LEAD, world.request_id())
    await world.service.drain()
    newest = await readings.last("prod")
    assert newest is not None
    assert newest.verdict is Verdict.FAILED_OVER
    assert (newest.primary, newest.secondary) == (NodeState.DEMOTED, NodeState.PROMOTED_ACTIVE)


async def test_a_question_after_the_confirmation_is_unknown_not_aborted(world: World) -> None:
    """The appliance asks a second [y/N] after the change was confirmed ("Restart the HA
    services now?"): refused, but past the point of no return — `unknown`, the pair read
    and reported, the cooldown started; never "aborted before running"."""
    world.sim.pairs["prod"].nodes[Role.PRIMARY].ask_twice = True
    await world.ask("switchover prod")
    await world.service.approve(LEAD, world.request_id())
    await world.service.drain()
    final = json.dumps(world.notifier.last().blocks)
    assert "Interrupted \\u2014 outcome unknown" in final
    assert "Aborted before running" not in final
    assert "The pair is now Failed over" in final
    assert "*After:* Failed over" in final
    assert "wait until" in await world.ask("failback prod")  # the cooldown started
    kinds = [r.event.kind for r in reversed(await world.audit.recent(50))]
    assert kinds[-1] == "request_refused"
    assert "unknown" in kinds


async def test_self_approval_and_non_approvers_are_refused(world: World) -> None:
    """The requester cannot approve their own request; a viewer cannot approve at all."""
    await world.ask("switchover prod")
    rid = world.request_id()
    own = await world.service.approve(Caller("U0OPS1", "C0HAOPS", frozenset(Access)), rid)
    assert "second person" in shown(own)
    viewer = await world.service.approve(VIEWER, rid)
    assert "*approver* role" in shown(viewer)
    assert world.runs() == []


async def test_twenty_concurrent_approvals_run_the_command_once(world: World) -> None:
    """Twenty approve clicks at once (double clicks, retries): the appliance runs it once."""
    await world.ask("switchover prod")
    rid = world.request_id()
    approvers = [Caller(f"U0LEAD{i}", "C0HAOPS", LEAD.roles) for i in range(10)]
    await asyncio.gather(*(world.service.approve(a, rid) for a in approvers * 2))
    await world.service.drain()
    assert world.runs() == [["primary", "ha-failover"]]


async def test_make_standalone_needs_two_approvers(world: World) -> None:
    """With required = 2 the first approval is counted and nothing runs until the second."""
    reply = await world.ask("make-standalone dr secondary")
    rid = world.request_id()
    assert "2 approvals needed" in reply
    assert "Redundancy ends" in json.dumps(world.notifier.last().blocks)
    first = await world.service.approve(LEAD, rid)
    assert "1 more needed" in shown(first)
    assert world.runs("dr") == []
    again = await world.service.approve(LEAD, rid)
    assert "already approved" in shown(again)
    await world.service.approve(LEAD2, rid)
    await world.service.drain()
    assert world.runs("dr") == [["secondary", "ha-make-standalone"]]


async def test_healthy_pair_refuses_failover_and_points_to_switchover(world: World) -> None:
    """Emergency failover on a BAU pair is refused with the right verb."""
    reply = await world.ask("failover prod")
    assert "use `switchover`" in reply
    assert world.notifier.cards == {}


async def test_expiry_closes_the_card_and_later_clicks_are_told(world: World) -> None:
    """Past its TTL a request expires, its buttons go, and an approve click is refused."""
    await world.ask("switchover prod")
    rid = world.request_id()
    world.clock.now += timedelta(minutes=16)
    assert await world.service.expire() == 1
    assert "Expired" in json.dumps(world.notifier.last().blocks)
    assert "approve_request" not in json.dumps(world.notifier.last().blocks)
    late = await world.service.approve(LEAD, rid)
    assert "already expired" in shown(late)
    assert world.runs() == []


async def test_cancel_by_the_requester(world: World) -> None:
    """The requester cancels; the pair is free for a new request."""
    await world.ask("switchover prod")
    rid = world.request_id()
    await world.service.cancel(OPERATOR, rid)
    assert "Cancelled" in json.dumps(world.notifier.last().blocks)
    assert "1 approval needed" in await world.ask("switchover prod")


async def test_one_operation_per_pair(world: World) -> None:
    """A second request for a pair with an open one is refused, linking to the open one."""
    await world.ask("switchover prod")
    rid = world.request_id()
    refused = await world.ask("make-standalone prod primary")
    assert f"already has an open request (`{rid}`)" in refused
    assert "<https://slack.example/card/1|its card>" in refused
    assert "`switchover` waiting for approval" in refused
    assert f"withdraw it with `/ha cancel {rid}`" in refused


async def test_a_pair_with_a_running_operation_says_so_and_takes_the_next_once_it_ends(
    world: World,
) -> None:
    """A joining code (required = 0) is handed out before its run closes: asking for
    initialise at once is refused as *running*, not as waiting for approval; once the run
    has ended the same request is taken."""
    world.sim.pairs["dr"].nodes[Role.SECONDARY].state = NodeState.STANDALONE
    assert "is running" in await world.ask("joining-code dr")
    rid = (await world.requests.in_states(RequestState.EXECUTING))[0].id
    busy = await world.ask("initialise dr")
    assert f"`joining-code` is running on dr right now (request `{rid}`)" in busy
    assert "Ask again once it has finished" in busy
    assert "waiting for approval" not in busy
    await world.service.drain()
    assert "1 approval needed" in await world.ask("initialise dr")


async def test_rejection_closes_the_request(world: World) -> None:
    """An approver rejects: the card says so, nothing runs, later approvals are refused."""
    await world.ask("switchover prod")
    rid = world.request_id()
    operator_try = await world.service.reject(OPERATOR, rid)
    assert "*approver* role" in shown(operator_try)
    await world.service.reject(LEAD, rid)
    assert "Rejected" in json.dumps(world.notifier.last().blocks)
    late = await world.service.approve(LEAD2, rid)
    assert "already rejected" in shown(late)
    assert world.runs() == []
    assert [r.event.kind for r in await world.audit.recent(1)] == ["approval_refused"]
    assert "rejected" in [r.event.kind for r in await world.audit.recent(5)]


async def test_pending_lists_open_requests(world: World) -> None:
    """`/ha pending` lists open requests with their approvals."""
    assert "No open requests" in shown(await world.service.pending())
    await world.ask("switchover prod")
    listed = shown(await world.service.pending())
    assert f"`{world.request_id()}` switchover prod (primary)" in listed
    assert "0/1 approvals" in listed


async def test_pending_lists_a_request_of_unknown_outcome_with_the_way_out(world: World) -> None:
    """A request whose outcome is unknown holds its pair, so `/ha pending` lists it too —
    with how to close it."""
    await world.ask("switchover prod")
    rid = world.request_id()
    await world.requests.transition(rid, RequestState.PENDING, RequestState.EXECUTING)
    await world.service.recover()
    listed = mrkdwn(await world.service.pending())
    assert f"`{rid}` switchover prod (primary) — outcome unknown" in listed
    assert f'prod is closed until an approver checks it and runs `/ha resolve {rid} "what' in listed


async def test_topology_change_before_approval_aborts(world: World) -> None:
    """If the pair changes between request and approval, nothing runs."""
    await world.ask("switchover prod")
    rid = world.request_id()
    await world.sim.apply("prod", "pair", "degraded", "on")
    await world.service.approve(LEAD, rid)
    await world.service.drain()
    assert world.runs() == []
    card = json.dumps(world.notifier.last().blocks)
    assert "Aborted" in card
    assert "it is now Degraded" in card


async def test_interrupted_execution_becomes_unknown_and_is_not_rerun(world: World) -> None:
    """A request left executing by a crash is marked unknown at start, never re-run."""
    await world.ask("switchover prod")
    rid = world.request_id()
    store = world.requests
    await store.transition(rid, RequestState.PENDING, RequestState.EXECUTING)
    assert await world.service.recover() == 1
    assert await world.state(rid) is RequestState.UNKNOWN
    assert "Interrupted" in json.dumps(world.notifier.last().blocks)
    await world.service.drain()
    assert world.runs() == []


async def test_an_unknown_outcome_closes_the_pair_until_a_person_resolves_it(
    world: World,
) -> None:
    """After an interrupted run, a new request is refused with how to resolve it; an
    approver's `resolve` (audited, shown on the card) opens the pair again."""
    await world.ask("switchover prod")
    rid = world.request_id()
    store = world.requests
    await store.transition(rid, RequestState.PENDING, RequestState.EXECUTING)
    await world.service.recover()
    refused = await world.ask("switchover prod")
    assert "is unknown, so prod is closed to new operations" in refused
    assert f"resolve {rid}" in refused
    done = await world.service.resolve(LEAD, rid, "console shows failover never ran")
    assert "open to operations again" in shown(done)
    card = json.dumps(world.notifier.last().blocks)
    assert "console shows failover never ran" in card
    again = await world.service.resolve(LEAD, rid, "twice")
    assert "nothing to resolve" in shown(again)
    assert "1 approval needed" in await world.ask("switchover prod")
    [resolved] = [r for r in await world.audit.recent(50) if r.event.kind == "resolved"]
    assert resolved.event.actor == LEAD.user
    assert resolved.event.detail["finding"] == "console shows failover never ran"


async def test_a_run_on_a_live_replica_is_not_declared_interrupted(world: World) -> None:
    """Replica B's housekeeping leaves A's running request alone while A beats, and marks
    it unknown once A is gone."""
    await world.ask("switchover prod")
    rid = world.request_id()
    store = world.requests
    await store.transition(rid, RequestState.PENDING, RequestState.EXECUTING, runner="A")
    beating = {"A": True}

    async def alive(replica: str) -> bool:
        return beating.get(replica, False)

    replica_b = world.with_service(replica="B", alive=alive)
    assert await replica_b.recover() == 0
    assert await world.state(rid) is RequestState.EXECUTING
    beating["A"] = False
    assert await replica_b.recover() == 1
    assert await world.state(rid) is RequestState.UNKNOWN


class PausingRunner:
    """The real SSH runner, with a pause injected at the point of no return: right before
    the confirmation would be answered, ``meanwhile`` runs (another replica acting while
    this one is frozen)."""

    def __init__(self, runner: Any, meanwhile: Callable[[], Awaitable[object]]) -> None:
        self._runner = runner
        self._meanwhile = meanwhile

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        gate = kwargs.get("confirm_gate")
        if gate is not None:

            async def paused_gate() -> bool:
                await self._meanwhile()
                return bool(await gate())

            kwargs["confirm_gate"] = paused_gate
        return await self._runner.run(*args, **kwargs)


async def switchover_on_a_frozen_replica(world: World, pausing: Any) -> str:
    """Replica A runs an approved switchover through ``pausing`` (a runner wrapper that
    freezes A at some moment), during which replica B — which believes A dead — sweeps for
    interrupted runs. Returns the request id."""
    replica_b = world.with_service(replica="B", alive=_never_alive)
    replica_a = world.with_service(runner=pausing(world.runner, replica_b.recover), replica="A")
    names = [p.name for p in world.settings.pairs]
    await replica_a.request(OPERATOR, parse_operation("switchover prod", names))
    rid = world.request_id()
    await replica_a.approve(LEAD, rid)
    await replica_a.drain()
    return rid


async def test_a_paused_replica_does_not_pass_the_point_of_no_return(world: World) -> None:
    """Replica A runs a switchover; just before it answers the confirmation it is frozen
    and replica B (which believes A dead) declares the request unknown. A asks the database
    whether it still owns the request — it does not — so the confirmation is not answered,
    nothing changes on the appliance, A leaves the state to B and the pair stays closed
    until a person resolves it."""
    rid = await switchover_on_a_frozen_replica(world, PausingRunner)
    prod = world.sim.pairs["prod"].nodes
    assert (prod[Role.PRIMARY].state, prod[Role.SECONDARY].state) == (
        NodeState.ACTIVE,
        NodeState.STANDBY,
    )
    assert world.runs() == [["primary", "ha-failover"]]  # sent, but never confirmed
    assert await world.state(rid) is RequestState.UNKNOWN
    kinds = [r.event.kind for r in reversed(await world.audit.recent(50))]
    assert "prompt_answered" not in kinds
    assert kinds[-2:] == ["unknown", "abandoned"]
    assert "closed to new operations" in await world.ask("switchover prod")


class LatePausingRunner:
    """The real SSH runner; once the command has finished (confirmation answered, change
    made), ``meanwhile`` runs — another replica acting while this one was frozen just past
    the point of no return."""

    def __init__(self, runner: Any, meanwhile: Callable[[], Awaitable[object]]) -> None:
        self._runner = runner
        self._meanwhile = meanwhile

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._runner.run(*args, **kwargs)
        if kwargs.get("answer_prompt"):
            await self._meanwhile()
        return result


async def test_an_outcome_seen_after_another_replica_closed_the_run_is_kept(
    world: World,
) -> None:
    """A answers the confirmation (owning the request), then freezes; B declares the run
    unknown. When A comes back and sees the switchover succeed, the request stays unknown
    (a person resolves it), but what A saw is audited as a late outcome and told in the
    card's thread — not thrown away."""
    rid = await switchover_on_a_frozen_replica(world, LatePausingRunner)
    assert await world.state(rid) is RequestState.UNKNOWN
    [late] = [r.event for r in await world.audit.recent(50) if r.event.kind == "late_outcome"]
    assert late.outcome == "succeeded"
    assert late.detail["replica"] == "A"
    assert "succeeded" in late.detail["seen"]
    assert any("declared interrupted by another habot replica" in t for t in world.notifier.threads)
    assert world.runs() == [["primary", "ha-failover"]]


class LockingRunner:
    """The real SSH runner; as a command finishes, another process takes the SQLite write
    lock and holds it for ``hold`` seconds (longer than the 5 s busy timeout)."""

    def __init__(self, runner: Any, database: str, hold: float) -> None:
        self._runner, self._database, self._hold = runner, database, hold
        self.held = threading.Event()

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._runner.run(*args, **kwargs)
        if kwargs.get("answer_prompt"):
            threading.Thread(target=self._lock, daemon=True).start()
            await asyncio.to_thread(self.held.wait, 10)
        return result

    def _lock(self) -> None:
        with sqlite3.connect(self._database, isolation_level=None) as conn:
            conn.execute("BEGIN IMMEDIATE")
            self.held.set()
            time.sleep(self._hold)
            conn.execute("COMMIT")


async def test_a_database_locked_at_the_end_of_an_operation_loses_no_outcome(
    sim: Simulator, tmp_path: Path, engines: Callable[[str], Engine]
) -> None:
    """Another process holds the write lock for 8 s just as the switchover finishes (the
    appliance has failed over): the outcome, its audit events and its card are written
    once the lock goes — nothing lost, the pair free again — and the retries are counted.
    (SQLite's write lock: PostgreSQL has no such whole-database lock to hold.)"""
    database = tmp_path / "locked.db"
    engine = engines(f"sqlite:///{database}")
    upgrade(engine)
    async with world_on(sim, sql_stores(engine)) as world:
        await _locked_at_the_end(world, str(database))


async def _locked_at_the_end(world: World, database: str) -> None:
    busy: list[int] = []
    locking = LockingRunner(world.runner, database, hold=8.0)
    service = world.with_service(runner=locking, on_busy=lambda: busy.append(1))
    names = [p.name for p in world.settings.pairs]
    await service.request(OPERATOR, parse_operation("switchover prod", names))
    rid = world.request_id()
    await service.approve(LEAD, rid)
    await service.drain()
    assert locking.held.is_set()
    assert busy  # the lock was met, and retried
    assert await world.state(rid) is RequestState.SUCCEEDED
    assert "Succeeded" in json.dumps(world.notifier.last().blocks)
    kinds = [r.event.kind for r in reversed(await world.audit.recent(50))]
    assert kinds[-3:] == ["prompt_answered", "command_result", "succeeded"]
    assert (await world.audit.verify()).ok
    assert "1 approval needed" in await world.ask("failback prod --override 'test'")


async def _never_alive(replica: str) -> bool:
    return False


async def test_a_card_slack_refuses_withdraws_the_request(world: World) -> None:
    """Slack will not take the card (habot is not in the channel): nobody could approve it,
    so the request is withdrawn at once, the asker is told why and what to do, it is
    audited, and the pair is free for a request from a channel that works."""
    world.notifier.refuse = "not_in_channel"
    reply = await world.ask("switchover prod")
    assert "withdrawn: Slack refused its approval card (`not_in_channel`)" in reply
    assert "/invite @habot" in reply
    [event] = [r.event for r in await world.records() if r.event.kind == "cancelled"]
    assert event.actor == "habot"
    assert "not_in_channel" in event.detail["reason"]
    world.notifier.refuse = None
    assert "approval needed" in await world.ask("switchover prod")


async def test_a_card_slack_is_slow_to_take_is_said_plainly(world: World) -> None:
    """A card still queued (Slack slow or down): the request stays open and the asker is
    told the card will appear when Slack takes it."""
    world.notifier.slow = True
    reply = await world.ask("switchover prod")
    assert "Slack is slow to take its card" in reply
    assert "pending" in shown(await world.service.pending())


async def test_joining_code_goes_only_to_the_requester(world: World) -> None:
    """With required = 0 it runs at once; the code reaches only the requester, and the
    outcome they are sent says how to get one again if they missed it (it is stored
    nowhere)."""
    await world.sim.apply("dr", "secondary", "down")
    world.sim.pairs["dr"].nodes[Role.SECONDARY].state = NodeState.STANDALONE
    await world.sim.apply("dr", "secondary", "up")
    reply = await world.ask("joining-code dr")
    assert "is running" in reply
    await world.service.drain()
    [(user, text)] = world.notifier.secrets  # sent directly, never queued
    assert user == OPERATOR.user
    code = text.split("Joining code: ")[1].split()[0]
    assert code not in world.notifier.everything()  # nor in any card, thread or queued note
    exported = json.dumps([r.as_dict() for r in await world.records()])
    assert code not in exported
    [result] = [r for r in await world.records() if r.event.kind == "command_result"]
    assert result.event.output_digest is None  # a digest of a short code could be reversed
    assert result.event.detail["output"] == "withheld: secret"
    [told] = [t for u, t in world.notifier.directs if t.startswith("Your `joining-code`")]
    assert "The code was shown to you once, in the channel, and is stored nowhere." in told
    assert "`/ha joining-code dr` asks for a new one if you missed it." in told
    assert code not in told


async def test_an_approved_joining_code_card_says_how_to_get_another(world: World) -> None:
    """Asked with an approval, the finished card says who saw the code and how to ask
    again; it never shows the code."""
    rules = dict(world.settings.approval.operations)
    rules["joining-code"] = rules["joining-code"].model_copy(update={"required": 1})
    approval = world.settings.approval.model_copy(update={"operations": rules})
    world.settings = world.settings.model_copy(update={"approval": approval})
    world.service = world.with_service(settings=world.settings)
    world.sim.pairs["dr"].nodes[Role.SECONDARY].state = NodeState.STANDALONE
    await world.ask("joining-code dr")
    await world.service.approve(LEAD, world.request_id())
    await world.service.drain()
    card = json.dumps(world.notifier.last().blocks, ensure_ascii=False)
    assert "Succeeded" in card
    assert "shown once, only to <@U0OPS1>, and is stored nowhere" in card
    assert "Not seen it? Ask again: `/ha joining-code dr`." in card
    [(_, secret)] = world.notifier.secrets
    assert secret.split("Joining code: ")[1].split()[0] not in card


async def test_the_approve_dialog_of_make_standalone_carries_the_cards_warning(
    world: World,
) -> None:
    """The confirm dialog is the last thing an approver reads: it says redundancy ends."""
    world.sim.pairs["prod"].nodes[Role.SECONDARY].state = NodeState.STANDALONE
    await world.ask("make-standalone prod primary")
    [actions] = [b for b in world.notifier.last().blocks if b["type"] == "actions"]
    [approve] = [e for e in actions["elements"] if e["action_id"] == "approve_request"]
    dialog = approve["confirm"]["text"]["text"]
    assert dialog.endswith(":warning: Redundancy ends: prod will no longer be an HA pair.")
    assert len(dialog) <= 300  # Slack's limit for a confirm dialog's text


async def test_cooldown_after_a_role_change_and_override(world: World) -> None:
    """After a switchover, a new request waits 10 min unless overridden (and shown)."""
    await world.ask("switchover prod")
    await world.service.approve(LEAD, world.request_id())
    await world.service.drain()
    refused = await world.ask("failback prod")
    assert "wait until <!date^" in refused
    assert "|03:10 UTC>" in refused
    allowed = await world.ask("failback prod --override \u201cvendor asked us to\u201d")
    assert "1 approval needed" in allowed
    assert "Cooldown overridden:* vendor asked us to" in json.dumps(world.notifier.last().blocks)
    world.clock.now += timedelta(minutes=11)


async def test_a_joining_code_is_not_held_back_by_the_cooldown(world: World) -> None:
    """Making the Primary standalone changes roles (it stops serving): a failback would
    wait, but a joining code changes no roles and is handed out at once."""
    world.sim.pairs["prod"].nodes[Role.SECONDARY].state = NodeState.STANDALONE
    await world.ask("make-standalone prod primary")
    rid = world.request_id()
    for approver in (LEAD, Caller("U0LEAD2", "C0HAOPS", LEAD.roles)):
        await world.service.approve(approver, rid)
    await world.service.drain()
    assert await world.requests.last_change("prod") is not None  # cooldown running
    assert "wait until" in await world.ask("initialise prod")
    await world.ask("joining-code prod")
    await world.service.drain()
    assert world.runs()[-1] == ["secondary", "ha-create-joining-code"]
    assert world.notifier.secrets[-1][0] == OPERATOR.user


async def test_unparsed_status_fails_closed(world: World) -> None:
    """If a node's output cannot be understood, no operation is allowed."""
    await world.sim.apply("prod", "secondary", "garbage", "on")
    assert "cannot evaluate the preconditions" in await world.ask("switchover prod")


async def test_approve_racing_cancel_never_revives_a_cancelled_card(world: World) -> None:
    """Approve and cancel at the same moment, many times: whichever wins, the card ends
    showing what the database holds — a cancelled request is never painted back to
    "Waiting" with live buttons, a late approval is not counted, and the audit says it in
    the order it happened (never "approved" after "cancelled")."""
    for _ in range(8):
        await world.ask("make-standalone dr secondary")  # needs two approvals
        rid = world.request_id()
        card = max(world.notifier.cards)
        await asyncio.gather(world.service.approve(LEAD, rid), world.service.cancel(OPERATOR, rid))
        state = await world.state(rid)
        assert state is RequestState.CANCELLED
        shown = json.dumps(world.notifier.cards[card][-1].blocks)
        assert "Cancelled" in shown
        assert "approve_request" not in shown
        kinds = [
            r.event.kind
            for r in await world.records()
            if r.event.detail.get("request") == rid
            and r.event.kind in {"requested", "approved", "cancelled"}
        ]
        assert kinds in (["requested", "cancelled"], ["requested", "approved", "cancelled"])
    assert world.runs("dr") == []


async def test_resolve_is_refused_while_the_interrupted_run_may_still_be_open(
    world: World,
) -> None:
    """Replica A is frozen mid-switchover and B declares the run unknown. While A's
    heartbeat is current, or until the run's longest time has passed since it began (A's
    session may still be open on the node), an approver's resolve is refused, saying why
    and when to try again, and audited; after that it goes through."""
    beating = {"A": True}
    answers: list[str] = []

    async def alive(replica: str) -> bool:
        return beating.get(replica, False)

    replica_b = world.with_service(replica="B", alive=_never_alive)

    async def meanwhile() -> None:
        await replica_b.recover()
        rid = world.request_id()
        judge_b = world.with_service(replica="B", alive=alive)
        answers.append(shown(await judge_b.resolve(LEAD, rid, "looked")))
        beating["A"] = False
        answers.append(shown(await judge_b.resolve(LEAD, rid, "looked")))

    replica_a = world.with_service(runner=PausingRunner(world.runner, meanwhile), replica="A")
    names = [p.name for p in world.settings.pairs]
    await replica_a.request(OPERATOR, parse_operation("switchover prod", names))
    rid = world.request_id()
    await replica_a.approve(LEAD, rid)
    await replica_a.drain()
    still_alive, silent = answers
    assert "is still alive, so its switchover may still be open on the node" in still_alive
    assert "may still be open until its time limit has passed, at <!date^" in silent
    assert await world.state(rid) is RequestState.UNKNOWN
    refusals = [r.event for r in await world.audit.recent(50) if r.event.kind == "resolve_refused"]
    assert len(refusals) == 2
    ssh = world.settings.ssh
    world.clock.now += ssh.command_timeout + ssh.connect_timeout + timedelta(seconds=1)
    done = await world.with_service(replica="B", alive=alive).resolve(LEAD, rid, "checked")
    assert "open to operations again" in shown(done)
