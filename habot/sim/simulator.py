"""Run simulated pairs, and switch their faults from tests or from another process.

Faults are switched through a tiny JSON-lines control port on 127.0.0.1; its port and a
random token are written to ``control.json`` (mode 0600) in the state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import Any

from habot.core.addresses import NodeAddress
from habot.core.model import NodeState, Role
from habot.core.probe import Transcript
from habot.sim.appliance import Layout, PairSim
from habot.sim.kit import SimKit, SimPairEndpoints
from habot.sim.server import SimNodeServer, utc_now

NODE_FAULTS = (
    "down", "up", "cut", "slow", "think", "hang", "garbage", "crash", "ask_twice", "withhold",
    "babble",
)  # fmt: skip
PAIR_FAULTS = ("degraded", "smb", "split", "reset")
_SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


class Simulator:
    """Simulated pairs over SSH; use as ``async with Simulator(dir) as sim``."""

    def __init__(
        self,
        state_dir: Path,
        names: tuple[str, ...] = ("prod",),
        *,
        layout: Layout = Layout.COLUMNS,
        standalone: bool = False,
        host: str = "127.0.0.1",
        base_port: int = 0,
        clock: Callable[[], datetime] = utc_now,
        console: Collection[str] = (),
        replay: Transcript | None = None,
    ) -> None:
        self.kit = SimKit(state_dir)
        self._replay = replay  # a probe's words, served by the first pair
        self.console = frozenset(console)  # the pairs whose nodes offer only the console
        if unknown := sorted(self.console - set(names)):
            raise ValueError(f"--console names pairs not simulated: {', '.join(unknown)}")
        self._names, self._layout, self._standalone = names, layout, standalone
        self._host, self._base_port, self._clock = host, base_port, clock
        self.pairs: dict[str, PairSim] = {}
        self.servers: dict[tuple[str, Role], SimNodeServer] = {}
        self._control: asyncio.Server | None = None

    async def __aenter__(self) -> Simulator:
        self.kit.prepare()
        authorized = self.kit.client_public_key()
        login = ("habot", self.kit.console_password()) if self.console else None
        for index, name in enumerate(self._names):
            pair = self._new_pair(index, name)
            self.pairs[name] = pair
            for offset, role in enumerate(Role):
                port = self._base_port + 2 * index + offset if self._base_port else 0
                server = SimNodeServer(
                    pair,
                    role,
                    host=self._host,
                    port=port,
                    host_key=self.kit.host_key(name, role),
                    authorized=authorized,
                    clock=self._clock,
                    console_login=login if name in self.console else None,
                )
                await server.start()
                self.servers[(name, role)] = server
        self._write_files()
        await self._start_control()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
        for server in self.servers.values():
            await server.stop()

    def _new_pair(self, index: int, name: str) -> PairSim:
        net = f"10.20.{index}"
        pair = PairSim(
            name,
            f"{net}.11",
            f"{net}.12",
            f"{net}.10",
            standalone=self._standalone,
            layout=self._layout,
        )
        if self._replay is not None and index == 0:
            for node in self._replay.nodes:
                if node.status is not None:
                    pair.replayed[node.role] = node.status
                pair.replayed_logs[node.role] = dict(node.logs)
        return pair

    def address(self, pair: str, role: Role) -> NodeAddress:
        """Where a simulated node listens."""
        server = self.servers[(pair, role)]
        return NodeAddress(server.host, server.port)

    def _write_files(self) -> None:
        self.kit.write_known_hosts(
            [(self.address(p, r), self.kit.host_key(p, r)) for p, r in self.servers]
        )
        self.kit.write_config(
            [
                SimPairEndpoints(
                    name,
                    self.address(name, Role.PRIMARY),
                    self.address(name, Role.SECONDARY),
                    pair.floating_ip,
                    name in self.console,
                )
                for name, pair in self.pairs.items()
            ]
        )

    # -- faults ------------------------------------------------------------------------

    async def apply(self, pair: str, target: str, fault: str, value: str | None = None) -> None:
        """Switch a fault; ValueError says what is valid."""
        if pair not in self.pairs:
            raise ValueError(f"unknown pair {pair!r}; simulated: {', '.join(self.pairs)}")
        if target == "pair":
            self._apply_pair(pair, fault, value)
        elif target in {r.value for r in Role}:
            await self._apply_node(pair, Role(target), fault, value)
        else:
            raise ValueError(f"target must be primary, secondary or pair, not {target!r}")

    async def _apply_node(self, pair: str, role: Role, fault: str, value: str | None) -> None:
        server, node = self.servers[(pair, role)], self.pairs[pair].nodes[role]
        if fault == "down":
            await server.stop()
        elif fault == "up":  # powered on: listening again, unless habot's path is still cut
            if node.cut:
                node.up = True
            else:
                await server.start()
        elif fault == "cut":  # habot cannot connect; the peer still sees the node
            cut = _switch(value)
            if cut is not node.cut:
                node.cut = cut
                if cut:
                    await server.stop(still_up=node.up)  # a node powered off stays off
                elif node.up:
                    await server.start()
        elif fault in {"slow", "think"}:
            setattr(node, fault, _seconds(fault, value))
        elif fault in {"hang", "garbage", "crash", "ask_twice", "babble"}:
            setattr(node, fault, _switch(value))
        elif fault == "withhold":  # its console stops offering these commands
            node.withheld = _commands(value)
        else:
            raise ValueError(f"node faults are {', '.join(NODE_FAULTS)}, not {fault!r}")

    def _apply_pair(self, pair: str, fault: str, value: str | None) -> None:
        sim = self.pairs[pair]
        if fault == "degraded":
            sim.degraded = _switch(value)
        elif fault == "smb":
            sim.smb_percent = None if value in {None, "off"} else _percent(value)
        elif fault == "split":  # split brain: the Secondary promoted itself, the Primary serves on
            sim.nodes[Role.PRIMARY].state = NodeState.ACTIVE
            sim.nodes[Role.SECONDARY].state = NodeState.PROMOTED_ACTIVE
        elif fault == "reset":
            self._reset(sim)
        else:
            raise ValueError(f"pair faults are {', '.join(PAIR_FAULTS)}, not {fault!r}")

    def _reset(self, sim: PairSim) -> None:
        sim.degraded, sim.smb_percent = False, None
        for role, state in ((Role.PRIMARY, NodeState.ACTIVE), (Role.SECONDARY, NodeState.STANDBY)):
            node = sim.nodes[role]
            node.state, node.slow, node.think, node.hang, node.garbage, node.crash = (
                state,
                0.0,
                0.0,
                False,
                False,
                False,
            )
            node.withheld = frozenset()
            node.babble = node.ask_twice = False

    def snapshot(self) -> dict[str, Any]:
        """Every pair's state, faults and command history, as JSON-ready data."""
        return {name: _pair_snapshot(pair, self) for name, pair in self.pairs.items()}

    # -- control port ------------------------------------------------------------------

    async def _start_control(self) -> None:
        token = secrets.token_hex(16)
        self._control = await asyncio.start_server(
            lambda r, w: self._serve_control(r, w, token), "127.0.0.1", 0
        )
        port = self._control.sockets[0].getsockname()[1]
        path = self.kit.control_path
        path.write_text(json.dumps({"port": port, "token": token}), encoding="utf-8")
        os.chmod(path, 0o600)

    async def _serve_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str
    ) -> None:
        with contextlib.closing(writer):
            line = await reader.readline()
            writer.write((json.dumps(await self._control_reply(line, token)) + "\n").encode())
            await writer.drain()

    async def _control_reply(self, line: bytes, token: str) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not secrets.compare_digest(str(request.get("token", "")), token):
                return {"ok": False, "error": "bad control token"}
            if request.get("op") == "fault":
                await self.apply(
                    str(request["pair"]),
                    str(request["target"]),
                    str(request["fault"]),
                    None if request.get("value") is None else str(request["value"]),
                )
            return {"ok": True, "state": self.snapshot()}
        except (ValueError, KeyError, TypeError) as exc:
            return {"ok": False, "error": str(exc)}


