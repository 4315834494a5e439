"""The event loop under a burst: no callback may hold it for 100 ms once habot serves.

Run: python -m benches.bench_loop [--burst N] [--rounds N]

`habot run --http` (the real process) in asyncio debug mode, which logs every callback
that runs longer than 100 ms ("Executing … took 0.123 seconds"). Each round sends a burst of
signed `/ha status prod` (one person each), then one `/ha status all`, and lets the
scheduled polls run; printed: how many callbacks went over 100 ms once the bot served, and
the longest. Target: none. (Full garbage collections of the start-up objects used to pause
the loop 120–210 ms; they are frozen out of the collector after start-up.)

This was a test until a loaded CI-sized machine showed one callback at 102 ms: a time is a
figure for a benchmark, never an assertion in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from pathlib import Path

import aiohttp

from benches.kit import UNLIMITED, Target, asked, heading, row
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import FakeSlack

SLOW = re.compile(r"Executing (.*) took (\d+\.\d+) seconds")


def slow_callbacks(log: str) -> list[tuple[float, str]]:
    """(seconds, what) of each callback asyncio reported over 100 ms after the bot served
    (start-up builds before it listens and is not counted)."""
    serving = log[log.index("serving Slack over HTTP") :]
    return [(float(m.group(2)), m.group(1)[:120]) for m in SLOW.finditer(serving)]


async def bench(burst: int, rounds: int) -> None:
    """``rounds`` bursts against one bot in asyncio debug mode."""
    heading(f"event loop: {rounds} × ({burst} × /ha status prod, then /ha status all)")
    fake = FakeSlack()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(Path(tmp) / "sim", ("prod", "dr")) as sim:
            bot = await start_bot(sim, fake, Path(tmp), http=True, extra=UNLIMITED, debug_loop=True)
            try:
                async with aiohttp.ClientSession() as session:
                    for n in range(rounds):
                        await asyncio.gather(*(
                            asked(session, bot.events_url, fake, "status prod", f"U0B{n}x{u:04d}")
                            for u in range(burst)
                        ))  # fmt: skip
                        await asked(session, bot.events_url, fake, "status all", f"U0ALL{n}")
                        await asyncio.sleep(1)  # a scheduled poll or two
            finally:
                log = await bot.stop()
    await fake.stop()
    assert "asyncio debug mode on" in log, "the bot did not run in debug mode"
    slow = slow_callbacks(log)
    row("callbacks over 100 ms once serving", f"{len(slow):8d}")
    if slow:
        seconds, what = max(slow)
        row("the longest", f"{seconds * 1e3:8.1f} ms", what)
    row("", str(Target("no callback over 100 ms", not slow)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(bench(args.burst, args.rounds))


if __name__ == "__main__":
    main()
