"""Fleet status: `status all` for 25 and 100 pairs, cold and warm, beside OpenSSH loops.

Run: python -m benches.bench_fleet [--pairs 25,100] [--rounds N] [--no-sshd]

Two kinds of appliance: the simulator (in this process, over real SSH), and a real OpenSSH
sshd listening on one port per node whose ForceCommand serves a canned ha-status (as the
test suite's). For each: habot's `StatusService.read("all")` cold (a new executor: new
connections) and warm (pooled), against the baselines measured in the same run — a
sequential `ssh node ha-status` loop, and `xargs -P 10` over the same commands.
Targets: cold ≥ 10× faster than the sequential loop at 25 pairs; a warm re-poll ≤ 2× the
slowest single node's own (warm) ha-status.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from benches.kit import Target, heading, median, ms, row, timed
from habot.config import Settings, load_settings, parse_settings
from habot.core.addresses import NodeAddress
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import Role
from habot.runtime import utc_now
from habot.services.status import StatusService
from habot.sim.kit import SimKit
from habot.sim.simulator import control
from habot.ssh.executor import SshExecutor
from tests.kit.factories import serving
from tests.kit.sshd import prepare, wait_listening

STATUS = ha_command(HaCommand.STATUS)


@dataclass(frozen=True)
class Fleet:
    """Where the nodes are and how to reach them (habot's settings and ssh's options)."""

    settings: Settings
    nodes: list[NodeAddress]
    username: str
    client_key: Path
    known_hosts: Path


def settings_for(nodes: list[NodeAddress], username: str, key: Path, known: Path) -> Settings:
    """One pair per two consecutive nodes."""
    pairs = [
        {"name": f"p{i:03d}", "primary": str(nodes[2 * i]), "secondary": str(nodes[2 * i + 1])}
        for i in range(len(nodes) // 2)
    ]
    ssh = {
        "username": username, "client_keys": [str(key)], "known_hosts": str(known),
        "connect_timeout": "20s", "status_timeout": "60s",
    }  # fmt: skip
    return parse_settings({"ssh": ssh, "pairs": pairs})


@asynccontextmanager
async def simulated(pairs: int, base: Path, slow: float = 0.0) -> AsyncIterator[Fleet]:
    """`habot sim run` with ``pairs`` pairs, in a process of its own (as an appliance is);
    with ``slow``, every command waits that long first (an appliance whose ha-status takes
    its time, as a real one may)."""
    names = ",".join(f"p{i:03d}" for i in range(pairs))
    state = base / "sim"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "habot", "sim", "run", "--dir", str(state), "--pairs", names,
        "--base-port", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            while b"config written" not in await process.stdout.readline():
                pass
        kit = SimKit(state)
        written = load_settings(kit.config_path)
        for pair in written.pairs:
            for role in Role:
                if slow:
                    await control(state, _slow(pair.name, role, slow))
        nodes = [pair.address(role) for pair in written.pairs for role in Role]
        settings = settings_for(nodes, "habot", kit.client_key_path, kit.known_hosts_path)
        yield Fleet(settings, nodes, "habot", kit.client_key_path, kit.known_hosts_path)
    finally:
        process.terminate()
        await process.wait()


@asynccontextmanager
async def real_sshd(pairs: int, base: Path) -> AsyncIterator[Fleet]:
    """OpenSSH sshd processes listening on one port per node (at most 16 ports each: sshd's
    own limit), all taking the first one's client key."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    nodes: list[NodeAddress] = []
    known: list[str] = []
    async with AsyncExitStack() as stack:
        first = None
        for index in range(0, 2 * pairs, 16):
            argv, handle = prepare(base / f"sshd{index}", binary)
            first = first or handle
            ports = [handle.address.port, *_free_ports(min(16, 2 * pairs - index) - 1)]
            config = handle.dir / "sshd_config"
            extra = "".join(f"Port {p}\n" for p in ports[1:])
            config.write_text(config.read_text() + extra + "MaxStartups 1000\nMaxSessions 100\n")
            (handle.dir / "authorized_keys").write_text((first.dir / "client_key.pub").read_text())
            key = (handle.dir / "host_key.pub").read_text().split()
            known += [f"[127.0.0.1]:{p} {key[0]} {key[1]}\n" for p in ports]
            await stack.enter_async_context(serving(argv, handle))
            for port in ports:
                await wait_listening(port, handle.process)
            nodes += [NodeAddress("127.0.0.1", p) for p in ports]
        assert first is not None
        first.known_hosts.write_text("".join(known))
        user = stack.enter_context(plain_account(first.username))
        settings = settings_for(nodes, user, first.client_key, first.known_hosts)
        yield Fleet(settings, nodes, user, first.client_key, first.known_hosts)


