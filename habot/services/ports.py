"""The ports the services depend on; adapters (SSH, clock) implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from habot.core.addresses import NodeAddress
from habot.core.catalogue import RemoteCommand
from habot.ssh.executor import CommandResult

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
    ) -> CommandResult:
        """Run the command; raise :class:`habot.errors.NodeError` on failure."""
        ...
