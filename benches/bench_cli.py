"""`habot --version` and `habot --help`: how long the command line takes to start.

Run: python -m benches.bench_cli [--rounds N]

Each is run as a process, as a person types it; the baseline is `python -c pass` in the
same run (what any Python command line pays before its first import). Target: each well
under 0.3 s (p90 ≤ 0.3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from benches.kit import Target, heading, percentile, row, summary


async def timed(*argv: str) -> float:
    """Seconds from starting the process to its exit (its output is read and dropped)."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await proc.wait()
    return time.perf_counter() - started


async def bench(rounds: int = 20) -> None:
    """Start each command ``rounds`` times, one after another."""
    heading(f"command line start-up, {rounds} runs each")
    runs = {
        "python -c pass (baseline)": (sys.executable, "-c", "pass"),
        "habot --version": (sys.executable, "-m", "habot", "--version"),
        "habot --help": (sys.executable, "-m", "habot", "--help"),
        "habot status --help (imports its command)": (sys.executable, "-m", "habot", "status",
                                                      "--help"),
    }  # fmt: skip
    for label, argv in runs.items():
        samples = [await timed(*argv) for _ in range(rounds)]
        row(label, summary(samples))
        if label.startswith(("habot --version", "habot --help")):
            row("", str(Target("p90 ≤ 0.3 s", percentile(samples, 90) <= 0.3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(bench(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
