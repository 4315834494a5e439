"""`habot check`: can every node be reached, trusted, logged into and understood?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial

from habot.config import PairSettings, Settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import Role
from habot.core.status_parser import parse_status
from habot.errors import (
    AuthenticationFailed,
    ConsoleNotReady,
    HostKeyChanged,
    HostKeyUnknown,
    NodeError,
    NodeUnreachable,
)
from habot.services.ports import CommandRunner

STEPS = ("reachable", "host key", "authentication", "ha-status")
CONSOLE_STEPS = ("reachable", "host key", "authentication", "console", "ha-status")


@dataclass(frozen=True)
class NodeCheck:
    """How far the checks got for one node: every step before ``failed_step`` passed."""

    pair: str
    role: Role
    address: str
    failed_step: str | None
    detail: str
    console: bool = False
    offered: frozenset[str] | None = None  # what the node's console listed, if anything
    not_understood: tuple[str, ...] = ()  # ha-status lines no rule read (a warning)

    @property
    def ok(self) -> bool:
        """Whether every step passed."""
        return self.failed_step is None

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps this node goes through (a console node has one more)."""
        return CONSOLE_STEPS if self.console else STEPS


async def check_nodes(settings: Settings, runner: CommandRunner) -> list[NodeCheck]:
    """Check every node of every pair, in parallel, in configuration order."""
    jobs = [check_node(settings, runner, pair, role) for pair in settings.pairs for role in Role]
    return list(await asyncio.gather(*jobs))


async def check_node(
    settings: Settings, runner: CommandRunner, pair: PairSettings, role: Role
) -> NodeCheck:
    """Run ha-status on one node and say which step, if any, failed."""
    address = pair.address(role)
    node = partial(
        NodeCheck, pair.name, role, str(address), console=settings.login(pair).transport.console
    )
    try:
        result = await runner.run(
            address, ha_command(HaCommand.STATUS), time_limit=settings.ssh.status_timeout
        )
    except NodeError as exc:
        return node(_failed_step(exc), exc.detail)
    report = parse_status(result.output, settings.patterns(pair))
    node = partial(node, offered=result.offered, not_understood=report.unrecognised)
    if not result.ok:
        return node("ha-status", f"{result.failure}: {_first_line(result.output)}")
    if not report.parsed:
        return node("ha-status", f"output not understood (starts {_first_line(result.output)!r})")
    me = report.this_host or role
    state = "standalone" if report.standalone else str(report.entry(me).state)  # type: ignore[union-attr]
    return node(None, f"parsed: {state}")


def _failed_step(exc: NodeError) -> str:
    if isinstance(exc, NodeUnreachable):
        return "reachable"
    if isinstance(exc, HostKeyUnknown | HostKeyChanged):
        return "host key"
    if isinstance(exc, AuthenticationFailed):
        return "authentication"
    if isinstance(exc, ConsoleNotReady):
        return "console"
    return "ha-status"


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:80] if stripped else "(no output)"
