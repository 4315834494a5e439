"""Run every benchmark in turn: ``python -m benches`` (about 20 minutes on 2 cores).

Each prints its figures beside a baseline measured in the same run, and says whether it met
its target; nothing here fails. Run one alone with ``python -m benches.bench_NAME --help``.
"""

from __future__ import annotations

import asyncio

from benches import (
    bench_ack,
    bench_audit,
    bench_burst,
    bench_cli,
    bench_click,
    bench_console,
    bench_fleet,
    bench_loop,
    bench_memory,
)


def main() -> None:
    """All of them, with their default sizes."""
    asyncio.run(bench_ack.bench(rounds=20, concurrency=50))
    asyncio.run(bench_fleet.bench([25, 100], rounds=6, sshd=True))
    asyncio.run(bench_burst.bench(burst=1300))
    asyncio.run(bench_click.bench(operations=100))
    asyncio.run(bench_memory.bench(pairs=100, total=2000))
    asyncio.run(bench_audit.bench(events=100_000, seconds=3.0, url=None))
    asyncio.run(bench_console.bench(rounds=30))
    asyncio.run(bench_loop.bench(burst=100, rounds=5))
    asyncio.run(bench_cli.bench(rounds=20))


if __name__ == "__main__":
    main()
