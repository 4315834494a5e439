"""The fixed catalogue of remote commands. Nothing else is ever sent to a node.

Arguments are never user text: a log path comes from validated configuration and a line
count is an integer within bounds, and both are quoted anyway.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_LOG_PATH = "/var/log/osirium/ha-commands.log"
DEFAULT_DECLUSTER_LOG_PATH = "/var/log/osirium/install/decluster.log"
MAX_LOG_LINES = 1000
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]{1,255}$")


class HaCommand(StrEnum):
    """The appliance's HA commands, as documented."""

    STATUS = "ha-status"
    FAILOVER = "ha-failover"
    FAILBACK = "ha-failback"
    DEMOTE_PRIMARY = "ha-demote-primary"
    INITIALISE = "ha-initialise"
    CREATE_JOINING_CODE = "ha-create-joining-code"
    MAKE_STANDALONE = "ha-make-standalone"

    @property
    def mutating(self) -> bool:
        """Whether running it changes the pair (so it needs four-eyes approval)."""
        return self is not HaCommand.STATUS


@dataclass(frozen=True)
class RemoteCommand:
    """One entry of the catalogue, ready to run."""

    argv: tuple[str, ...]
    mutating: bool = False

    @property
    def line(self) -> str:
        """The command line sent to the node's shell, every word quoted."""
        return shlex.join(self.argv)

    def __str__(self) -> str:
        return self.line


def ha_command(command: HaCommand) -> RemoteCommand:
    """The remote command for an appliance HA command."""
    return RemoteCommand((command.value,), mutating=command.mutating)


def tail_log(path: str, lines: int) -> RemoteCommand:
    """``tail -n N PATH`` for a configured log path; raise ValueError on anything odd."""
    if not _SAFE_PATH.match(path) or ".." in path.split("/"):
        raise ValueError(f"{path!r} is not an absolute log path of plain characters")
    if not 1 <= lines <= MAX_LOG_LINES:
        raise ValueError(f"line count must be from 1 to {MAX_LOG_LINES}, not {lines}")
    return RemoteCommand(("tail", "-n", str(lines), path))


def check_log_path(path: str) -> str:
    """Validate a log path for configuration; return it unchanged."""
    tail_log(path, 1)
    return path
