"""Scheduled status checks: readings are stored and pruned; role changes start the cooldown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from habot.config import Settings
from habot.core.approvals import RequestState
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import NodeState, Role, Verdict
from habot.core.outbox import Delivery, MessageKind, Next
from habot.scheduling import Jobs, build_scheduler
from habot.services.alerting import Alerter
from habot.services.monitor import Monitor
from habot.services.ports import ReadingLog, Requests, Stores
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.factories import Clock, fast_config_file, settings_from
from tests.kit.requests import PLAN, request


@dataclass
class Parts:
    """The monitor and what it works with."""

    monitor: Monitor
    readings: ReadingLog
    requests: Requests
    clock: Clock
    ex: SshExecutor
    settings: Settings
    status: StatusService
    stores: Stores


@pytest.fixture
async def parts(sim: Simulator, memory: Stores) -> AsyncIterator[Parts]:
    """A monitor over the simulator and the in-memory stores (its rules, not SQL)."""
    settings = settings_from(fast_config_file(sim, "mon.toml", '[schedule]\nstatus_every = "1s"\n'))
    clock = Clock()
    readings, requests = memory.readings, memory.requests
    async with SshExecutor(settings.ssh) as ex:
        status = StatusService(settings, ex, clock)
        monitor = Monitor(
            settings=settings, status=status, readings=readings, requests=requests, clock=clock
        )
        yield Parts(monitor, readings, requests, clock, ex, settings, status, memory)


async def test_poll_stores_a_reading_per_pair(parts: Parts) -> None:
    """Each round keeps one reading per pair, newest first."""
    monitor, readings, clock = parts.monitor, parts.readings, parts.clock
    await monitor.poll()
    clock.now += timedelta(minutes=5)
    await monitor.poll()
    last = await readings.last("prod")
    assert last is not None
    assert (last.verdict, last.primary, last.secondary) == (
        Verdict.BAU,
        NodeState.ACTIVE,
        NodeState.STANDBY,
    )
    assert len(await readings.since("dr", clock.now - timedelta(hours=1))) == 2


async def test_role_change_seen_in_readings_starts_the_cooldown(
    parts: tuple,
    sim: Simulator,  # type: ignore[type-arg]
) -> None:
    """A switchover done outside habot (e.g. in the web console) is noticed by the poll."""
    monitor, requests, clock, ex = parts.monitor, parts.requests, parts.clock, parts.ex
    await monitor.poll()
    assert await requests.last_change("prod") is None
    await ex.run(
        sim.address("prod", Role.PRIMARY), ha_command(HaCommand.FAILOVER), answer_prompt=True
    )
    clock.now += timedelta(minutes=5)
    await monitor.poll()
    assert await requests.last_change("prod") == clock.now
    assert await requests.last_change("dr") is None


async def test_a_node_going_down_is_not_a_role_change(parts: Parts, sim: Simulator) -> None:
    """An unreachable Secondary changes no roles (and starts no cooldown)."""
    monitor, requests = parts.monitor, parts.requests
    await monitor.poll()
    await sim.apply("prod", "secondary", "down")
    await monitor.poll()
    assert await requests.last_change("prod") is None


async def test_habot_losing_its_path_to_a_node_is_not_a_role_change(
    parts: Parts, sim: Simulator
) -> None:
    """Cut habot's path to the Primary of a split-brain-free pair, then restore it: no
    cooldown — the node was merely unreadable, its role never changed."""
    monitor, requests, clock = parts.monitor, parts.requests, parts.clock
    await monitor.poll()
    await sim.apply("prod", "primary", "cut", "on")
    clock.now += timedelta(minutes=1)
    [prod, _] = await monitor.poll()
    assert prod.verdict is Verdict.PRIMARY_UNREACHABLE
    await sim.apply("prod", "primary", "cut", "off")
    clock.now += timedelta(minutes=1)
    await monitor.poll()
    assert await requests.last_change("prod") is None


async def test_a_takeover_hidden_behind_unreadable_readings_is_still_seen(
    parts: Parts, sim: Simulator
) -> None:
    """BAU, then both nodes unreadable, then failed over: compared with the last readable
    states, the Secondary started serving — the cooldown starts."""
    monitor, requests, clock, ex = parts.monitor, parts.requests, parts.clock, parts.ex
    await monitor.poll()
    for role in ("primary", "secondary"):
        await sim.apply("prod", role, "cut", "on")
    clock.now += timedelta(minutes=1)
    await monitor.poll()
    await sim.apply("prod", "secondary", "cut", "off")
    await sim.apply("prod", "primary", "cut", "off")
    await ex.run(
        sim.address("prod", Role.PRIMARY), ha_command(HaCommand.FAILOVER), answer_prompt=True
    )
    clock.now += timedelta(minutes=1)
    await monitor.poll()
    assert await requests.last_change("prod") == clock.now


async def test_old_readings_and_delivered_messages_are_pruned(parts: Parts) -> None:
    """Readings and delivered outbox messages older than keep_readings (7 days by default)
    are deleted; a message still queued is not."""
    readings, clock = parts.readings, parts.clock
    outbox = parts.stores.outbox
    monitor = Monitor(
        settings=parts.settings,
        status=parts.status,
        readings=readings,
        requests=parts.requests,
        clock=clock,
        prune=[outbox.prune],
    )
    sent = await outbox.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "sent"}, clock.now)
    await outbox.record(sent, Next(Delivery.SENT, clock.now), "1.1", None)
    queued = await outbox.enqueue(
        "prod", MessageKind.POST, "C0HAOPS", {"text": "queued"}, clock.now
    )
    await monitor.poll()
    clock.now += timedelta(days=8)
    await monitor.poll()
    assert len(await readings.since("prod", clock.now - timedelta(days=30))) == 1
    assert await outbox.get(sent) is None
    assert await outbox.get(queued) is not None


async def test_scheduler_polls_repeatedly_and_survives_a_failing_job(parts: Parts) -> None:
    """The scheduler runs the poll every interval; a job that raises is logged, not fatal."""
    monitor, readings, settings = parts.monitor, parts.readings, parts.settings
    calls: list[int] = []

    async def poll() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first round fails")
        await monitor.poll()

    async def expire() -> int:
        return 0

    scheduler = build_scheduler(settings, Jobs(poll, expire))
    scheduler.start()
    try:
        job = scheduler.get_job("status_poll")
        assert (job.coalesce, job.max_instances) == (True, 1)
        assert job.trigger.interval == timedelta(seconds=1)
        async with asyncio.timeout(15):
            while len(calls) < 3:  # noqa: ASYNC110 (the scheduler's own clock drives it)
                await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert await readings.last("prod") is not None


async def test_a_reading_taken_while_habot_runs_an_operation_raises_no_alert(
    parts: Parts, sim: Simulator
) -> None:
    """Polls go on while an operation runs (on this replica or another): the pair half way
    through it is kept in the readings but judged by no alert, even with alert_after = 1 —
    the card reports what the operation did. Once the run has ended, readings count again."""
    settings = settings_from(
        fast_config_file(
            sim, "alerts.toml", '[slack]\nalert_channel = "C0ALERTS"\n[schedule]\nalert_after = 1\n'
        )
    )
    stores, clock = parts.stores, parts.clock
    alerter = Alerter(settings=settings, states=stores.alerts, outbox=stores.outbox, clock=clock)
    monitor = Monitor(
        settings=settings, status=parts.status, readings=parts.readings,
        requests=parts.requests, clock=clock, alerter=alerter,
    )  # fmt: skip
    await parts.requests.create(request(), "C0HAOPS", PLAN)
    assert await parts.requests.transition("r1", RequestState.PENDING, RequestState.EXECUTING)
    await parts.ex.run(
        sim.address("prod", Role.PRIMARY), ha_command(HaCommand.FAILOVER), answer_prompt=True
    )  # the operation's command has run; its outcome is not in yet
    clock.now += timedelta(minutes=5)
    await monitor.poll()
    last = await parts.readings.last("prod")
    assert last is not None
    assert last.verdict is Verdict.FAILED_OVER
    assert await stores.outbox.head("prod") is None  # but no alert
    assert (await stores.alerts.load("prod"))[0].incident is None

    # it ended without reporting the shape (failed, say): the same shape is news now
    assert await parts.requests.transition("r1", RequestState.EXECUTING, RequestState.FAILED)
    clock.now += timedelta(minutes=5)
    await monitor.poll()
    head = await stores.outbox.head("prod")
    assert head is not None
    assert head.kind is MessageKind.POST
    assert (await stores.alerts.load("prod"))[0].incident is not None
