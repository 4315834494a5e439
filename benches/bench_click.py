"""Approval click → the command started on the node, over 100 operations.

Run: python -m benches.bench_click [--operations N]

`habot run --http` (the real process) in front of the simulator; switchover and failback in
turn on `prod`, each requested by an operator and approved by a click from another person
(signed, as Slack sends it). Measured: from sending the click to the appliance receiving
`ha-failover` / `ha-failback` — which includes habot's fresh reading of both nodes, the
re-check of the preconditions and the ownership check before the point of no return.
Baseline: one warm `ha-status` round trip to the same node in the same run (the least any
command could take). Target: p99 ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benches.kit import DEFAULT_FRESH, Target, heading, percentile, row, summary
from habot.config import load_settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import Role
from habot.sim.appliance import Plan
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import FakeSlack
from tests.test_slack_operations import CONFIG, LEAD, ask, cards, click

FAST = CONFIG.replace('cooldown = "10m"', 'cooldown = "1s"').replace(
    'command = "/ha"', 'command = "/ha"\ncommands_per_minute = 10000'
)
MUTATING = {"ha-failover", "ha-failback"}


def succeeded(fake: FakeSlack) -> int:
    """Card updates so far that say Succeeded."""
    return sum("Succeeded" in json.dumps(u.args["blocks"]) for u in fake.calls_to("chat.update"))


async def bench(operations: int) -> None:
    """Alternate switchover and failback; time each approval click to the node."""
    heading(f"approval click → command started on the node, {operations} operations")
    fake = FakeSlack()
    await fake.start()
    started: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(Path(tmp) / "sim", ("prod",)) as sim:
            pair = sim.pairs["prod"]
            plan = pair.plan

            def timed_plan(me: Role, line: str, now: Any) -> Plan:
                if line.split()[0] in MUTATING:
                    started.append(time.perf_counter())
                return plan(me, line, now)

            pair.plan = timed_plan  # type: ignore[method-assign,assignment]
            baseline = await status_round_trips(sim, 50)
            bot = await start_bot(sim, fake, Path(tmp), http=True, extra=FAST, ssh=DEFAULT_FRESH)
            clicks: list[float] = []
            try:
                for n in range(operations):
                    await asyncio.sleep(1.05)  # the 1 s cooldown between role changes
                    done = succeeded(fake)
                    await ask(bot, fake, "switchover prod" if n % 2 == 0 else "failback prod")
                    before = len(started)
                    clicks.append(time.perf_counter())
                    await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
                    await fake.wait_for(lambda d=done: succeeded(fake) > d)
                    assert len(started) == before + 1
            finally:
                await bot.stop()
    await fake.stop()
    waits = [s - c for s, c in zip(started, clicks, strict=True)]
    row("warm ha-status round trip to the node (baseline)", summary(baseline))
    row("click → command started on the node", summary(waits))
    row("", str(Target("p99 ≤ 150 ms", percentile(waits, 99) <= 0.150)))


async def status_round_trips(sim: Simulator, rounds: int) -> list[float]:
    """Warm ha-status round trips to prod's Primary, from this process."""
    settings = load_settings(sim.kit.config_path)
    address = sim.address("prod", Role.PRIMARY)
    samples = []
    async with SshExecutor(settings.ssh) as ex:
        await ex.run(address, ha_command(HaCommand.STATUS))
        for _ in range(rounds):
            start = time.perf_counter()
            await ex.run(address, ha_command(HaCommand.STATUS))
            samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--operations", type=int, default=100)
    asyncio.run(bench(parser.parse_args().operations))


if __name__ == "__main__":
    main()
