"""The HA operations, one record each (:data:`SPECS`): the appliance command, the help
line, what it does, which rules hold it back — every table of the operations is derived
from these records. Whether one may run now is :mod:`habot.core.preflight`; whether it did
what it should is :mod:`habot.core.outcomes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from habot.core.catalogue import HaCommand
from habot.core.model import NodeState, Role
from habot.errors import HabotError


class Operation(StrEnum):
    """The mutating subcommands."""

    SWITCHOVER = "switchover"
    FAILOVER = "failover"
    FAILBACK = "failback"
    DEMOTE_PRIMARY = "demote-primary"
    INITIALISE = "initialise"
    MAKE_STANDALONE = "make-standalone"
    JOINING_CODE = "joining-code"


@dataclass(frozen=True)
class OperationSpec:
    """Everything habot knows about one operation, in one place: every table of the
    operations (the command, the help line, what it does, which rules hold it back) is
    derived from these records, so a new operation is one record (and its preflight rule)."""

    operation: Operation
    command: HaCommand
    #: Its words after `/ha NAME` in the usage line: "PAIR", "PAIR primary|secondary".
    args: str
    #: The help line.
    summary: str
    #: What it does to the pair, in the guide's words (on forms and cards).
    consequence: str
    #: Its output is a secret: shown only to the requester, redacted elsewhere.
    secret_output: bool = False
    #: It changes no roles, so the role-change cooldown does not hold it back (and it may
    #: be configured to need no approval).
    role_neutral: bool = False
    #: It may be asked for later (`at WHEN`).
    schedulable: bool = True
    #: Approvers type the pair's name to approve it, unless configured otherwise (it ends
    #: or rebuilds redundancy, or demotes a serving Primary).
    typed_by_default: bool = False


class SwitchoverVia(StrEnum):
    """How a pair's planned hand-over is made (vendor pages disagree; per pair)."""

    FAILOVER_ON_PRIMARY = "failover-on-primary"
    FAILOVER_ON_SECONDARY = "failover-on-secondary"
    DEMOTE_PRIMARY = "demote-primary"


@dataclass(frozen=True)
class Procedures:
    """A pair's configured choices where the vendor's documents disagree."""

    failback_on: Role = Role.SECONDARY
    switchover_via: SwitchoverVia = SwitchoverVia.FAILOVER_ON_PRIMARY


Expectation = tuple[tuple[Role, frozenset[NodeState]], ...]


class PreconditionFailed(HabotError):
    """The operation is not allowed now; the message says why and what to do instead."""


@dataclass(frozen=True)
class OperationPlan:
    """An allowed operation: the command, the node, why it is allowed, what should follow."""

    operation: Operation
    pair: str
    node: Role
    address: str
    command: HaCommand
    why: str
    expected: Expectation
    warning: str | None = None
    expect_health_ok: bool = False  # verified only with HA health OK afterwards
    joining_code_from: Role | None = None  # create a joining code there and type it when asked


#: One record per operation (the order of `/ha help`).
SPECS: tuple[OperationSpec, ...] = (
    OperationSpec(
        Operation.SWITCHOVER, HaCommand.FAILOVER, "PAIR",
        "planned hand-over to the Secondary (needs approval)",
        "a planned hand-over: the Primary is demoted and the Secondary takes over operations.",
    ),
    OperationSpec(
        Operation.FAILOVER, HaCommand.FAILOVER, "PAIR",
        "emergency failover when the Primary is lost (needs approval)",
        "the Secondary is promoted to Active. An unreachable Primary is not demoted: if it is "
        "in fact still serving, both servers will be active (split brain).",
        schedulable=False,  # for a Primary that is down now
    ),
    OperationSpec(
        Operation.FAILBACK, HaCommand.FAILBACK, "PAIR",
        "hand operations back to the Primary (needs approval)",
        "operations return to the Primary; its data is overwritten from the Secondary, and "
        "every session on the Secondary is dropped.",
    ),
    OperationSpec(
        Operation.DEMOTE_PRIMARY, HaCommand.DEMOTE_PRIMARY, "PAIR",
        "end a split brain by demoting the Primary (needs approval)",
        "the Primary is demoted so that operation switches to the Standby; in a split brain, "
        "changes made on the Primary during the split are lost.",
        typed_by_default=True,
    ),
    OperationSpec(
        Operation.INITIALISE, HaCommand.INITIALISE, "PAIR",
        "(re-)initialise HA on a Degraded or standalone pair (needs approval)",
        "HA is (re-)created on the pair from the Primary; the Secondary is rebuilt from it.",
        typed_by_default=True,
    ),
    OperationSpec(
        Operation.MAKE_STANDALONE, HaCommand.MAKE_STANDALONE, "PAIR primary|secondary",
        "turn one node into a standalone server (needs approval)",
        "redundancy ends: the node stops replicating and becomes a standalone server.",
        typed_by_default=True,
    ),
    OperationSpec(
        Operation.JOINING_CODE, HaCommand.CREATE_JOINING_CODE, "PAIR",
        "create a joining code on a standalone Secondary",
        "a joining code (a secret) is created on the Secondary and shown only to you.",
        secret_output=True, role_neutral=True,
        schedulable=False,  # told to its requester once, when it is made
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Tables:
    """The operations' tables, as their records give them."""

    commands: Mapping[Operation, HaCommand]
    consequence: Mapping[Operation, str]
    secret_output: frozenset[Operation]
    role_neutral: frozenset[Operation]
    schedulable: frozenset[Operation]
    typed_by_default: frozenset[Operation]


def tables_of(specs: Iterable[OperationSpec]) -> Tables:
    """Every table of the operations, derived from their records."""
    specs = tuple(specs)
    return Tables(
        commands={s.operation: s.command for s in specs},
        consequence={s.operation: s.consequence for s in specs},
        secret_output=frozenset(s.operation for s in specs if s.secret_output),
        role_neutral=frozenset(s.operation for s in specs if s.role_neutral),
        schedulable=frozenset(s.operation for s in specs if s.schedulable),
        typed_by_default=frozenset(s.operation for s in specs if s.typed_by_default),
    )


TABLES = tables_of(SPECS)
COMMANDS = TABLES.commands
CONSEQUENCE = TABLES.consequence
SECRET_OUTPUT = TABLES.secret_output
ROLE_NEUTRAL = TABLES.role_neutral
SCHEDULABLE = TABLES.schedulable
TYPED_BY_DEFAULT = TABLES.typed_by_default
