"""A database that fails rather than being busy: the error is told apart, an outcome in
memory waits the outage out, a run whose own task died is closed by housekeeping, a
replica whose own writes failed does not declare others dead, and each outage is said
once. (The bot as a process on a stopped PostgreSQL and a full disk:
tests/reliability/test_database_outages.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from habot.core.approvals import RequestState
from habot.core.asks import parse_operation
from habot.errors import StoreBusy, StoreError, StoreUnavailable
from habot.services.leader import REPLICA_TTL, Heartbeat, Leadership
from habot.services.outage import Outage
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from habot.store.db import translated, upgrade
from habot.store.leases import LeaseStore
from habot.store.memory import memory_stores
from tests.kit.factories import Clock
from tests.kit.ticks import Ticks
from tests.kit.world import LEAD, OPERATOR, World, world, world_on

__all__ = ["world"]  # the fixture


def test_a_database_that_is_gone_is_told_apart_from_one_that_refused_the_write() -> None:
    """Busy, unavailable (refused or dropped connection, full disk) and other failures
    are three errors: the first two pass, so a write that must not be lost waits."""
    unreachable = OperationalError("SELECT 1", {}, Exception("connection refused"))
    full = OperationalError("INSERT", {}, Exception("database or disk is full"))
    locked = OperationalError("INSERT", {}, Exception("database is locked"))
    broken = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
    assert isinstance(translated(unreachable), StoreUnavailable)
    assert isinstance(translated(full), StoreUnavailable)
    assert isinstance(translated(locked), StoreBusy)
    assert type(translated(broken)) is StoreError


class Down:
    """A database outage at the store ports: while ``down``, every call raises what the
    SQL stores raise for a refused connection."""

    def __init__(self) -> None:
        self.down = False
        self.met = 0

    def check(self) -> None:
        if self.down:
            self.met += 1
            raise StoreUnavailable("the database is unavailable: connection refused")


class _Failing:
    """A store whose every async method first asks the outage."""

    def __init__(self, inner: Any, outage: Down) -> None:
        self._inner, self._outage = inner, outage

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(value):
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._outage.check()
            return await value(*args, **kwargs)

        return call


def failing(stores: Stores, outage: Down) -> Stores:
    """The in-memory stores, with requests and the audit behind the outage."""
    requests: Any = _Failing(stores.requests, outage)
    audit: Any = _Failing(stores.audit, outage)
    return replace(stores, requests=requests, audit=audit)


class OutageAfterTheChange:
    """The real SSH runner; the moment the mutating command has finished (the appliance
    changed), the database goes down for ``seconds``."""

    def __init__(self, runner: Any, outage: Down, seconds: float) -> None:
        self._runner, self._outage, self._seconds = runner, outage, seconds

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._runner.run(*args, **kwargs)
        if kwargs.get("answer_prompt"):
            self._outage.down = True
            asyncio.get_running_loop().call_later(self._seconds, self._back)
        return result

    def _back(self) -> None:
        self._outage.down = False


@pytest.fixture
def outage() -> Down:
    """A database outage to switch on."""
    return Down()


@pytest.fixture
async def down_world(sim: Simulator, outage: Down) -> AsyncIterator[World]:
    """The operation service on stores that fail while the outage is on."""
    async with world_on(sim, failing(memory_stores(), outage)) as built:
        yield built


async def test_an_outcome_outlives_a_database_outage_right_after_the_change(
    down_world: World, outage: Down
) -> None:
    """The database fails (not busy: gone) for 1.5 s the moment the switchover changed the
    appliance: the outcome, its audit and card are written once it is back, the requester
    is told, and the pair takes a new request."""
    world = down_world
    service = world.with_service(runner=OutageAfterTheChange(world.runner, outage, 1.5))
    names = [p.name for p in world.settings.pairs]
    await service.request(OPERATOR, parse_operation("switchover prod", names))
    rid = world.request_id()
    await service.approve(LEAD, rid)
    await service.drain()
    assert outage.met > 0  # the outage was met, and waited out
    assert await world.state(rid) is RequestState.SUCCEEDED
    assert "Succeeded" in json.dumps(world.notifier.last().blocks)
    assert any("succeeded" in said for _, said in world.notifier.directs)
    kinds = [r.event.kind for r in reversed(await world.audit.recent(50))]
    assert kinds[-1] == "succeeded"
    assert "approval needed" in await world.ask("failback prod --override 'test'")


class DiesAfterTheChange:
    """The real SSH runner; after the mutating command, the run's own task is cancelled
    (as a bug or an unexpected error would end it), so no outcome is recorded."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._runner.run(*args, **kwargs)
        if kwargs.get("answer_prompt"):
            raise asyncio.CancelledError
        return result


