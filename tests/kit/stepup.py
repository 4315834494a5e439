"""A world whose approvals are confirmed by typing the pair's name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from tests.kit.botproc import ROLES
from tests.kit.world import World, world_on


@pytest.fixture
async def stepped(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    """The service with the built-in step-up (the test configs elsewhere turn it off)."""
    async with world_on(sim, memory) as world:
        operations = {k: v.model_copy(update={"confirm": None})
                      for k, v in world.settings.approval.operations.items()}  # fmt: skip
        approval = world.settings.approval.model_copy(update={"operations": operations})
        world.settings = world.settings.model_copy(update={"approval": approval})
        world.service = world.with_service(settings=world.settings)
        yield world


STEP_UP = (
    ROLES.replace('approvers = ["U0LEAD1"]', 'approvers = ["U0LEAD1", "U0LEAD2"]')
    + '\n[approval]\nttl = "15m"\ncooldown = "10m"\n'
)
