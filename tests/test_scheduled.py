"""Operations asked for later: `/ha switchover prod at sat 02:00` collects its approvals now,
waits as "scheduled" (holding the pair for planned operations), and at its time re-reads
both nodes and runs — once — only if the pair still has the shape its approvers saw and no
freeze holds it. Past its time + run_window it expires: it never runs late."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from habot.core.approvals import Request, RequestState
from habot.core.asks import operation_ask, parse_operation
from habot.core.cards import APPROVE, CANCEL, request_form
from habot.core.change import ChangeRule
from habot.core.freeze import Freeze
from habot.core.grammar import UsageError
from habot.core.home import dashboard
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation
from habot.core.replies import plain
from habot.core.schedule import Step, Timing, countdown, schedule_refusal, step
from habot.services.freezes import FreezeService
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from habot.slack.handlers import _asked as asked_in_form
from tests.kit.world import LEAD, LEAD2, OPERATOR, World, shown, world, world_on

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
TIMING = Timing(within=timedelta(days=14), run_window=timedelta(minutes=15),
                remind_before=timedelta(minutes=15))  # fmt: skip
LONDON = ZoneInfo("Europe/London")
PAIRS = ["prod", "dr"]
__all__ = ["world"]  # the fixture, shared with test_operation_service


# -- the rules, as tables ------------------------------------------------------------------


def _freeze(ends: datetime) -> Freeze:
    return Freeze("f1", ("prod",), NOW, ends, "month-end close", "U0LEAD1")


@pytest.mark.parametrize(
    ("operation", "run_at", "freeze", "words"),
    [
        (Operation.SWITCHOVER, NOW + timedelta(hours=12), None, None),
        (Operation.MAKE_STANDALONE, NOW + timedelta(days=14), None, None),
        (Operation.FAILOVER, NOW + timedelta(hours=1), None, "can be asked for later"),
        (Operation.JOINING_CODE, NOW + timedelta(hours=1), None, "runs when it is approved"),
        (Operation.SWITCHOVER, NOW, None, "has already passed"),
        (Operation.SWITCHOVER, NOW - timedelta(minutes=1), None, "has already passed"),
        (Operation.SWITCHOVER, NOW + timedelta(days=14, seconds=1), None, "schedule_within"),
        (Operation.FAILBACK, NOW + timedelta(hours=2), _freeze(NOW + timedelta(days=1)),
         "A change freeze holds prod then (month-end close)"),
    ],
)  # fmt: skip
def test_what_may_be_asked_for_later(
    operation: Operation, run_at: datetime, freeze: Freeze | None, words: str | None
) -> None:
    """Planned operations only; a time to come, within schedule_within, outside a freeze."""
    refusal = schedule_refusal(operation, run_at, NOW, TIMING, freeze)
    if words is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert words in plain(refusal)


def _request(state: RequestState, run_at: datetime | None, reminded: bool = False) -> Request:
    at = run_at or NOW
    return Request(
        "r1", Operation.SWITCHOVER, "prod", Role.PRIMARY, "U0OPS1", NOW - timedelta(hours=1),
        at + TIMING.run_window, 1, (Verdict.BAU, NodeState.ACTIVE, NodeState.STANDBY),
        state=state, run_at=run_at, run_reminded=NOW if reminded else None,
    )  # fmt: skip


T = NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("state", "run_at", "now", "reminded", "expected"),
    [
        (RequestState.SCHEDULED, T, T - timedelta(hours=1), False, Step.WAIT),
        (RequestState.SCHEDULED, T, T - timedelta(minutes=15), False, Step.REMIND),
        (RequestState.SCHEDULED, T, T - timedelta(minutes=5), True, Step.WAIT),
        (RequestState.PENDING, T, T - timedelta(minutes=5), False, Step.REMIND),
        (RequestState.SCHEDULED, T, T, True, Step.RUN),
        (RequestState.SCHEDULED, T, T, False, Step.RUN),  # late for a reminder: it runs
        (RequestState.SCHEDULED, T, T + timedelta(minutes=14, seconds=59), True, Step.RUN),
        (RequestState.SCHEDULED, T, T + timedelta(minutes=15), True, Step.EXPIRE),
        (RequestState.SCHEDULED, T, T + timedelta(days=2), True, Step.EXPIRE),
        (RequestState.PENDING, T, T + timedelta(minutes=1), True, Step.WAIT),  # not approved
        (RequestState.PENDING, T, T + timedelta(minutes=15), True, Step.EXPIRE),
        (RequestState.EXECUTING, T, T + timedelta(minutes=20), True, Step.WAIT),
        (RequestState.PENDING, None, T, False, Step.WAIT),  # not asked for later
    ],
)  # fmt: skip
def test_the_run_window_rule(
    state: RequestState, run_at: datetime | None, now: datetime, reminded: bool, expected: Step
) -> None:
    """Runs from its time until its window ends, approved; past the window it expires,
    never late; reminded once before."""
    assert step(_request(state, run_at, reminded), now, TIMING) is expected


@pytest.mark.parametrize(
    ("text", "zone", "run_at"),
    [
        ("switchover prod at 2026-12-05T02:00:30", LONDON,
         datetime(2026, 12, 5, 2, 0, 30, tzinfo=UTC)),
        ("switchover prod at sat 02:00", ZoneInfo("America/New_York"),
         datetime(2026, 12, 5, 7, 0, tzinfo=UTC)),
        ("failback prod at tomorrow 02:00 \"DR test\" CHG0001",
         ZoneInfo("Asia/Kolkata"), datetime(2026, 12, 3, 20, 30, tzinfo=UTC)),  # 19:30 there now
        ("make-standalone prod secondary at 2026-12-24T18:00+01:00", LONDON,
         datetime(2026, 12, 24, 17, 0, tzinfo=UTC)),
        # the night London's clocks go back, 01:30 happens twice: the first (BST) is taken
        ("switchover prod at 2026-10-25 01:30", LONDON, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_when_is_read_in_the_askers_time_zone(text: str, zone: ZoneInfo, run_at: datetime) -> None:
    """ISO times (with seconds or an offset), `sat 02:00`, `tomorrow 02:00` — each read in
    the zone given; the zone is kept with the request."""
    ask = parse_operation(text, PAIRS, now=NOW, zone=zone)
    assert ask.run_at == run_at
    assert ask.zone == zone.key


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("switchover prod at 2027-03-28 01:30", "does not exist in Europe/London"),
        ("switchover prod at", "Say when"),
        ("switchover prod at someday", "is not a moment habot understands"),
        ("switchover prod at 02:00 extra words", "Unexpected"),
    ],
)
def test_a_bad_time_says_what_is_wrong(text: str, words: str) -> None:
    """A local time the clocks skip is refused, not moved; other mistakes are named."""
    with pytest.raises(UsageError) as info:
        parse_operation(text, PAIRS, now=NOW, zone=LONDON)
    assert words in str(info.value)


def test_only_operations_that_may_be_scheduled_show_at_when_in_their_usage() -> None:
    """The usage line offers `at WHEN` where it can be used."""
    with pytest.raises(UsageError) as switchover:
        parse_operation("switchover", PAIRS, now=NOW, zone=LONDON)
    with pytest.raises(UsageError) as failover:
        parse_operation("failover", PAIRS, now=NOW, zone=LONDON)
    assert "[at WHEN]" in str(switchover.value)
    assert "[at WHEN]" not in str(failover.value)


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(days=3, hours=1), "in 3 days"),
        (timedelta(hours=26), "in 26 h"),
        (timedelta(hours=2), "in 2 h"),
        (timedelta(minutes=119), "in 115 min"),
        (timedelta(minutes=9, seconds=59), "in 9 min"),
        (timedelta(seconds=20), "in 1 min"),
        (timedelta(0), "now"),
    ],
)
def test_the_countdown_on_the_card(left: timedelta, words: str) -> None:
    """Coarse, as people say it."""
    assert countdown(NOW + left, NOW) == words


# -- the service ---------------------------------------------------------------------------


@pytest.fixture
async def frozen_world(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    """The service with freezes, on the in-memory stores."""
    async with world_on(sim, memory) as world:
        world.service = world.with_service(freezes=FreezeService(memory.freezes, world.clock))
        yield world


async def _at(world: World, minutes: int) -> str:
    """The clock moved ``minutes`` from its start, then the sweep."""
    world.clock.now = START + timedelta(minutes=minutes)
    await world.service.housekeeping()
    await world.service.drain()
    return world.notifier.everything()


START = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # the test clock's start


async def test_an_approved_switchover_waits_for_its_time_and_runs_once(world: World) -> None:
    """Approved now, it is scheduled: nothing runs before its time; at its time it runs,
    once, however many sweeps follow; the reminder names who asked and who approved."""
    reply = await world.ask("switchover prod at 2026-11-26T05:00")
    assert "runs" in reply
    assert "once approved" in reply
    rid = world.request_id()
    card = json.dumps(world.notifier.last().blocks)
    assert "Runs <!date^" in card
    assert "(in 2 h)" in card
    approved = shown(await world.service.approve(LEAD, rid))
    assert "runs" in approved
    assert "cancel" in approved
    assert await world.state(rid) is RequestState.SCHEDULED
    buttons = json.dumps(world.notifier.last().blocks)
    assert APPROVE not in buttons  # decided: only Cancel is left
    assert CANCEL in buttons
    await _at(world, 30)
    assert world.runs() == []
    await _at(world, 106)  # 14 minutes before: reminded
    reminder = world.notifier.threads[-1]
    assert "Reminder" in reminder
    assert "<@U0OPS1>" in reminder
    assert "<@U0LEAD1>" in reminder
    await _at(world, 110)
    assert sum("Reminder" in t for t in world.notifier.threads) == 1
    assert world.runs() == []
    await _at(world, 120)
    await _at(world, 121)
    assert [run[1] for run in world.runs()] == [
        "ha-failover"
    ]  # a switchover promotes the Secondary
    assert await world.state(rid) is RequestState.SUCCEEDED
    kinds = [r.event.kind for r in await world.records()]
    assert kinds.count("executing") == 1
    assert "scheduled" in kinds


async def test_a_pair_that_changed_shape_before_its_time_aborts_naming_the_check(
    world: World, sim: Simulator
) -> None:
    """Approve-what-you-saw: at its time the pair is re-read; a different shape aborts it."""
    await world.ask("switchover prod at 2026-11-26T04:00")
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    await sim.apply("prod", "secondary", "down")
    await _at(world, 60)
    assert await world.state(rid) is RequestState.ABORTED
    assert world.runs() == []
    card = shown(world.notifier.last())
    assert "Aborted" in card
    assert "Nothing ran" in card


async def test_a_time_that_passed_without_a_run_expires_and_never_runs_late(
    world: World,
) -> None:
    """Habot (or its database) was down across its time and its window: the first sweep
    after expires it, saying so; nothing runs."""
    await world.ask("switchover prod at 2026-11-26T04:00")
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    text = await _at(world, 60 + 15)
    assert await world.state(rid) is RequestState.EXPIRED
    assert world.runs() == []
    assert "never runs late" in text
    await _at(world, 90)
    assert world.runs() == []


async def test_a_restart_within_the_window_still_runs_it(world: World) -> None:
    """Its time passed while habot was down, but within run_window: it runs, once."""
    await world.ask("switchover prod at 2026-11-26T04:00")
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    again = world.with_service()  # a fresh process on the same database
    world.clock.now = START + timedelta(minutes=70)
    await again.recover()
    await again.housekeeping()
    await again.drain()
    assert await world.state(rid) is RequestState.SUCCEEDED
    assert len(world.runs()) == 1


async def test_two_replicas_sweeping_at_its_time_start_it_once(world: World) -> None:
    """Both sweeps find it due; the compare-and-set lets one start it (each knows the
    other is alive, as their heartbeats tell them)."""

    async def alive(replica: str) -> bool:
        return replica in {"a", "b"}

    a, b = (world.with_service(replica=name, alive=alive) for name in "ab")
    await world.ask("switchover prod at 2026-11-26T04:00")
    rid = world.request_id()
    await a.approve(LEAD, rid)
    world.clock.now = START + timedelta(minutes=60)
    await asyncio.gather(a.housekeeping(), b.housekeeping())
    await asyncio.gather(a.drain(), b.drain())
    assert [run[1] for run in world.runs()] == ["ha-failover"]
    assert await world.state(rid) is RequestState.SUCCEEDED
    kinds = [r.event.kind for r in await world.records()]
    assert kinds.count("executing") == 1


async def test_cancel_before_its_time_and_no_reject_once_approved(world: World) -> None:
    """Its requester or an approver cancels it until it starts; approvers no longer
    reject it (it is decided) — they cancel it, and nothing runs."""
    await world.ask("switchover prod at 2026-11-26T04:00")
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    rejected = shown(await world.service.reject(LEAD2, rid))
    assert "approved and runs" in rejected
    assert "cancelled" in shown(await world.service.cancel(OPERATOR, rid, "not needed"))
    await _at(world, 60)
    assert world.runs() == []
    assert await world.state(rid) is RequestState.CANCELLED


async def test_a_scheduled_operation_holds_the_pair_but_an_emergency_failover_aborts_it(
    world: World, sim: Simulator
) -> None:
    """Another planned operation is refused, saying when the scheduled one runs; when the
    Primary really dies first, a failover is possible and aborts the scheduled one, saying
    so on its card and to its requester."""
    await world.ask("switchover prod at 2026-11-26T04:00")
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    refused = await world.ask("switchover prod")
    assert "is scheduled on prod" in refused
    assert f"cancel {rid}" in refused
    await sim.apply("prod", "primary", "down")
    reply = await world.ask("failover prod")
    assert "approval needed" in reply
    assert await world.state(rid) is RequestState.ABORTED
    told = [text for user, text in world.notifier.directs if user == OPERATOR.user]
    assert any("emergency failover" in t for t in told)


async def test_a_freeze_over_its_time_refuses_it_and_one_typed_later_aborts_it_then(
    frozen_world: World, memory: Stores
) -> None:
    """Asked into a freeze: refused. Frozen after it was approved: at its time it aborts,
    naming the freeze. A freeze now that ends before its time does not hold it."""
    world = frozen_world
    freeze = Freeze("f1", ("prod",), START, START + timedelta(hours=3), "month-end", "U0LEAD1")
    await memory.freezes.add(freeze, None)
    refused = await world.ask("switchover prod at 2026-11-26T04:00")
    assert "A change freeze holds prod then" in refused
    await world.ask("switchover prod at 2026-11-26T06:30")  # after the freeze: fine
    rid = world.request_id()
    assert "approved" in shown(await world.service.approve(LEAD, rid)).lower()
    later = Freeze("f2", ("all",), START, START + timedelta(hours=5), "DR test", "U0LEAD1")
    await memory.freezes.add(later, None)
    await _at(world, 210)
    assert await world.state(rid) is RequestState.ABORTED
    assert world.runs() == []
    assert "frozen until" in shown(world.notifier.last())


async def test_pending_and_app_home_list_scheduled_operations_with_their_time(
    world: World,
) -> None:
    """`/ha pending` and App Home show each one and when it runs."""
    await world.ask("switchover prod at 2026-11-26T04:00")
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    pending = shown(await world.service.pending())
    assert rid in pending
    assert "scheduled, runs <!date^" in pending
    scheduled = await world.requests.in_states(RequestState.SCHEDULED)
    view = dashboard([], [], [], "/ha", world.clock(), scheduled=scheduled)
    home = json.dumps(view)
    assert "*Scheduled*" in home
    assert rid in home
    assert "approved" in home


async def test_reminders_are_recorded_once_on_every_store(stores: Stores) -> None:
    """remind_run is a compare-and-set: of two sweeps, one reminds."""
    from tests.kit.requests import PLAN
    from tests.kit.requests import request as a_request

    ask = a_request()
    later = Request(**{**ask.__dict__, "run_at": ask.expires_at})
    await stores.requests.create(later, "C0HAOPS", PLAN)
    assert await stores.requests.remind_run("r1", NOW)
    assert not await stores.requests.remind_run("r1", NOW)
    kept = await stores.requests.get("r1")
    assert kept is not None
    assert kept.run_at == ask.expires_at
    assert kept.run_reminded == NOW


def test_the_command_lines_at_is_the_typed_at() -> None:
    """`habot request switchover prod --at "sat 02:00"` is `/ha switchover prod at sat
    02:00`; words left over are refused."""
    typed = parse_operation("switchover prod at sat 02:00", PAIRS, now=NOW, zone=LONDON)
    assert operation_ask("switchover", "prod", PAIRS, at="sat 02:00", now=NOW,
                         zone=LONDON) == typed  # fmt: skip
    with pytest.raises(UsageError) as info:
        operation_ask("switchover", "prod", PAIRS, at="sat 02:00 please", now=NOW, zone=LONDON)
    assert "Unexpected `please`" in str(info.value)


def test_the_reason_form_keeps_the_time_an_operation_was_asked_for() -> None:
    """`/ha switchover prod at sat 02:00` lacking a required reason opens the form; sent,
    it is the same request, still for Saturday — never one that runs at once."""
    typed = parse_operation("switchover prod at sat 02:00", PAIRS, now=NOW, zone=LONDON)
    form = request_form(typed, ChangeRule(True, None), "C0HAOPS")
    assert "Runs <!date^" in json.dumps(form.view["blocks"])
    sent = asked_in_form(json.loads(str(form.view["private_metadata"])), "DR rehearsal", None)
    assert sent == replace(typed, reason="DR rehearsal")
