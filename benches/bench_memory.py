"""Memory: the bot's RSS idle with 100 pairs, and its growth from the 1,000th to the
2,000th request.

Run: python -m benches.bench_memory [--pairs N] [--requests N]

`habot run --http` (the real process) in front of the simulator's N pairs; after its first
status round, RSS is read from /proc; then `/ha status pNNN` for every pair in turn, 50 at a
time from 50 people, RSS read after the 1,000th and the 2,000th. Baseline: the bare Bolt
app's RSS (benches/bare_bolt.py) in the same run. Target: growth ≤ 5%.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import aiohttp

from benches.bench_ack import bare_app
from benches.kit import DEFAULT_FRESH, UNLIMITED, Target, asked, heading, row
from habot.sim.simulator import Simulator
from tests.kit.botproc import Bot, start_bot
from tests.kit.fakeslack import FakeSlack


def rss_mib(pid: int) -> float:
    """A process's resident set size in MiB (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    [line] = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024


async def requests(bot: Bot, fake: FakeSlack, pairs: int, first: int, count: int) -> None:
    """``count`` status requests, 50 at a time, cycling through the pairs and 50 people."""
    async with aiohttp.ClientSession() as session:
        for start in range(first, first + count, 50):
            await asyncio.gather(
                *(
                    asked(session, bot.events_url, fake, f"status p{n % pairs:03d}", f"U0M{n % 50}")
                    for n in range(start, min(start + 50, first + count))
                )
            )


async def bench(pairs: int, total: int) -> None:
    """Idle RSS, then RSS at the halfway mark and at the end."""
    heading(f"memory: {pairs} pairs, {total} requests")
    fake = FakeSlack()
    await fake.start()
    names = tuple(f"p{n:03d}" for n in range(pairs))
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(Path(tmp) / "sim", names) as sim:
            bare, _ = await bare_app(fake)
            bot = await start_bot(
                sim, fake, Path(tmp), http=True, ssh=DEFAULT_FRESH, extra=UNLIMITED
            )
            try:
                await asyncio.sleep(2)
                idle, bare_idle = rss_mib(bot.process.pid), rss_mib(bare.pid)
                await requests(bot, fake, pairs, 0, total // 2)
                half = rss_mib(bot.process.pid)
                await requests(bot, fake, pairs, total // 2, total - total // 2)
                end = rss_mib(bot.process.pid)
            finally:
                bare.terminate()
                await bare.wait()
                await bot.stop()
    await fake.stop()
    growth = (end - half) / half
    row("bare slack_bolt AsyncApp, idle (baseline)", f"{bare_idle:7.1f} MiB")
    row(f"habot run, idle with {pairs} pairs", f"{idle:7.1f} MiB", f"{idle / bare_idle:5.2f}×")
    row(f"after {total // 2} requests", f"{half:7.1f} MiB")
    row(f"after {total} requests", f"{end:7.1f} MiB", f"{growth * 100:+5.1f}% since the half")
    row("", str(Target("growth from the 1,000th to the 2,000th request ≤ 5%", growth <= 0.05)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(bench(args.pairs, args.requests))


if __name__ == "__main__":
    main()
