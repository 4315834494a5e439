"""Every check on the card: what habot checked before it opened a request (✓ / ⚠ / ✗, one
line each) and the exact steps it will take — and, when the re-check before the run
aborts, which of those checks changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from habot.core.checks import changed, checks_made, from_json, steps, to_json
from habot.core.model import Check, Mark
from habot.core.operations import Operation
from habot.core.preflight import preflight
from habot.core.verdict import PairStatus
from habot.services.ports import Stores
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from tests.kit.world import LEAD, World, shown, world_on


@pytest.fixture
async def world(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    async with world_on(sim, memory) as built:
        yield built


async def reading(world: World) -> PairStatus:
    return await StatusService(world.settings, world.runner, world.clock).read_pair(
        world.settings.pair("prod")
    )


def marks(found: tuple[Check, ...]) -> dict[str, Mark]:
    return {c.name: c.mark for c in found}


@pytest.mark.parametrize(
    ("faults", "operation", "expected"),
    [
        ([], Operation.SWITCHOVER, {"primary": Mark.OK, "secondary": Mark.OK,
                                    "peers": Mark.OK, "health": Mark.OK, "smb": Mark.WARN}),
        ([("primary", "down", None)], Operation.FAILOVER,
         {"primary": Mark.WARN, "secondary": Mark.OK, "peers": Mark.OK, "health": Mark.WARN}),
        ([("pair", "degraded", "on")], Operation.INITIALISE,
         {"primary": Mark.OK, "health": Mark.WARN}),
        ([("pair", "smb", "85")], Operation.SWITCHOVER, {"smb": Mark.WARN}),
    ],
    ids=["bau switchover", "power cut failover", "degraded initialise", "smb nearly full"],
)  # fmt: skip
async def test_each_verdict_shape_gives_its_checks(
    sim: Simulator,
    world: World,
    faults: list[tuple[str, str, str | None]],
    operation: Operation,
    expected: dict[str, Mark],
) -> None:
    """Each pair shape gives its own list of checks on the approval card."""
    for target, fault, value in faults:
        await sim.apply("prod", target, fault, value)
    status = await reading(world)
    plan = preflight(operation, status)
    found = checks_made(status, plan, "10m", None)
    assert [c.name for c in found] == [
        "primary", "secondary", "peers", "health", "cooldown", "smb", "console", "open", "freeze",
    ]  # fmt: skip
    assert {k: v for k, v in marks(found).items() if k in expected} == expected
    words = {c.name: c.words for c in found}
    assert words["cooldown"] == "no role change in the last 10m"
    assert words["open"] == "no other request holds prod"
    if operation is Operation.FAILOVER:
        assert words["peers"] == "the Secondary sees the Primary Failed"
    overridden = checks_made(status, plan, "10m", "DR test window")
    assert marks(overridden)["cooldown"] is Mark.WARN


async def test_the_steps_say_what_is_typed_where_and_what_is_verified(
    sim: Simulator, world: World
) -> None:
    """The card's steps say where habot logs in, what it types, what it answers and what it
    verifies."""
    await sim.apply("prod", "primary", "down")
    plan = preflight(Operation.FAILOVER, await reading(world))
    done = steps(plan)
    assert done[0].startswith("log in to the secondary (")
    assert done[0].endswith("and type `ha-failover`")
    assert "answer `y`" in done[1]
    assert done[2] == "read both nodes again and expect Secondary Promoted Active"


def test_a_changed_check_is_named_with_what_it_was() -> None:
    """A check that changed since the card was posted is named with what it was."""
    before = (Check("health", Mark.OK, "HA health OK"), Check("open", Mark.OK, "none"))
    after = (Check("health", Mark.WARN, "HA health Degraded"), Check("open", Mark.OK, "none"))
    assert changed(before, after) == "HA health Degraded (was: HA health OK)"
    assert changed(before, before) is None


async def test_the_card_lists_the_checks_and_the_abort_names_the_change(
    sim: Simulator, world: World
) -> None:
    """The card says what was checked (labelled necessary, not sufficient) and the steps;
    a pair gone Degraded before the approval aborts the run, naming the health check."""
    await world.ask("switchover prod")
    card = shown(world.notifier.last())
    assert "What habot checked* (necessary, not sufficient" in card
    assert "\\u2713 Primary (" in card  # the mark, then the node's own words
    assert "Then it will:" in card
    request = await world.requests.get(world.request_id())
    assert request is not None
    assert [c.name for c in request.checks][:2] == ["primary", "secondary"]
    await sim.apply("prod", "pair", "degraded", "on")
    await world.service.approve(LEAD, request.id)
    await world.service.drain()
    final = shown(world.notifier.last())
    assert "Changed since it was approved: HA health Degraded (was: HA health OK)" in final
    assert world.runs() == []
    assert "What habot checked" not in final  # the card of a closed request is its record


def test_checks_survive_the_round_trip_through_the_store() -> None:
    """Checks stored with a request read back the same."""
    found = (Check("smb", Mark.WARN, "SMB share not configured"), Check("x", Mark.FAIL, "y"))
    assert from_json(to_json(found)) == found
    assert from_json(None) == ()
    assert replace(found[0], mark=Mark.OK).line == "\u2713 SMB share not configured"
