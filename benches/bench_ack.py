"""Ack latency: how long Slack waits for habot's HTTP 200, beside a bare Bolt app.

Run: python -m benches.bench_ack [--rounds N] [--concurrency N]

`habot run --http` (the real process, the simulator's two pairs behind it) and a bare
`slack_bolt` AsyncApp that only acks (benches/bare_bolt.py) each get rounds of N concurrent
signed `/ha status prod` requests (one per distinct user, so the per-person limit never
answers instead), rounds alternating between the two. The requests are sent and timed from a
process of their own (benches/loadgen.py), so the fake Slack taking habot's answers does not
slow the stopwatch. The figure is the time from sending a request to its HTTP 200.
Target: habot's p99 ≤ 1.3× the bare app's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from itertools import count
from pathlib import Path

from benches.kit import DEFAULT_FRESH, Target, heading, percentile, row, summary
from habot.sim.simulator import Simulator
from tests.kit.botproc import free_port, start_bot
from tests.kit.fakeslack import FakeSlack

_ROUNDS = count()


async def round_of(url: str, fake: FakeSlack, n: int) -> list[float]:
    """N concurrent signed requests, sent and timed by benches/loadgen.py in a process of
    its own; each one's seconds to HTTP 200."""
    base = fake.response_url()[0].rsplit("/", 1)[0] + "/"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benches.loadgen", url, base, str(n), f"U0B{next(_ROUNDS):04d}",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0
    return [float(s) for s in json.loads(out)]


async def bare_app(fake: FakeSlack) -> tuple[asyncio.subprocess.Process, str]:
    """Start the bare Bolt app; its events URL once it listens."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("bare_bolt.py")), str(port), fake.api_url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    return process, f"http://127.0.0.1:{port}/slack/events"


async def bench(rounds: int, concurrency: int) -> None:
    """Alternate rounds between habot and the bare app; print p50/p99 and the ratio."""
    heading(f"ack latency: {rounds} rounds of {concurrency} concurrent signed /ha status prod")
    fake = FakeSlack()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(Path(tmp) / "sim", ("prod", "dr")) as sim:
            bot = await start_bot(sim, fake, Path(tmp), http=True, ssh=DEFAULT_FRESH)
            bare, bare_url = await bare_app(fake)
            samples: dict[str, list[float]] = {"habot": [], "bare": []}
            try:
                for url in (bot.events_url, bare_url):  # warm both up
                    await round_of(url, fake, concurrency)
                for _ in range(rounds):
                    for name, url in (("habot", bot.events_url), ("bare", bare_url)):
                        samples[name] += await round_of(url, fake, concurrency)
            finally:
                bare.terminate()
                await bare.wait()
                await bot.stop()
    await fake.stop()
    ratio = percentile(samples["habot"], 99) / percentile(samples["bare"], 99)
    row("bare slack_bolt AsyncApp (baseline)", summary(samples["bare"]))
    row("habot run --http", summary(samples["habot"]), f"p99 {ratio:.2f}× baseline")
    row("", str(Target("p99 ≤ 1.3× the bare app", ratio <= 1.3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(bench(args.rounds, args.concurrency))


if __name__ == "__main__":
    main()
