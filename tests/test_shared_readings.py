"""One reading serves everyone: concurrent status requests share one ha-status per node, a
viewer may take a reading younger than `fresh_for`, an operation only one started after it
asked; a node's command slots serve operations first, and waiting for a slot does not eat a
command's own time limit."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import make_mocked_request
from sqlalchemy import text

from habot.config import Settings
from habot.core.addresses import NodeAddress
from habot.core.answers import LogsAnswer
from habot.core.catalogue import HaCommand, RemoteCommand, ha_command
from habot.core.model import Role, Verdict
from habot.core.results import CommandResult
from habot.core.roles import Access, RolePolicy
from habot.services.commands import CommandService
from habot.services.leader import Leadership
from habot.services.ports import Caller
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.slack.app import ANSWERED, Health, after_the_ack
from habot.slack.directory import GroupDirectory
from habot.ssh.executor import SshExecutor
from habot.ssh.pool import Slots
from habot.store import sql_stores
from habot.store.db import make_engine, upgrade
from habot.store.kept_readings import KeptReadingStore
from habot.store.memory import memory_stores
from tests.kit.factories import settings_from
from tests.kit.ticks import Ticks

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
BAU = "Primary: Active 10.0.0.1\nSecondary: Standby 10.0.0.2\nHA status: OK\n"


class GatedRunner:
    """A fake runner: every ha-status waits for the gate; it counts runs per node and
    remembers which were urgent."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.runs: Counter[NodeAddress] = Counter()
        self.urgent: list[bool] = []

    async def run(
        self, address: NodeAddress, command: RemoteCommand, *, urgent: bool = False, **_: object
    ) -> CommandResult:
        self.runs[address] += 1
        self.urgent.append(urgent)
        await self.gate.wait()
        return CommandResult(str(address), command.line, 0, BAU, timedelta())


def reader(settings: Settings, runner: GatedRunner, ticks: Ticks) -> StatusService:
    """A status service over the fake runner, with the test's clocks and the default
    fresh_for (2 s)."""
    ssh = settings.ssh.model_copy(update={"fresh_for": timedelta(seconds=2)})
    return StatusService(settings.model_copy(update={"ssh": ssh}), runner, lambda: T0, ticks=ticks)


async def test_a_burst_of_viewers_shares_one_reading_per_node(sim_settings: Settings) -> None:
    """200 concurrent `/ha status prod`: each node is asked once, and all 200 get BAU."""
    runner = GatedRunner()
    service = reader(sim_settings, runner, Ticks())
    burst = [asyncio.ensure_future(service.read("prod")) for _ in range(200)]
    await asyncio.sleep(0)
    runner.gate.set()
    answers = await asyncio.gather(*burst)
    assert {s.verdict for [s] in answers} == {Verdict.BAU}
    assert sorted(runner.runs.values()) == [1, 1]


async def test_a_viewer_reuses_a_reading_younger_than_fresh_for(sim_settings: Settings) -> None:
    """Within fresh_for (2 s) the finished reading serves again; after it, a new one."""
    runner, ticks = GatedRunner(), Ticks()
    runner.gate.set()
    service = reader(sim_settings, runner, ticks)
    await service.read("prod")
    ticks.now += 1.9
    await service.read("prod")
    assert sorted(runner.runs.values()) == [1, 1]
    ticks.now += 0.2
    await service.read("prod")
    assert sorted(runner.runs.values()) == [2, 2]


async def test_an_operation_never_takes_a_reading_started_before_it_asked(
    sim_settings: Settings,
) -> None:
    """A reading finished a moment ago, or one still in flight from before, does not serve
    an operation: it starts its own, urgent; operations asking together may share one."""
    runner, ticks = GatedRunner(), Ticks()
    service = reader(sim_settings, runner, ticks)
    prod = sim_settings.pair("prod")
    viewer = asyncio.ensure_future(service.read("prod"))
    await asyncio.sleep(0.01)
    assert sorted(runner.runs.values()) == [1, 1]  # the viewer's reading is in flight
    ticks.now += 0.1
    operations = [asyncio.ensure_future(service.read_pair(prod)) for _ in range(3)]
    await asyncio.sleep(0)
    runner.gate.set()
    await asyncio.gather(viewer, *operations)
    assert sorted(runner.runs.values()) == [2, 2]  # the viewer's, then one for all three
    assert runner.urgent == [False, False, True, True]
    ticks.now += 0.1  # a finished reading 0.1 s old: still not for an operation
    await service.read_pair(prod)
    assert sorted(runner.runs.values()) == [3, 3]


