"""`habot probe`: log in to each node the way the config (or flags) say, read ``ha-status``
and the last lines of both logs, and record every word with what habot made of it. It
types no other command: a probe never changes a node."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from habot.core.addresses import NodeAddress
from habot.core.catalogue import HaCommand, RemoteCommand, ha_command, tail_log
from habot.core.model import Role
from habot.core.patterns import Patterns
from habot.core.probe import NodeProbe, Step, Transcript, pattern_matches, unused_patterns
from habot.core.results import CommandResult
from habot.core.verdict import NodeReading, judge_pair
from habot.errors import NodeError
from habot.services.status import node_reading

#: How many lines of each log a probe reads.
LOG_LINES = 20
T = TypeVar("T")


class Prober(Protocol):
    """What a probe needs of the SSH adapter (the executor)."""

    async def host_key(self, address: NodeAddress) -> str:
        """Log in and say the host key's fingerprint."""
        ...

    async def run(
        self, address: NodeAddress, command: RemoteCommand, *, time_limit: timedelta | None = None
    ) -> CommandResult:
        """Run one read-only command."""
        ...

    def learned(self, address: NodeAddress) -> tuple[str | None, str | None]:
        """The console's prompt and banner at its last login."""
        ...


@dataclass(frozen=True)
class Target:
    """One node to probe, and how."""

    role: Role
    address: NodeAddress
    transport: str
    user: str
    log_paths: tuple[str, ...]
    patterns: Patterns


async def probe_node(
    prober: Prober, target: Target, time_limit: timedelta
) -> tuple[NodeProbe, NodeReading | None]:
    """One node: its host key and login, ha-status and the logs, each step timed; the
    reading (None when ha-status could not be run)."""
    steps: list[Step] = []
    where = target.address

    async def step(name: str, call: Callable[[], Awaitable[T]]) -> T | None:
        started = time.monotonic()
        try:
            value = await call()
        except NodeError as exc:
            steps.append(Step(name, time.monotonic() - started, False, exc.detail))
            return None
        ok = value.ok if isinstance(value, CommandResult) else True
        steps.append(Step(name, time.monotonic() - started, ok, _said(value)))
        return value

    host_key = await step("log in", lambda: prober.host_key(where))
    status = None
    if host_key is not None:
        read = ha_command(HaCommand.STATUS)
        status = await step("ha-status", lambda: prober.run(where, read, time_limit=time_limit))
    logs: dict[str, str] = {}
    for path in target.log_paths if status else ():
        tail = await step(f"tail {path}", lambda p=path: prober.run(  # type: ignore[misc]
            where, tail_log(p, LOG_LINES), time_limit=time_limit))  # fmt: skip
        logs[path] = tail.output if isinstance(tail, CommandResult) else ""
    prompt, banner = prober.learned(where)
    node = NodeProbe(target.role, str(where), target.transport, target.user, tuple(steps),
                     host_key, banner, prompt)  # fmt: skip
    if not isinstance(status, CommandResult):
        return node, None
    now = datetime.now(UTC)
    reading = node_reading(target.role, str(where), now, status, target.patterns)
    assert reading.report is not None
    offered = tuple(sorted(status.offered)) if status.offered is not None else None
    settings = [name for name, _ in target.patterns.status_lines]
    lines = reading.report.lines
    unsure = [*pattern_matches(lines), *unused_patterns(settings, lines),
              *reading.report.anomalies, *([reading.error] if reading.error else [])]  # fmt: skip
    return NodeProbe(
        target.role, str(where), target.transport, target.user, tuple(steps), host_key,
        banner, prompt, offered, status.output, logs, reading.report.lines, None,
        tuple(unsure),
    ), reading  # fmt: skip


def _said(value: object) -> str:
    if isinstance(value, CommandResult):
        return value.failure or f"{len(value.output.splitlines())} lines"
    return f"host key {value}" if isinstance(value, str) else ""


async def probe(
    prober: Prober,
    name: str,
    targets: Sequence[Target],
    time_limit: timedelta,
    floating_ip: str | None = None,
) -> Transcript:
    """Probe each node (a pair's two, or one host) and judge what they said."""
    found = [await probe_node(prober, t, time_limit) for t in targets]
    taken = datetime.now(UTC).isoformat(timespec="seconds")
    readings = {node.role: reading for node, reading in found}
    nodes = [node for node, _ in found]
    if len(targets) != 2 or set(readings) != set(Role):
        return Transcript(name, taken, tuple(_states_alone(n, readings.get(n.role)) for n in nodes))
    unread = {
        r: NodeReading(r, str(t.address), datetime.now(UTC), error="not read", reachable=False)
        for r, t in zip(Role, targets, strict=True)
    }
    primary = readings[Role.PRIMARY] or unread[Role.PRIMARY]
    secondary = readings[Role.SECONDARY] or unread[Role.SECONDARY]
    status = judge_pair(name, primary, secondary, floating_ip)
    judged = []
    for node in nodes:
        view = status.node(node.role)
        more = [*status.disagreements] if node.role is Role.PRIMARY else []
        judged.append(_with(node, view.state.label, (*node.unsure, *more)))
    return Transcript(name, taken, tuple(judged), status.verdict.value, status.verdict.label,
                      status.reason)  # fmt: skip


def _states_alone(node: NodeProbe, reading: NodeReading | None) -> NodeProbe:
    """One host probed alone: its state as its own report gives it (no pair to judge)."""
    report = reading.report if reading else None
    if report is None or not report.parsed:
        return _with(node, "unknown", (*node.unsure, "its ha-status was not understood"))
    if report.standalone:
        return _with(node, "Standalone", node.unsure)
    me = report.this_host
    entry = report.entry(me) if me else None
    if entry is None or entry.state is None:
        return _with(node, "unknown", (*node.unsure, "it does not mark which server it is"))
    return _with(node, f"{entry.state.label} ({me.label if me else ''})", node.unsure)


def _with(node: NodeProbe, state: str, unsure: Sequence[str]) -> NodeProbe:
    return replace(node, state=state, unsure=tuple(unsure))
