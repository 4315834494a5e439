"""Who served, from when to when, and why it changed: a scripted day on the simulator —
switchover, failback, a power cut, a failover — read back from the kept readings and the
audit, durations included; and each operation's time in a histogram."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from habot.core.model import NodeState, Role, Verdict
from habot.core.replies import plain
from habot.core.roles_history import Cause, role_history, role_reply
from habot.services.ports import NoTelemetry, Stores
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.store.db import make_engine, upgrade
from habot.store.readings import ReadingStore
from tests.kit.cli import habot, on_database
from tests.kit.statuses import pair_status
from tests.kit.world import LEAD, World, shown
from tests.kit.world import world as world  # the fixture

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


class Timings(NoTelemetry):
    """The telemetry port, keeping operation_took's observations."""

    def __init__(self) -> None:
        self.took: list[tuple[str, str, float]] = []

    def operation_took(self, operation: str, stage: str, seconds: float) -> None:
        self.took.append((operation, stage, seconds))


async def operate(world: World, text: str) -> str:
    """Ask, have LEAD approve, let it run; the request's id."""
    await world.ask(text)
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    await world.service.drain()
    return rid


async def test_a_scripted_day_gives_who_served_when_and_why(world: World, memory: Stores) -> None:
    """A scripted day of readings and operations gives who served when, for how long, and what
    caused each change."""
    timings = Timings()
    world.service = world.with_service(telemetry=timings)
    status = StatusService(world.settings, world.runner, world.clock)
    start = world.clock.now

    async def poll() -> None:
        await memory.readings.add(await status.read_pair(world.settings.pair("prod")))

    def later(**delta: float) -> None:
        world.clock.now += timedelta(**delta)

    await poll()  # 03:00 BAU
    later(hours=1)
    switchover = await operate(world, "switchover prod")
    await poll()  # 04:00 the Secondary serves
    later(hours=2)
    failback = await operate(world, "failback prod")
    await poll()  # 06:00 the Primary again
    later(hours=2)
    await world.sim.apply("prod", "primary", "down")
    await poll()  # 08:00 nobody
    later(minutes=10)
    failover = await operate(world, "failover prod")
    await poll()  # 08:10 the Secondary
    later(hours=1)
    readings = await memory.readings.since("prod", start - timedelta(days=1))
    records = [r async for r in memory.audit.records()]
    tenures = role_history(readings, records, "prod")
    table = [(t.server, t.since - start, t.lasted(world.clock.now), t.cause) for t in tenures]
    ops, lead = "U0OPS1", (LEAD.user,)
    assert table == [
        ("Primary", timedelta(0), timedelta(hours=1), None),
        ("Secondary", timedelta(hours=1), timedelta(hours=2),
         Cause(switchover, "switchover", ops, lead, "succeeded")),
        ("Primary", timedelta(hours=3), timedelta(hours=2),
         Cause(failback, "failback", ops, lead, "succeeded")),
        ("nobody", timedelta(hours=5), timedelta(minutes=10), Cause()),
        ("Secondary", timedelta(hours=5, minutes=10), timedelta(hours=1),
         Cause(failover, "failover", ops, lead, "succeeded")),
    ]  # fmt: skip
    assert tenures[-1].until is None  # still serving
    words = plain(role_reply("prod", tenures, world.clock.now).parts)
    assert "(5 stretches)" in words
    assert "(10 min) · nobody served · observed: no operation by habot" in words
    assert (
        f"the Secondary serves · after failover {failover} by @U0OPS1, approved by "
        "@U0LEAD1 (succeeded)"
    ) in words
    assert {json.dumps(t.as_dict(world.clock.now))[:20] for t in tenures}  # JSON-ready
    stages = [(op, stage) for op, stage, _ in timings.took]
    assert stages == [(op, s) for op in ("switchover", "failback", "failover")
                      for s in ("approval", "start", "running", "total")]  # fmt: skip
    assert world.sim.pairs["prod"].nodes[Role.SECONDARY].state.value == "promoted_active"


def test_no_reading_kept_says_so() -> None:
    """With no reading kept, the role history says so."""
    assert role_history([], [], "prod") == []
    assert "No readings of prod are kept yet" in shown(role_reply("prod", [], datetime.now(UTC)))


async def test_the_command_line_says_who_served_as_words_and_as_json(
    sim: Simulator, tmp_path: Path
) -> None:
    """`habot history prod --roles [--json]` on the host, from the same database: two
    readings an hour apart, the Secondary serving in the second, no operation between."""
    db, config = tmp_path / "roles.db", tmp_path / "roles.toml"
    config.write_text(on_database(sim, db))
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = ReadingStore(engine)
    bau = pair_status(Verdict.BAU)
    primary = replace(bau.primary, state=NodeState.ACTIVE)
    store.add_sync(replace(bau, primary=primary, observed_at=T0))
    demoted = replace(bau.primary, state=NodeState.DEMOTED)
    promoted = replace(bau.secondary, state=NodeState.PROMOTED_ACTIVE)
    store.add_sync(replace(bau, primary=demoted, secondary=promoted,
                           observed_at=T0 + timedelta(hours=1)))  # fmt: skip
    engine.dispose()
    words = await habot("--config", str(config), "history", "prod", "--roles")
    assert words.code == 0, words.err
    assert "prod: who served (2 stretches)" in words.out
    assert "(1 h) · the Primary served · the first reading kept" in words.out
    assert "the Secondary serves · observed: no operation by habot" in words.out
    rows = await habot("--config", str(config), "history", "prod", "--roles", "--json")
    served = [json.loads(line) for line in rows.out.splitlines()]
    assert [(r["served_by"], r["seconds"] if r["until"] else None) for r in served] == [
        ("Primary", 3600.0), ("Secondary", None),
    ]  # fmt: skip
    assert served[1]["cause"] == {"observed": True}
    refused = await habot("--config", str(config), "history", "--roles")
    assert refused.code == 2
    assert "--roles needs a PAIR" in refused.err