async def test_a_viewer_giving_up_cancels_nobody_elses_reading(sim_settings: Settings) -> None:
    """One request timing out (or being cancelled) leaves the shared reading running for
    the others."""
    runner = GatedRunner()
    service = reader(sim_settings, runner, Ticks())
    first = asyncio.ensure_future(service.read("prod"))
    second = asyncio.ensure_future(service.read("prod"))
    await asyncio.sleep(0)
    first.cancel()
    runner.gate.set()
    [status] = await second
    assert status.verdict is Verdict.BAU
    assert sorted(runner.runs.values()) == [1, 1]


async def test_an_operation_waiting_for_a_slot_goes_before_every_read() -> None:
    """One slot, held; five reads and then an operation wait: the operation is next."""
    slots = Slots(1)
    order: list[str] = []

    async def hold(name: str, urgent: bool) -> None:
        async with slots.held(urgent):
            order.append(name)
            await asyncio.sleep(0)

    async with slots.held():
        waiters = [asyncio.ensure_future(hold(f"read{i}", False)) for i in range(5)]
        await asyncio.sleep(0)
        waiters.append(asyncio.ensure_future(hold("operation", True)))
        await asyncio.sleep(0)
        assert slots.waiting == 6
    await asyncio.gather(*waiters)
    assert order == ["operation", "read0", "read1", "read2", "read3", "read4"]


async def test_a_waiter_that_gives_up_loses_no_slot() -> None:
    """Cancelled while waiting — or just as it was handed the slot — the slot stays usable."""
    slots = Slots(1)
    async with slots.held():
        gives_up = asyncio.ensure_future(slots.held().__aenter__())
        await asyncio.sleep(0)
        gives_up.cancel()
    async with asyncio.timeout(1), slots.held():
        pass
    async with slots.held():
        handed = asyncio.ensure_future(slots.held().__aenter__())
        await asyncio.sleep(0)
    handed.cancel()  # its turn was set as the holder left; it never used it
    await asyncio.sleep(0)
    async with asyncio.timeout(1), slots.held():
        assert slots.waiting == 0


async def test_waiting_for_a_slot_does_not_eat_a_status_reads_time_limit(tmp_path: Path) -> None:
    """With one slot per node held by a slow operation for longer than status_timeout, a
    status read waits for the slot, then runs within its own limit: no false "timed out"."""
    async with Simulator(tmp_path / "sim", ("prod",)) as sim:
        settings = settings_from(sim.kit.config_path, status_timeout="1s", pool_size=1)
        await sim.apply("prod", "primary", "think", "2")
        address = sim.address("prod", Role.PRIMARY)
        async with SshExecutor(settings.ssh) as ex:
            operation = asyncio.ensure_future(
                ex.run(address, ha_command(HaCommand.DEMOTE_PRIMARY), answer_prompt=True)
            )
            await asyncio.sleep(0.3)  # the operation holds the node's only slot
            status = await ex.run(
                address, ha_command(HaCommand.STATUS), time_limit=timedelta(seconds=1)
            )
            assert (await operation).ok
    assert status.ok
    assert "Demoted" in status.output  # it ran after the operation, not beside it


async def test_health_and_the_lease_never_wait_behind_a_flooded_thread_pool(
    tmp_path: Path,
) -> None:
    """Every default-executor thread busy with request work (blocked until the test lets
    go): /healthz still answers 200 and the scheduler lease is still claimed."""
    engine = make_engine(f"sqlite:///{tmp_path / 'habot.db'}")
    upgrade(engine)
    release = threading.Event()
    flood = [asyncio.ensure_future(asyncio.to_thread(release.wait)) for _ in range(64)]
    try:
        await asyncio.sleep(0.1)  # every worker of the default executor is now blocked
        async with asyncio.timeout(20):  # a deadlock guard, not a speed target
            stores = sql_stores(engine)
            health = Health(database=stores.ping, mode="http", scheduler_running=lambda: True)
            answer = await health.handle(make_mocked_request("GET", "/healthz"))
            leads = await Leadership(store=stores.leases, clock=lambda: T0).held()
    finally:
        release.set()
        await asyncio.gather(*flood)
    assert answer.status == 200
    assert leads