@contextmanager
def plain_account(fallback: str) -> Iterator[str]:
    """As root: a throwaway account whose shell is /bin/sh (removed afterwards) — root's
    own shell may be bash, which reads ~/.bashrc for every command sshd runs (on this
    machine that costs ~250 ms: pyenv); else the current account."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        yield fallback
        return
    name = f"habotb{secrets.token_hex(3)}"
    subprocess.run(
        ["useradd", "-M", "-s", "/bin/sh", "-p", "*", name], check=True
    )  # "*": no password, not locked
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


def _slow(pair: str, role: Role, seconds: float) -> dict[str, str]:
    return {
        "op": "fault",
        "pair": pair,
        "target": role.value,
        "fault": "slow",
        "value": f"{seconds}",
    }


def _free_ports(n: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def ssh_argv(fleet: Fleet, port: str) -> list[str]:
    """`ssh … ha-status` for one node, as an operator's loop would run it."""
    return [
        "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={fleet.known_hosts}", "-i", str(fleet.client_key),
        "-p", port, f"{fleet.username}@127.0.0.1", "ha-status",
    ]  # fmt: skip


async def sequential(fleet: Fleet) -> None:
    """One `ssh node ha-status` after another."""
    for node in fleet.nodes:
        proc = await asyncio.create_subprocess_exec(
            *ssh_argv(fleet, str(node.port)),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await proc.wait() == 0


async def xargs_p10(fleet: Fleet) -> None:
    """`xargs -P 10` over the same commands."""
    ports = "".join(f"{n.port}\n" for n in fleet.nodes).encode()
    proc = await asyncio.create_subprocess_exec(
        "xargs", "-P", "10", "-I", "{}", *ssh_argv(fleet, "{}"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await proc.communicate(ports)
    assert proc.returncode == 0


async def measure(kind: str, fleet: Fleet, pairs: int, rounds: int) -> None:
    """habot cold and warm, the two OpenSSH baselines, and the slowest single node."""
    heading(f"status all — {pairs} pairs ({2 * pairs} nodes) on {kind}, {rounds} rounds")
    settings = fleet.settings

    async def cold() -> None:
        async with SshExecutor(settings.ssh) as ex:
            await StatusService(settings, ex, utc_now).read("all")

    cold_s = await timed(rounds, cold)
    async with SshExecutor(settings.ssh) as ex:
        service = StatusService(settings, ex, utc_now)
        await service.read("all")
        warm_s = await timed(rounds, lambda: _fresh_read(service, settings))
        singles = [min(await timed(3, partial(ex.run, n, STATUS))) for n in fleet.nodes]
    seq_s = await timed(max(1, rounds // 3), lambda: sequential(fleet))
    par_s = await timed(max(1, rounds // 3), lambda: xargs_p10(fleet))
    seq = median(seq_s)
    row("sequential `ssh node ha-status` loop (baseline)", ms(seq))
    row("xargs -P 10 ssh (baseline)", ms(median(par_s)), f"{seq / median(par_s):5.1f}× faster")
    row("habot status all, cold", ms(median(cold_s)), f"{seq / median(cold_s):5.1f}× faster")
    row("habot status all, warm", ms(median(warm_s)), f"{seq / median(warm_s):5.1f}× faster")
    row("slowest single node, warm", ms(max(singles)))
    if pairs == 25:
        row("", str(Target("cold ≥ 10× the sequential loop", seq / median(cold_s) >= 10)))
    row("", str(Target("warm ≤ 2× the slowest node", median(warm_s) <= 2 * max(singles))))


async def _fresh_read(service: StatusService, settings: Settings) -> None:
    """A re-poll that really asks every node (operations' readings are never reused)."""
    await asyncio.gather(*(service.read_pair(pair) for pair in settings.pairs))


async def bench(sizes: list[int], rounds: int, sshd: bool) -> None:
    """Every size on the simulator, then on real sshd."""
    for pairs in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            async with simulated(pairs, Path(tmp)) as fleet:
                await measure("the simulator", fleet, pairs, rounds)
        if pairs <= 25:  # beyond, the sequential baseline alone takes minutes a round
            with tempfile.TemporaryDirectory() as tmp:
                async with simulated(pairs, Path(tmp), slow=0.5) as fleet:
                    await measure("the simulator, ha-status taking 500 ms", fleet, pairs, rounds)
        if sshd:
            with tempfile.TemporaryDirectory() as tmp:
                os.chmod(tmp, 0o755)
                async with real_sshd(pairs, Path(tmp)) as fleet:
                    await measure("OpenSSH sshd", fleet, pairs, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or ""))
    parser.add_argument("--pairs", default="25,100")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--no-sshd", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.pairs.split(",")]
    asyncio.run(bench(sizes, args.rounds, not args.no_sshd))


if __name__ == "__main__":
    main()
