"""The ports the services depend on; adapters (SSH, clock) implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from habot.core.addresses import NodeAddress
from habot.core.audit import AuditEvent, AuditRecord
from habot.core.catalogue import RemoteCommand
from habot.core.results import CommandResult
from habot.core.roles import Access

Clock = Callable[[], datetime]


class CommandRunner(Protocol):
    """Runs a catalogue command on a node (the SSH executor, or a fake)."""

    async def run(
        self,
        address: NodeAddress,
        command: RemoteCommand,
        *,
        answer_prompt: bool = False,
        time_limit: timedelta | None = None,
        on_output: Callable[[str], None] | None = None,
        joining_code: str | None = None,
        confirm_gate: Callable[[], Awaitable[bool]] | None = None,
        urgent: bool = False,
    ) -> CommandResult:
        """Run the command; raise :class:`habot.errors.NodeError` on failure. A question
        for a joining code is answered with ``joining_code`` (a secret: never in output).
        ``urgent`` (an operation's reading) goes ahead of other commands waiting on the
        node; the time limit starts once the command runs."""
        ...


class AuditLog(Protocol):
    """The audit port: append events, read recent ones."""

    async def append(self, event: AuditEvent) -> AuditRecord:
        """Append one event to the chain."""
        ...

    async def recent(self, limit: int, pair: str | None = None) -> list[AuditRecord]:
        """The newest events first."""
        ...


@dataclass(frozen=True)
class Caller:
    """Who is asking, from where, with which roles (resolved by the adapter)."""

    user: str
    channel: str | None
    roles: frozenset[Access]