async def test_everyone_sharing_a_reading_gets_the_same_status_kept_once(
    sim_settings: Settings, tmp_path: Path
) -> None:
    """A burst on one shared reading is judged once and kept once: one object, one id, one
    row behind every card's raw-output button."""
    runner = GatedRunner()
    service = reader(sim_settings, runner, Ticks())
    burst = [asyncio.ensure_future(service.read("prod")) for _ in range(50)]
    await asyncio.sleep(0)
    runner.gate.set()
    statuses = [s for [s] in await asyncio.gather(*burst)]
    assert all(s is statuses[0] for s in statuses)
    engine = make_engine(f"sqlite:///{tmp_path / 'habot.db'}")
    upgrade(engine)
    kept = KeptReadingStore(engine)
    ids = await asyncio.gather(*(kept.put(s) for s in statuses))
    assert set(ids) == {ids[0]}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM kept_readings")).scalar() == 1
    assert await kept.get(ids[0]) == statuses[0]


class CountingGroups:
    """A fake Slack client: usergroups.users.list answers after the gate, and is counted."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0

    async def usergroups_users_list(self, usergroup: str) -> dict[str, list[str]]:
        self.calls += 1
        await self.gate.wait()
        return {"users": ["U0OPS1"]}


async def test_a_burst_of_commands_asks_slack_for_a_user_group_once() -> None:
    """100 commands at once while the group is not cached yet: one usergroups.users.list
    (Slack allows ~20 a minute), and everyone gets the group's roles."""
    client = CountingGroups()
    policy = RolePolicy.of(["*"], ["S0ONCALL"], [])
    directory = GroupDirectory(client, policy)  # type: ignore[arg-type]
    burst = [asyncio.ensure_future(directory.roles_of("U0OPS1")) for _ in range(100)]
    await asyncio.sleep(0)
    client.gate.set()
    roles = await asyncio.gather(*burst)
    assert client.calls == 1
    assert all(Access.OPERATOR in r for r in roles)


async def test_a_user_groups_members_are_read_again_once_their_ttl_has_run() -> None:
    """The membership cache ages by the monotonic clock: it is kept for ``ttl`` seconds and
    then read again (someone removed from the approvers' group loses the role), whatever
    the wall clock does meanwhile."""
    client = CountingGroups()
    client.gate.set()
    ticks = [0.0]
    policy = RolePolicy.of(["*"], ["S0ONCALL"], [])
    directory = GroupDirectory(client, policy, ttl=300, ticks=lambda: ticks[0])  # type: ignore[arg-type]
    await directory.roles_of("U0OPS1")
    ticks[0] = 299.0
    await directory.roles_of("U0OPS1")
    assert client.calls == 1
    ticks[0] = 301.0
    await directory.roles_of("U0OPS1")
    assert client.calls == 2


async def test_a_listeners_slow_work_waits_until_its_ack_is_handed_back() -> None:
    """Over HTTP, work after ack() starts once the gate has returned the ack (a burst's
    work no longer delays everyone's ack); in Socket Mode (no gate) it starts at once."""
    order: list[str] = []

    async def listener() -> None:
        await after_the_ack()
        order.append("slow work")

    answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    token = ANSWERED.set(answered)
    try:
        task = asyncio.ensure_future(listener())  # inherits the gate's context, as Bolt's do
    finally:
        ANSWERED.reset(token)
    await asyncio.sleep(0.05)
    order.append("ack handed back")
    answered.set_result(None)
    await task
    assert order == ["ack handed back", "slow work"]
    async with asyncio.timeout(1):
        await after_the_ack()  # no gate: nothing to wait for


async def test_a_burst_of_log_requests_costs_the_node_one_read(sim_settings: Settings) -> None:
    """300 people ask for the same log of the same node at once: the node is asked once,
    everyone gets its lines, and each asking is audited as their own; a different log (or
    node) is its own read."""
    runner = GatedRunner()
    stores = memory_stores()
    commands = CommandService(
        settings=sim_settings,
        status=reader(sim_settings, runner, Ticks()),
        runner=runner,
        audit=stores.audit,
        clock=lambda: T0,
        readings=stores.kept,
    )
    viewer = Caller("U0VIEW", "C0HAOPS", frozenset({Access.VIEWER}))
    burst = [
        commands.handle(replace(viewer, user=f"U0V{n}"), "logs prod primary") for n in range(300)
    ]
    other = commands.handle(viewer, "logs prod secondary")
    asked = [asyncio.ensure_future(a) for a in (*burst, other)]
    await asyncio.sleep(0.05)
    runner.gate.set()
    answers = await asyncio.gather(*asked)
    assert sorted(runner.runs.values()) == [1, 1]  # one read per node, not 301
    assert all(isinstance(a, LogsAnswer) and a.output == BAU for a in answers)
    logged = [r for r in await stores.audit.recent(400) if r.event.kind == "logs"]
    assert len(logged) == 301
