"""Several replicas on one database: one leads the scheduled jobs, a dead one is replaced,
and an operation a live replica is running is never declared interrupted by another."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine

from habot.scheduling import logged
from habot.services.leader import (
    LEASE_TTL,
    REPLICA_TTL,
    Heartbeat,
    Leadership,
    beat_sync,
    gone,
    place,
    replica_id,
)
from habot.sim.simulator import Simulator
from habot.store import sql_stores
from habot.store.db import upgrade
from habot.store.leases import LeaseStore
from habot.store.shared_time import ServerTime
from tests.kit.botproc import ROLES, Bot, start_bot
from tests.kit.factories import Clock
from tests.kit.fakeslack import FakeSlack
from tests.kit.metrics import scrape
from tests.kit.postgres import fresh_database

T = timedelta(seconds=1)


@pytest.fixture
def two(migrated: Engine, engines: Callable[[str], Engine]) -> tuple[Engine, Engine]:
    """Two engines on one migrated database (SQLite, then PostgreSQL), as two replicas
    would have."""
    return migrated, engines(migrated.url.render_as_string(hide_password=False))


def test_one_holder_at_a_time_and_takeover_after_expiry(two: tuple[Engine, Engine]) -> None:
    """A holds; B is refused while A renews; once A stops renewing, B takes over and A is
    refused; B releasing hands it back at once."""
    one, other = two
    a, b, clock = LeaseStore(one), LeaseStore(other), Clock()
    ttl = timedelta(seconds=15)
    assert a.claim_sync("scheduler", "A", clock(), ttl)
    assert not b.claim_sync("scheduler", "B", clock(), ttl)
    clock.now += 10 * T
    assert a.claim_sync("scheduler", "A", clock(), ttl)  # renewed until +25 s
    clock.now += 10 * T
    assert not b.claim_sync("scheduler", "B", clock(), ttl)
    assert b.holder_sync("scheduler", clock()) == "A"
    clock.now += 16 * T  # A fell silent
    assert b.claim_sync("scheduler", "B", clock(), ttl)
    assert not a.claim_sync("scheduler", "A", clock(), ttl)
    b.release_sync("scheduler", "B")
    assert a.claim_sync("scheduler", "A", clock(), ttl)


def test_concurrent_claims_have_exactly_one_winner(two: tuple[Engine, Engine]) -> None:
    """Twenty threads on two engines claim at the same instant: exactly one wins."""
    one, other = two
    stores, clock = [LeaseStore(one), LeaseStore(other)], Clock()

    async def claims() -> list[bool]:
        return list(
            await asyncio.gather(
                *(
                    asyncio.to_thread(
                        stores[n % 2].claim_sync, "scheduler", f"R{n}", clock(), 15 * T
                    )
                    for n in range(20)
                )
            )
        )

    assert sum(asyncio.run(claims())) == 1


async def test_leadership_moves_when_the_leader_goes_silent(two: tuple[Engine, Engine]) -> None:
    """Two replicas: one leads; the other leads only after the leader stops renewing, and
    is told it took over (so it polls at once)."""
    one, other = two
    clock = Clock()
    a = Leadership(store=LeaseStore(one), clock=clock, me="A", ticks=clock.ticks)
    b = Leadership(store=LeaseStore(other), clock=clock, me="B", ticks=clock.ticks)
    took: list[str] = []
    a.on_lead, b.on_lead = lambda: took.append("A"), lambda: took.append("B")
    assert await a.held()
    assert not await b.held()
    clock.now += LEASE_TTL + T
    assert await b.held()
    assert not await a.held()
    assert took == ["B"]  # a takeover, not A's first claim
    assert (a.leading, b.leading) == (False, True)
    await b.release()
    assert await a.held()


async def test_a_wall_clock_stepped_back_does_not_keep_a_replica_leading(
    two: tuple[Engine, Engine],
) -> None:
    """How recently this replica renewed is timed by its own monotonic clock: when NTP steps
    its wall clock back an hour, it does not go on believing it leads (without renewing)
    for that hour while another replica has long taken over."""
    one, other = two
    a_wall, b_wall, a_ticks = Clock(), Clock(), [0.0]
    a = Leadership(store=LeaseStore(one), clock=a_wall, me="A", ticks=lambda: a_ticks[0])
    b = Leadership(store=LeaseStore(other), clock=b_wall, me="B", ticks=b_wall.ticks)
    assert await a.held()
    b_wall.now += LEASE_TTL + T  # A has not renewed since: its lease lapsed
    assert await b.held()
    a_ticks[0] += (LEASE_TTL + T).total_seconds()
    a_wall.now -= timedelta(hours=1)  # the step back
    assert not await a.held()
    assert (a.leading, b.leading) == (False, True)


@pytest.fixture
def two_on_postgres(postgres_admin: str, engines: Callable[[str], Engine]) -> tuple[Engine, Engine]:
    """Two engines on one migrated PostgreSQL database, as replicas on two hosts have."""
    url = fresh_database(postgres_admin)
    one = engines(url)
    upgrade(one)
    return one, engines(url)


async def test_replicas_whose_clocks_disagree_judge_leases_by_the_servers(
    two_on_postgres: tuple[Engine, Engine],
) -> None:
    """Two hosts 20 s apart: by their own clocks the one ahead finds the lease lapsed while
    its holder still renews, and both would lead. habot's replicas on PostgreSQL read the
    server's clock instead (sampled by the heartbeat), so one leads."""
    one, other = two_on_postgres
    ahead = Clock(datetime.now(UTC) + LEASE_TTL + 5 * T)
    behind = Clock(datetime.now(UTC))
    a = Leadership(store=LeaseStore(one), clock=behind, me="A", ticks=behind.ticks)
    b = Leadership(store=LeaseStore(other), clock=ahead, me="B", ticks=ahead.ticks)
    assert await a.held()
    assert await b.held()  # the hazard: two leaders, each by its own clock
    await b.release()
    await a.release()
    a_time, b_time = (sql_stores(engine).shared_clock for engine in two_on_postgres)
    assert isinstance(a_time, ServerTime)
    assert isinstance(b_time, ServerTime)
    a_time.sample_sync()
    b_time.sample_sync()
    a = Leadership(store=LeaseStore(one), clock=a_time, me="A")
    b = Leadership(store=LeaseStore(other), clock=b_time, me="B")
    assert await a.held()
    assert not await b.held()
    assert abs(a_time() - b_time()) < T