async def control(state_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Send one request to a running simulator's control port."""
    info = json.loads((state_dir / "control.json").read_text(encoding="utf-8"))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(info["port"]))
    with contextlib.closing(writer):
        writer.write((json.dumps({**request, "token": info["token"]}) + "\n").encode())
        await writer.drain()
        reply: dict[str, Any] = json.loads(await reader.readline())
    return reply


def _pair_snapshot(pair: PairSim, sim: Simulator) -> dict[str, Any]:
    nodes = {
        role.value: {
            "state": node.state.value,
            "up": node.up,
            "address": str(sim.address(pair.name, role)),
            "slow": node.slow,
            "think": node.think,
            "hang": node.hang,
            "garbage": node.garbage,
            "crash": node.crash,
            "cut": node.cut,
            "ask_twice": node.ask_twice,
            "babble": node.babble,
            "withheld": sorted(node.withheld),
        }
        for role, node in pair.nodes.items()
    }
    return {
        **nodes,
        "degraded": pair.degraded,
        "smb_percent": pair.smb_percent,
        "runs": [list(run) for run in pair.runs],
    }


def _switch(value: str | None) -> bool:
    if value is None:
        return True
    if value.lower() not in _SWITCH:
        raise ValueError(f"expected on or off, not {value!r}")
    return _SWITCH[value.lower()]


def _commands(value: str | None) -> frozenset[str]:
    """``withhold``'s value: comma-separated ha-* commands, or off."""
    if value in {None, "", "off"}:
        return frozenset()
    names = frozenset(n.strip() for n in str(value).split(",") if n.strip())
    if unknown := sorted(n for n in names if not n.startswith("ha-")):
        raise ValueError(f"withhold takes ha-* commands or off, not {', '.join(unknown)}")
    return names


def _seconds(fault: str, value: str | None) -> float:
    try:
        seconds = float(value or "0")
    except ValueError:
        raise ValueError(f"{fault} takes seconds, e.g. 3 or 0.5, not {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise ValueError(f"{fault} takes 0 to 3600 seconds")
    return seconds


def _percent(value: str) -> float:
    try:
        percent = float(value.rstrip("%"))
    except ValueError:
        raise ValueError(f"smb takes a percentage (e.g. 85) or off, not {value!r}") from None
    if not 0 <= percent <= 100:
        raise ValueError("smb takes a percentage from 0 to 100")
    return percent
