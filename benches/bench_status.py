"""Benchmarks for the status path: parsing, and reading pairs over SSH from the simulator.

Run: python benches/bench_status.py [--pairs N] [--rounds N]
Prints medians; nothing here asserts a time (machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from habot.config import load_settings
from habot.core.model import Role
from habot.core.status_parser import parse_status
from habot.runtime import utc_now
from habot.services.status import StatusService
from habot.sim.appliance import Layout, PairSim
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor


def bench_parser(rounds: int) -> None:
    """Median time to parse one ha-status output, for each simulated layout."""
    for layout in Layout:
        text = PairSim("p", "10.0.0.1", "10.0.0.2", "10.0.0.3", layout=layout).status_text(
            Role.PRIMARY
        )
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(100):
                parse_status(text)
            samples.append((time.perf_counter() - start) / 100)
        print(f"parse_status[{layout.value:<7}]  median {statistics.median(samples) * 1e6:8.1f} µs")


async def bench_ssh(pairs: int, rounds: int) -> None:
    """Median wall time of `status all` over SSH: cold (new connections) and warm (pooled)."""
    names = tuple(f"pair{i}" for i in range(pairs))
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(Path(tmp), names) as sim:
            settings = load_settings(sim.kit.config_path)
            cold, warm = [], []
            tracemalloc.start()
            for _ in range(rounds):
                async with SshExecutor(settings.ssh) as ex:
                    service = StatusService(settings, ex, utc_now)
                    start = time.perf_counter()
                    await service.read("all")
                    cold.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    await service.read("all")
                    warm.append(time.perf_counter() - start)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    label = f"status all, {pairs} pairs ({2 * pairs} nodes)"
    print(f"{label}, cold  median {statistics.median(cold) * 1e3:7.1f} ms")
    print(f"{label}, warm  median {statistics.median(warm) * 1e3:7.1f} ms")
    print(f"peak traced memory during the SSH rounds: {peak / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bench_parser(max(args.rounds, 20))
    asyncio.run(bench_ssh(args.pairs, args.rounds))


if __name__ == "__main__":
    main()