def test_on_sqlite_the_local_clock_is_the_shared_one(migrated: Engine) -> None:
    """Replicas on one SQLite file share a host, so they share its clock."""
    expected = ServerTime if migrated.dialect.name == "postgresql" else type(None)
    assert isinstance(sql_stores(migrated).shared_clock, expected)


def test_the_servers_clock_runs_on_between_samples(
    two_on_postgres: tuple[Engine, Engine],
) -> None:
    """Before its first sample the shared clock is the local one; after it, the server's
    time carried forward by the monotonic clock (a wall clock stepped meanwhile moves
    nothing)."""
    local, ticks = Clock(), [100.0]
    shared = ServerTime(two_on_postgres[0], before_first=local, ticks=lambda: ticks[0])
    assert shared() == local.now
    shared.sample_sync()
    first = shared()
    assert abs(first - datetime.now(UTC)) < 2 * T
    local.now -= timedelta(hours=1)
    ticks[0] += 30
    assert shared() - first == 30 * T


async def test_a_replica_is_alive_while_it_beats(two: tuple[Engine, Engine]) -> None:
    """alive() follows the heartbeat: current, then stale after REPLICA_TTL."""
    one, other = two
    clock = Clock()
    b = Leadership(store=LeaseStore(other), clock=clock, me="B", ticks=clock.ticks)
    beat_sync(LeaseStore(one), "A", clock())
    assert await b.alive("A")
    assert not await b.alive("C")
    clock.now += REPLICA_TTL + T
    assert not await b.alive("A")


