"""Domain words from PRODUCT.md as types: roles, node states, health, verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The configured role of a node within its pair."""

    PRIMARY = "primary"
    SECONDARY = "secondary"

    @property
    def peer(self) -> Role:
        """The other role of the pair."""
        return Role.SECONDARY if self is Role.PRIMARY else Role.PRIMARY

    @property
    def label(self) -> str:
        """The word as the appliance prints it."""
        return self.value.capitalize()


#: What a refused connection asks the reader — unless the node's peer sees it up, when the
#: question would mislead (the status card then leaves it out).
NODE_UP_HINT = " (is the node up and sshd listening?)"


class NodeState(StrEnum):
    """A node's state as habot reports it (the appliance's words plus what habot adds)."""

    ACTIVE = "active"
    STANDBY = "standby"
    DEMOTED = "demoted"
    PROMOTED_ACTIVE = "promoted_active"
    FAILED = "failed"
    INACTIVE = "inactive"
    STANDALONE = "standalone"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """The state as people write it: "Promoted Active", "Unreachable"."""
        if self is NodeState.PROMOTED_ACTIVE:
            return "Promoted Active"
        return self.value.replace("_", " ").capitalize()


class Health(StrEnum):
    """The appliance's "High Availability status"."""

    OK = "ok"
    DEGRADED = "degraded"


class Verdict(StrEnum):
    """What habot concludes about a pair from both nodes' reports."""

    BAU = "bau"
    FAILED_OVER = "failed_over"
    SPLIT_BRAIN = "split_brain"
    DEGRADED = "degraded"
    PRIMARY_DOWN = "primary_down"
    SECONDARY_DOWN = "secondary_down"
    PRIMARY_UNREACHABLE = "primary_unreachable"  # habot cannot read it; its peer sees it up
    SECONDARY_UNREACHABLE = "secondary_unreachable"
    HALF_PAIR = "half_pair"  # one server made standalone, the other still HA
    UNREACHABLE = "unreachable"
    STANDALONE = "standalone"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """The verdict's short name, as a person reads it: "Primary down", "BAU"."""
        return _VERDICT_LABELS.get(self) or self.value.replace("_", " ").capitalize()


_VERDICT_LABELS = {
    Verdict.BAU: "BAU",
    Verdict.PRIMARY_UNREACHABLE: "Primary unreachable from habot",
    Verdict.SECONDARY_UNREACHABLE: "Secondary unreachable from habot",
}


class Mark(StrEnum):
    """How a check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


MARKS = {Mark.OK: "✓", Mark.WARN: "⚠", Mark.FAIL: "✗"}


@dataclass(frozen=True)
class Check:
    """One thing habot checked: which, how it came out, and in words."""

    name: str
    mark: Mark
    words: str

    @property
    def line(self) -> str:
        """The check as one line: its mark and its words."""
        return f"{MARKS[self.mark]} {self.words}"
