"""A burst: 1,300 `/ha status prod` at once, then one `/ha status all`.

Run: python -m benches.bench_burst [--burst N]

`habot run --http` (the real process) in front of the simulator's two pairs; every request
signed and from a distinct person (so the per-person limit never answers instead). Printed:
how long the burst took to be answered, how many ha-status the appliance ran for it, and how
long the `/ha status all` sent right after waited — beside the baseline of the same
`/ha status all` on an idle bot (a warm poll). Targets: that answer within 3× the warm poll;
a few ha-status per node per `fresh_for` window, not one per request.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from benches.kit import (
    DEFAULT_FRESH,
    UNLIMITED,
    Target,
    asked,
    cpu_seconds,
    heading,
    median,
    ms,
    row,
)
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import FakeSlack


def status_runs(sim: Simulator) -> int:
    """ha-status the simulated nodes have run so far."""
    return sum(1 for p in sim.pairs.values() for _, command in p.runs if command == "ha-status")


async def bench(burst: int) -> None:
    """Warm polls first, then the burst and the poll behind it."""
    heading(f"burst: {burst} × /ha status prod, then /ha status all")
    fake = FakeSlack()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(Path(tmp) / "sim", ("prod", "dr")) as sim:
            bot = await start_bot(
                sim, fake, Path(tmp), http=True, ssh=DEFAULT_FRESH, extra=UNLIMITED
            )
            try:
                async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=0)
                ) as session:
                    url = bot.events_url
                    warm = []
                    for n in range(10):
                        warm.append(await asked(session, url, fake, "status all", f"U0W{n}"))
                        await asyncio.sleep(2.5)  # past fresh_for: each one really reads
                    before, start, cpu = status_runs(sim), time.perf_counter(), cpu_seconds(bot)
                    crowd = [
                        asked(session, url, fake, "status prod", f"U0C{n:05d}")
                        for n in range(burst)
                    ]
                    behind = asked(session, url, fake, "status all", "U0LAST")
                    waits = await asyncio.gather(*crowd, behind)
                    took, runs = time.perf_counter() - start, status_runs(sim) - before
                    cpu = cpu_seconds(bot) - cpu
            finally:
                await bot.stop()
    await fake.stop()
    row("/ha status all on an idle bot, warm (baseline)", ms(median(warm)))
    row(f"the burst, all {burst} answered", ms(took))
    row("/ha status all sent behind it", ms(waits[-1]), f"{waits[-1] / median(warm):5.2f}×")
    row("ha-status run by the appliance for the burst", f"{runs:8d}", f"({burst * 2} asked)")
    row(
        "the bot's CPU time for the burst", f"{cpu:8.2f} s", f"{cpu / burst * 1e3:.1f} ms a request"
    )
    row(
        "",
        str(Target("the poll behind the burst ≤ 3× the warm poll", waits[-1] <= 3 * median(warm))),
    )
    windows = max(1.0, took / 2.0)  # fresh_for is 2 s
    row("", str(Target("a few ha-status per node per fresh_for window", runs / 4 / windows <= 3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=1300)
    asyncio.run(bench(parser.parse_args().burst))


if __name__ == "__main__":
    main()