async def test_the_heartbeat_beats_while_the_event_loop_is_held(
    two: tuple[Engine, Engine],
) -> None:
    """A flood of requests can hold the event loop past REPLICA_TTL; the heartbeat runs on
    its own thread, so other replicas still see this one alive (and do not declare its
    running operation interrupted). Once stopped, it lapses."""
    one, other = two
    clock = Clock()
    heartbeat = Heartbeat(
        store=LeaseStore(one), me="A", clock=clock, every=timedelta(milliseconds=20)
    )
    heartbeat.start()
    observer = LeaseStore(other)
    try:
        clock.now += REPLICA_TTL + T  # time passes while the loop is held (no await below)
        deadline = time.monotonic() + 5
        while observer.holder_sync("alive:A", clock()) != "A" and time.monotonic() < deadline:
            time.sleep(0.02)  # noqa: ASYNC251 — holding the loop is the point
        assert await Leadership(store=observer, clock=clock, me="B", ticks=clock.ticks).alive("A")
    finally:
        heartbeat.stop()
    assert heartbeat.failures == 0
    clock.now += REPLICA_TTL + T
    await asyncio.sleep(0.1)
    assert not await Leadership(store=observer, clock=clock, me="B", ticks=clock.ticks).alive("A")


async def test_two_replicas_alert_once_and_the_standby_takes_over(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, database_url: str
) -> None:
    """End to end: two `habot run` processes on one database (an SQLite file, then a real
    PostgreSQL). The Primary stops → one
    alert card, not two; the leader stops → the standby takes the lead (healthz says so)
    and posts the recovery when the Primary returns."""
    extra = ROLES + '\n[schedule]\nstatus_every = "1s"\n'
    extra = extra.replace(
        'channels = ["C0HAOPS"]', 'channels = ["C0HAOPS"]\nalert_channel = "C0HAOPS"'
    )
    first = await start_bot(
        sim, fake, tmp_path, http=True, extra=extra, name="first", database=database_url
    )
    second = await start_bot(
        sim,
        fake,
        tmp_path,
        http=True,
        extra=extra,
        name="second",
        polls=False,
        database=database_url,
    )
    try:
        assert [await replica(first), await replica(second)] == ["leader", "standby"]
        await sim.apply("prod", "primary", "down")
        assert await polls(first) > 0

        def alerts() -> list[Any]:
            return [
                c
                for c in fake.calls_to("chat.postMessage")
                if "prod alert" in c.args.get("text", "") and "thread_ts" not in c.args
            ]

        await fake.wait_for(alerts)
        await fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= 3)
        assert len(alerts()) == 1
        assert await polls(second) == 0  # standing by: it has not polled once
        assert await jobs(second, "status poll", "standby") > 0
        await first.stop()  # SIGTERM: it releases the lead
        await sim.apply("prod", "primary", "up")
        await fake.wait_for(
            lambda: [
                c
                for c in fake.calls_to("chat.postMessage")
                if "recovered" in c.args.get("text", "") and "thread_ts" in c.args
            ]
        )
        assert await replica(second) == "leader"
        assert await polls(second) > 0
        assert len(alerts()) == 1
    finally:
        await first.stop()
        await second.stop()


async def replica(bot: Bot) -> str:
    """What the bot's /healthz says it is: leader or standby (once it has decided)."""
    url = f"http://127.0.0.1:{bot.port}/healthz"
    async with asyncio.timeout(20), aiohttp.ClientSession() as session:
        while True:
            async with session.get(url) as resp:
                body = json.loads(await resp.text())
            if body.get("replica") == "leader" or body.get("status") == "ok":
                return str(body.get("replica"))
            await asyncio.sleep(0.2)


