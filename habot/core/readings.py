"""What is kept of a reading: enough for the last state, uptime and the digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from habot.core.model import Health, NodeState, Verdict


@dataclass(frozen=True)
class StoredReading:
    """What is kept of a reading."""

    pair: str
    at: datetime
    verdict: Verdict
    primary: NodeState
    secondary: NodeState
    health: Health | None
