"""A console pair's status read beside an exec pair's, cold and warm, on the simulator.

Run: python benches/bench_console.py [--rounds N]

Both pairs are simulated in one process over real SSH on 127.0.0.1: `exec` logs in with a
key and sends `ha-status` as an exec request; `console` logs in with a password, opens a
shell with a terminal, waits for the banner and prompt, types `ha-status`, reads to the
prompt and types `exit`. Measured, per node read (median and p90 over the rounds):

- cold: a new executor, so a new SSH connection (key exchange and login) per read;
- warm: the executor's pooled connection — what habot does between polls;
- warm, first login on a new connection is excluded, and for the console the prompt
  learned at the previous login is known (no settle wait);
- console, one shell kept: a second command typed in the same logged-in shell — the
  alternative habot does not take (see habot/ssh/console.py for why); shown to say what
  it would save.

The baseline is the exec read measured in the same run; ratios are printed beside it.
Absolute times are only indicative (a shared, noisy machine). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import asyncssh

from benches.kit import timed
from habot.config import load_settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import Role
from habot.runtime import node_logins
from habot.secrets import Secrets
from habot.sim.simulator import Simulator
from habot.ssh.console import ConsoleSession
from habot.ssh.executor import SshExecutor
from habot.ssh.session import Channel, Conversation

STATUS = ha_command(HaCommand.STATUS)


def line(label: str, samples: list[float], baseline: list[float] | None) -> str:
    """One printed row: median, p90, and the ratio of medians to the baseline."""
    median = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10)[-1] if len(samples) > 1 else median
    ratio = f"{median / statistics.median(baseline):5.2f}× exec" if baseline else "baseline"
    return f"{label:<44} median {median * 1e3:7.1f} ms   p90 {p90 * 1e3:7.1f} ms   {ratio}"


async def bench(rounds: int) -> None:
    """Run every measurement against one simulator with an exec pair and a console pair."""
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(Path(tmp), ("execpair", "conpair"), console=("conpair",)) as sim:
            settings = load_settings(sim.kit.config_path)
            secrets = Secrets({"HABOT_SSH_PASSWORD": sim.kit.console_password()}, _no_keyring)
            logins = node_logins(settings, secrets)
            nodes = {p: sim.address(p, Role.PRIMARY) for p in ("execpair", "conpair")}

            async def cold(pair: str) -> None:
                async with SshExecutor(settings.ssh, None, logins) as ex:
                    await ex.run(nodes[pair], STATUS)

            results: dict[str, list[float]] = {}
            for pair in ("execpair", "conpair"):
                results[f"{pair} cold"] = await timed(rounds, partial(cold, pair))
            async with SshExecutor(settings.ssh, None, logins) as ex:
                for pair in ("execpair", "conpair"):
                    await ex.run(nodes[pair], STATUS)  # connect and learn the prompt first
                    results[f"{pair} warm"] = await timed(
                        rounds, partial(ex.run, nodes[pair], STATUS)
                    )
                async with ex.pool(nodes["conpair"]).connection() as lease:
                    kept = await kept_shell(lease.conn, rounds)
    exec_cold, exec_warm = results["execpair cold"], results["execpair warm"]
    print(line("exec, cold (new connection + key login)", exec_cold, None))
    print(line("console, cold (new connection + password)", results["conpair cold"], exec_cold))
    print(line("exec, warm (pooled connection)", exec_warm, None))
    print(line("console, warm (pooled connection, new shell)", results["conpair warm"], exec_warm))
    print(line("console, one shell kept (2nd+ command)", kept, exec_warm))


async def kept_shell(conn: asyncssh.SSHClientConnection, rounds: int) -> list[float]:
    """Commands typed one after another into one logged-in console (not what habot does;
    it reaches into ConsoleSession's steps to measure the alternative)."""
    talk = Conversation("bench", 1_048_576, console=True)
    session = ConsoleSession(talk, prompt_idle=5.0, login_limit=10.0, prompt=None)
    channel = await Channel.open(conn, term_type="vt100")
    login = await session._log_in(channel)
    closing = session._closing(login.prompt)
    samples = []
    for _ in range(rounds):
        session.talk = Conversation("bench", 1_048_576, console=True)
        start = time.perf_counter()
        await session._ask(channel, "ha-status", closing)
        samples.append(time.perf_counter() - start)
    channel.close()
    return samples


def _no_keyring(service: str, name: str) -> str | None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(bench(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