async def jobs(bot: Bot, job: str, outcome: str) -> float:
    """habot_scheduled_jobs_total for one task and outcome, from the bot's /metrics."""
    found = await scrape(bot)
    runs = [
        v
        for ls, v in found["habot_scheduled_jobs_total"]
        if ls == {"task": job, "outcome": outcome}
    ]
    return runs[0] if runs else 0.0


async def polls(bot: Bot) -> float:
    """Status polls this bot has run itself."""
    return await jobs(bot, "status poll", "ok")


def test_who_is_certainly_gone() -> None:
    """Only a process in this very place (host and pid namespace) that no longer exists (or
    an earlier life of this very pid there) is certainly dead; another host or container,
    or a pid that exists, may still be alive."""
    me = replica_id()
    host, pid, _ = me.split(":")
    dead_pid = dead_process_pid()
    assert gone(f"{host}:{dead_pid}:abc123", me)
    assert gone(f"{host}:{pid}:older1", me)  # an earlier life of this pid, same namespace
    hostname, kernel, namespace = host.split("+")
    twin = f"{hostname}+{kernel}+4026530000:{pid}:abc123"  # another container: same name, pid
    assert not gone(twin, me)
    assert not gone(me, twin)
    clone = f"{hostname}+0{kernel[1:]}+{namespace}:{dead_pid}:abc123"  # another VM, same name
    assert not gone(clone, me)
    assert replica_id() != me  # unique per process start, not derived from host and pid
    assert not gone(me, me)
    assert not gone(f"{host}:{os.getppid()}:abc123", me)  # our parent exists
    assert not gone(f"elsewhere:{dead_pid}:abc123", me)
    assert not gone("garbage", me)


def test_two_machines_with_one_host_name_are_two_places() -> None:
    """VMs cloned from one image share the host name and the initial pid namespace (and
    often the machine id): only the boot id of the running kernel tells them apart, so a
    pid seen there is never looked up here. This machine's boot id is in its own ids."""
    initial = "4026531836"
    assert place("pam-bot", "aab6582aa425", initial) != place("pam-bot", "bbb6582aa425", initial)
    assert place("pam-bot", "aab6582aa425", "4026532001") != place(
        "pam-bot", "aab6582aa425", initial
    )
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip().replace("-", "")
    assert replica_id().split(":")[0].split("+")[1] == boot[:12]


async def test_a_restart_takes_over_from_its_dead_predecessor_at_once(
    two: tuple[Engine, Engine],
) -> None:
    """The previous process on this host died without releasing: no 15 s wait to lead, and
    its heartbeat does not count as alive."""
    one, other = two
    clock = Clock()
    host = replica_id().split(":")[0]
    dead = f"{host}:{dead_process_pid()}:abc123"
    predecessor = Leadership(store=LeaseStore(one), clock=clock, me=dead)
    assert await predecessor.held()
    beat_sync(LeaseStore(one), dead, clock())
    successor = Leadership(store=LeaseStore(other), clock=clock, me=replica_id())
    assert await successor.held()
    assert not await successor.alive(dead)


def dead_process_pid() -> int:
    """The pid of a process that has just exited (and was reaped)."""
    probe = subprocess.Popen(["true"])
    probe.wait()
    return probe.pid


async def test_a_job_cut_short_by_shutdown_ends_quietly_and_is_counted() -> None:
    """Shutdown cancels a scheduled job mid-run: the wrapper ends it quietly (apscheduler
    would otherwise log the cancellation as a failure with a traceback) and counts it as
    cancelled; a failing job is still logged and counted as failed."""
    counted: list[tuple[str, str]] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def broken() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(
        logged("outbox", forever, count=lambda job, outcome: counted.append((job, outcome)))()
    )
    await asyncio.sleep(0)
    task.cancel()
    await task  # no CancelledError escapes
    await logged("poll", broken, count=lambda job, outcome: counted.append((job, outcome)))()
    assert counted == [("outbox", "cancelled"), ("poll", "failed")]
