"""The pages an escalation sent."""

from __future__ import annotations

from habot.core.outbox import Delivery, Next
from tests.kit.world import World
from tests.kit.world import world as world


async def pages(world: World) -> list[tuple[str, str]]:
    """(channel, action) of every page queued so far (each then marked delivered)."""
    outbox = world.outbox  # type: ignore[attr-defined]
    found = []
    for lane in await outbox.lanes():
        while lane.startswith("page:") and (head := await outbox.head(lane)) is not None:
            found.append((head.channel, head.payload["action"]))
            await outbox.record(head.id, Next(Delivery.SENT, world.clock()), None, None)
    return found
