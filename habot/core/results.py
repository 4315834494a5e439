"""What a command did on a node, as the services see it (the SSH adapter fills it in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class CommandResult:
    """What a command did on a node.

    Over the console there is no exit status (``exit_status`` is None): a reply in which
    the console says the command is not available, not found or invalid is ``refusal``,
    and ``offered`` is what the console's banner listed (None when it listed nothing)."""

    address: str
    command: str
    exit_status: int | None
    output: str
    duration: timedelta
    truncated: bool = False
    prompt_answered: bool = False
    console: bool = False
    refusal: str | None = None
    offered: frozenset[str] | None = None

    @property
    def failure(self) -> str | None:
        """Why the command failed, as the node told it; None when it did not."""
        if self.refusal is not None:
            return f"the console answered {self.refusal!r}"
        if self.console or self.exit_status == 0:
            return None
        if self.exit_status is None:
            return f"{self.command} ended without an exit status"
        return f"{self.command} exited with status {self.exit_status}"

    @property
    def ok(self) -> bool:
        """Whether the command succeeded (exit status 0; over the console, no refusal)."""
        return self.failure is None