async def test_a_run_whose_own_task_died_is_closed_by_housekeeping(world: World) -> None:
    """This replica's run ended without recording its outcome: the next housekeeping round
    on this very replica marks it unknown (never re-run), instead of leaving the pair held
    as "running" until the process restarts."""
    service = world.with_service(runner=DiesAfterTheChange(world.runner), replica="A")
    names = [p.name for p in world.settings.pairs]
    await service.request(OPERATOR, parse_operation("switchover prod", names))
    rid = world.request_id()
    await service.approve(LEAD, rid)
    await service.drain()
    assert await world.state(rid) is RequestState.EXECUTING
    assert await service.recover() == 1
    assert await world.state(rid) is RequestState.UNKNOWN
    assert "ended without recording an outcome" in json.dumps(world.notifier.last().blocks)
    assert world.runs() == [["primary", "ha-failover"]]


async def test_a_run_going_on_here_is_left_alone_by_housekeeping_here(world: World) -> None:
    """While this replica's own run is still going, its housekeeping does not touch it."""
    service = world.with_service(replica="A")
    await world.sim.apply("prod", "primary", "think", "1")
    names = [p.name for p in world.settings.pairs]
    await service.request(OPERATOR, parse_operation("switchover prod", names))
    rid = world.request_id()
    await service.approve(LEAD, rid)
    assert await service.recover() == 0
    await service.drain()
    assert await world.state(rid) is RequestState.SUCCEEDED


def test_a_heartbeat_is_steady_only_after_beats_without_a_gap(tmp_path: Any) -> None:
    """Beats every 2 s make the heartbeat steady for as long as they go on; a failed beat,
    or a beat that took long enough to let the replica's own heartbeat lapse, starts over."""
    engine = create_engine(f"sqlite:///{tmp_path / 'l.db'}")
    upgrade(engine)
    ticks, clock = Ticks(), Clock()
    beat = Heartbeat(store=LeaseStore(engine), me="A", clock=clock, ticks=ticks)
    assert beat.steady() == 0.0
    for _ in range(6):
        beat._beat()
        ticks.now += 2
    assert beat.steady() == 12.0
    ticks.now += 25  # a beat that stalled for 25 s
    beat._beat()
    assert beat.steady() == 0.0
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE leases"))
    ticks.now += 2
    beat._beat()  # fails
    assert beat.failures == 1
    assert beat.steady() == 0.0
    engine.dispose()


async def test_a_replica_whose_own_writes_failed_does_not_declare_others_dead(
    memory: Stores,
) -> None:
    """B's heartbeat lapsed, but so did A's own (the database failed for everyone): A
    says B may be alive until its own beats have gone through for a whole REPLICA_TTL."""
    steady = {"s": 0.0}
    a = Leadership(
        store=memory.leases, clock=Clock(), me="hostA+1:1:aa", steady=lambda: steady["s"]
    )
    assert await a.alive("hostB+1:2:bb")  # A cannot tell yet
    steady["s"] = REPLICA_TTL.total_seconds()
    assert not await a.alive("hostB+1:2:bb")  # now B's lapsed heartbeat counts


def test_an_outage_is_said_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    """However many writers fail during one outage, one line says it started and one
    that it ended; the next outage is said again."""
    ticks = Ticks()
    outage = Outage(ticks)
    with caplog.at_level(logging.WARNING, logger="habot.services.outage"):
        for _ in range(50):
            outage.failed(StoreUnavailable("the database is unavailable: refused"), "a job")
        ticks.now += 7
        outage.worked()
        outage.worked()
        outage.failed(StoreUnavailable("the database is unavailable: refused"), "a job")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "refused (while a job)" in lines[0]
    assert lines[1] == "the database answers again after 7s"
    assert outage.seen == 2
    assert outage.down
    assert not any(r.exc_info for r in caplog.records)
