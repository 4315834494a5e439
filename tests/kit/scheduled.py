"""Operations asked for later, end to end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from habot.sim.simulator import Simulator
from tests.kit.botproc import Bot, start_bot
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import (
    CONFIG,
    OPS,
)

#: A short run window and reminder, so a test waits seconds, not minutes.
SCHEDULED = CONFIG.replace(
    'cooldown = "10m"\n', 'cooldown = "10m"\nrun_window = "20s"\nremind_before = "10s"\n', 1
)


TOKYO = ZoneInfo("Asia/Tokyo")


def in_tokyo(seconds: float) -> tuple[str, datetime]:
    """A moment ``seconds`` from now, as a person in Tokyo types it (their wall clock, no
    offset), and the moment itself."""
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    return at.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M:%S"), at


async def until(moment: datetime) -> None:
    """Sleep until ``moment`` (a real clock: the bot is a process)."""
    await asyncio.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0))


async def started(sim: Simulator, fake: FakeSlack, tmp: Path, name: str = "bot") -> Bot:
    """The bot, its asker living in Tokyo (Slack's users.info says so)."""
    fake.zones[OPS] = "Asia/Tokyo"
    return await start_bot(sim, fake, tmp, http=True, extra=SCHEDULED, name=name)
