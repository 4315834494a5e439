"""The simulated pair's behaviour: shared state, the seven ha-* commands, ha-status text.

Pure: no sockets, no clock of its own (time comes in as an argument). The SSH server in
:mod:`habot.sim.server` feeds commands in and writes the results out.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from habot.core.catalogue import DEFAULT_DECLUSTER_LOG_PATH, DEFAULT_LOG_PATH
from habot.core.model import NodeState, Role

P, S = Role.PRIMARY, Role.SECONDARY
_WORD = {
    NodeState.ACTIVE: "Active",
    NodeState.STANDBY: "Standby",
    NodeState.DEMOTED: "Demoted",
    NodeState.PROMOTED_ACTIVE: "Promoted Active",
    NodeState.FAILED: "Failed",
    NodeState.INACTIVE: "Inactive",
}


class Layout(StrEnum):
    """Plausible ha-status layouts (the real one is unpublished); the parser reads them all."""

    COLUMNS = "columns"
    BOXED = "boxed"
    BLOCKS = "blocks"


@dataclass
class SimNode:
    """One simulated server: its own belief about its state, and its fault switches."""

    role: Role
    ip: str
    state: NodeState
    up: bool = True
    slow: float = 0.0
    think: float = 0.0  # seconds a command waits, after its first output, before its question
    hang: bool = False
    garbage: bool = False
    crash: bool = False
    cut: bool = False  # habot's path to it is broken; its peer still sees it
    ask_twice: bool = False  # a second [y/N] after the confirmation (after the change)
    babble: bool = False  # prints without end: every command, and the console's banner
    withheld: frozenset[str] = frozenset()  # ha-* commands its console does not offer now
    log: list[str] = field(default_factory=list)
    decluster_log: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """What a command will do: text first, an optional y/N question, then the outcome."""

    preamble: str
    exit_status: int = 0
    question: str | None = None
    on_yes: Callable[[], str] | None = None
    on_no: Callable[[], None] | None = None
    code_question: str | None = None  # asked first: the joining code, checked by code_ok
    code_ok: Callable[[str], bool] | None = None


@dataclass
class PairSim:
    """A simulated HA pair; both nodes share this state."""

    name: str
    primary_ip: str
    secondary_ip: str
    floating_ip: str | None = None
    standalone: bool = False
    layout: Layout = Layout.COLUMNS
    degraded: bool = False
    smb_percent: float | None = None
    runs: list[tuple[str, str]] = field(default_factory=list)
    nodes: dict[Role, SimNode] = field(init=False)
    issued_code: str | None = None  # the last joining code the Secondary issued
    #: A real appliance's words (``habot sim run --replay``): each node's ha-status, and
    #: its logs by path, served as they came; the pair then takes no mutating command.
    replayed: dict[Role, str] = field(default_factory=dict)
    replayed_logs: dict[Role, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.standalone:
            states = {P: NodeState.STANDALONE, S: NodeState.STANDALONE}
        else:
            states = {P: NodeState.ACTIVE, S: NodeState.STANDBY}
        self.nodes = {
            P: SimNode(P, self.primary_ip, states[P]),
            S: SimNode(S, self.secondary_ip, states[S]),
        }

    # -- reading -----------------------------------------------------------------------

    def view_of(self, me: Role, role: Role) -> NodeState:
        """What node ``me`` believes about ``role`` (itself, or its peer over the network)."""
        node = self.nodes[role]
        if role is me:
            return node.state
        if not node.up or node.state is NodeState.STANDALONE:
            return NodeState.FAILED
        return node.state

    def healthy(self, me: Role) -> bool:
        """The health node ``me`` reports: OK only when both are up in a known-good shape."""
        shape = (self.view_of(me, P), self.view_of(me, S))
        good = {
            (NodeState.ACTIVE, NodeState.STANDBY),
            (NodeState.DEMOTED, NodeState.PROMOTED_ACTIVE),
        }
        return not self.degraded and shape in good

    def status_text(self, me: Role) -> str:
        """The ha-status output of node ``me``."""
        if me in self.replayed:
            return self.replayed[me]
        if self.nodes[me].state is NodeState.STANDALONE:
            return "This server is not configured for High Availability (standalone).\n"
        rows = [(r, _WORD[self.view_of(me, r)], self.nodes[r].ip, r is me) for r in (P, S)]
        body = _RENDERERS[self.layout](rows)
        floating = self.floating_ip or "not configured"
        health = "OK" if self.healthy(me) else "Degraded"
        return (
            f"{body}\nFloating IP: {floating}\n\nHigh Availability status: {health}\n{self._smb()}"
        )

    def _smb(self) -> str:
        if self.smb_percent is None:
            return (
                "SMB share is not configured. Osirium recommends configuring an SMB share "
                "for backups.\n"
            )
        if self.smb_percent >= 80:
            return f"WARNING: the SMB share is {self.smb_percent:g}% full.\n"
        return f"SMB share: {self.smb_percent:g}% used.\n"

    # -- the console ---------------------------------------------------------------------

    def offered(self, me: Role) -> tuple[str, ...]:
        """The ha-* commands node ``me`` offers in its role and state (what its console's
        banner lists): the ones it would not refuse outright."""
        withheld = self.nodes[me].withheld
        return tuple(
            name for name, allows in _OFFERED.items() if allows(self, me) and name not in withheld
        )

    def banner(self, me: Role) -> str:
        """What the console prints at login, before its first prompt."""
        listed = "".join(f"  {name}\n" for name in self.offered(me))
        return (
            f"Osirium PAM (simulated) - High Availability console - {self.name} {me.label}\n"
            f"Commands available on this server:\n{listed}\n"
        )

    # -- commands ----------------------------------------------------------------------

    def plan(self, me: Role, command_line: str, now: datetime) -> Plan:
        """What running ``command_line`` on node ``me`` does (effects happen on "y")."""
        try:
            argv = shlex.split(command_line)
        except ValueError:
            return Plan("bash: syntax error\n", 2)
        if not argv:
            return Plan("habot-sim: an interactive shell is not offered\n", 1)
        name, args = argv[0], argv[1:]
        if name == "tail":
            return self._tail(me, args)
        handler = _COMMANDS.get(name)
        if handler is None or args:
            return Plan(f"bash: {command_line}: command not found\n", 127)
        if self.replayed and name != "ha-status":
            return Plan(f"{name}: this is a replay of a probe: it answers ha-status and "
                        "the logs only\n", 1)  # fmt: skip
        self.runs.append((me.value, name))
        if name != "ha-status":
            self._log(me, now, f"{name}: started")
        return handler(self, me, now)

    def _tail(self, me: Role, args: list[str]) -> Plan:
        if len(args) != 3 or args[0] != "-n" or not args[1].isdigit():
            return Plan("tail: usage: tail -n N FILE\n", 1)
        logs = {DEFAULT_LOG_PATH: self.nodes[me].log}
        logs[DEFAULT_DECLUSTER_LOG_PATH] = self.nodes[me].decluster_log
        for path, text in self.replayed_logs.get(me, {}).items():
            logs[path] = text.splitlines()
        if args[2] not in logs:
            return Plan(f"tail: cannot open '{args[2]}' for reading: No such file\n", 1)
        lines = logs[args[2]][-int(args[1]) :] if int(args[1]) else []
        return Plan("".join(f"{line}\n" for line in lines))

    def _log(self, me: Role, now: datetime, text: str) -> None:
        self.nodes[me].log.append(f"{now:%Y-%m-%d %H:%M:%S} {me.label}: {text}")

    def _refuse(self, me: Role, now: datetime, command: str, why: str) -> Plan:
        self._log(me, now, f"{command}: refused: {why}")
        return Plan(f"{command}: {why}\n", 1)

    def _confirm(
        self, me: Role, now: datetime, command: str, explain: str, effect: Callable[[], str]
    ) -> Plan:
        def on_yes() -> str:
            result = effect()
            self._log(me, now, f"{command}: completed: {result.strip()}")
            return result

        def on_no() -> None:
            self._log(me, now, f"{command}: aborted: not confirmed")

        return Plan(explain, question="Do you want to continue? [y/N] ", on_yes=on_yes, on_no=on_no)

    def failover(self, me: Role, now: datetime) -> Plan:
        p, s = self.nodes[P], self.nodes[S]
        if me is S and s.state is NodeState.STANDBY:
            demote = p.up and p.state is NodeState.ACTIVE
            text = "This will promote this Secondary server to Active.\n" + (
                "The Primary will be demoted.\n"
                if demote
                else "The Primary is not reachable and will not be demoted.\n"
            )
            return self._confirm(me, now, "ha-failover", text, lambda: self._promote(demote))
        if me is P and p.state is NodeState.ACTIVE and s.up and s.state is NodeState.STANDBY:
            text = (
                "This will hand operations over to the Secondary server and demote this Primary.\n"
            )
            return self._confirm(me, now, "ha-failover", text, lambda: self._promote(True))
        return self._refuse(
            me, now, "ha-failover", "nothing to fail over to from this server's state"
        )

    def _promote(self, demote_primary: bool) -> str:
        self.nodes[S].state = NodeState.PROMOTED_ACTIVE
        if demote_primary:
            self.nodes[P].state = NodeState.DEMOTED
        return "Failover complete: the Secondary is now Promoted Active.\n"

    def failback(self, me: Role, now: datetime) -> Plan:
        p, s = self.nodes[P], self.nodes[S]
        if s.state is not NodeState.PROMOTED_ACTIVE or not s.up:
            return self._refuse(me, now, "ha-failback", "the Secondary is not Promoted Active")
        if not p.up or p.state not in {NodeState.DEMOTED, NodeState.STANDBY}:
            why = (
                "the Primary is Active: run ha-demote-primary first"
                if p.up
                else "the Primary is not reachable"
            )
            return self._refuse(me, now, "ha-failback", why)
        text = (
            "This will hand operations back to the Primary server. The Primary's data will be\n"
            "overwritten from the Secondary and all sessions on the Secondary will be dropped.\n"
        )
        return self._confirm(me, now, "ha-failback", text, self._restore)

    def _restore(self) -> str:
        self._pair_again()
        return "Failback complete: Primary Active, Secondary Standby.\n"

    def _reinitialised(self) -> str:
        self._pair_again()
        return "High Availability initialised: Primary Active, Secondary Standby.\n"

    def _pair_again(self) -> None:
        self.nodes[P].state, self.nodes[S].state = NodeState.ACTIVE, NodeState.STANDBY
        self.degraded = False

    def demote_primary(self, me: Role, now: datetime) -> Plan:
        if me is not P or self.nodes[P].state is not NodeState.ACTIVE:
            return self._refuse(me, now, "ha-demote-primary", "run this on an Active Primary")
        s = self.nodes[S]
        if s.up and s.state is NodeState.STANDBY:  # a planned hand-over
            text = "This will demote this Primary and switch operation to the Standby server.\n"
            return self._confirm(me, now, "ha-demote-primary", text, self._hand_over)
        text = "This will demote this Primary. Changes made here during the split will be lost.\n"
        return self._confirm(me, now, "ha-demote-primary", text, self._demote)

    def _demote(self) -> str:
        self.nodes[P].state = NodeState.DEMOTED
        return "The Primary is now Demoted. Run ha-failback to restore normal operation.\n"

    def _hand_over(self) -> str:
        self.nodes[S].state = NodeState.PROMOTED_ACTIVE
        return self._demote()

    def initialise(self, me: Role, now: datetime) -> Plan:
        p, s = self.nodes[P], self.nodes[S]
        if me is not P:
            return self._refuse(me, now, "ha-initialise", "run this on the Primary")
        both_standalone = p.state is s.state is NodeState.STANDALONE
        if not s.up or not (both_standalone or not self.healthy(P)):
            return self._refuse(me, now, "ha-initialise", "nothing to initialise: HA is healthy")
        text = "This will (re-)initialise High Availability with the Secondary server.\n"
        plan = self._confirm(me, now, "ha-initialise", text, self._reinitialised)
        if s.state is not NodeState.STANDALONE:
            return plan
        return replace(
            plan,
            code_question="Enter the joining code created on the Secondary server: ",
            code_ok=lambda typed: self.issued_code is not None and typed == self.issued_code,
        )

    def joining_code(self, me: Role, now: datetime) -> Plan:
        if me is not S or self.nodes[S].state is not NodeState.STANDALONE:
            return self._refuse(
                me, now, "ha-create-joining-code", "run this on a standalone Secondary"
            )
        code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
        self.issued_code = code
        self._log(me, now, "ha-create-joining-code: completed: a joining code was issued")
        return Plan(f"Joining code: {code}\nThe code is valid for 30 minutes.\n")

    def make_standalone(self, me: Role, now: datetime) -> Plan:
        text = "This will turn this server into a standalone server and stop replication.\n"
        return self._confirm(me, now, "ha-make-standalone", text, lambda: self._standalone(me, now))

    def _standalone(self, me: Role, now: datetime) -> str:
        self.nodes[me].state = NodeState.STANDALONE
        self.nodes[me].decluster_log += [
            f"{now:%Y-%m-%d %H:%M:%S} decluster: replication stopped",
            f"{now:%Y-%m-%d %H:%M:%S} decluster: {me.label} is now standalone",
        ]
        return f"This {me.label} is now a standalone server.\n"

    def status(self, me: Role, now: datetime) -> Plan:
        return Plan(self.status_text(me))


_COMMANDS: dict[str, Callable[[PairSim, Role, datetime], Plan]] = {
    "ha-status": PairSim.status,
    "ha-failover": PairSim.failover,
    "ha-failback": PairSim.failback,
    "ha-demote-primary": PairSim.demote_primary,
    "ha-initialise": PairSim.initialise,
    "ha-create-joining-code": PairSim.joining_code,
    "ha-make-standalone": PairSim.make_standalone,
}


def _is(pair: PairSim, role: Role, *states: NodeState) -> bool:
    return pair.nodes[role].state in states


_OFFERED: dict[str, Callable[[PairSim, Role], bool]] = {
    "ha-status": lambda pair, me: True,
    "ha-failover": lambda pair, me: (
        _is(pair, me, NodeState.STANDBY) if me is S else _is(pair, me, NodeState.ACTIVE)
    ),
    "ha-failback": lambda pair, me: _is(pair, S, NodeState.PROMOTED_ACTIVE),
    "ha-demote-primary": lambda pair, me: me is P and _is(pair, P, NodeState.ACTIVE),
    "ha-initialise": lambda pair, me: me is P and not pair.healthy(P),
    "ha-create-joining-code": lambda pair, me: me is S and _is(pair, S, NodeState.STANDALONE),
    "ha-make-standalone": lambda pair, me: not _is(pair, me, NodeState.STANDALONE),
}
Row = tuple[Role, str, str, bool]


def _columns(rows: list[Row]) -> str:
    return "".join(
        f"{role.label + ':':<12}{state:<18}{ip:<16}{'- this host' if me else ''}".rstrip() + "\n"
        for role, state, ip, me in rows
    )


def _boxed(rows: list[Row]) -> str:
    line = "+-----------+------------------+-----------------+-------------+\n"
    head = "| Server    | State            | IP address      |             |\n"
    body = "".join(
        f"| {role.label:<9} | {state:<16} | {ip:<15} | {'- this host' if me else '':<11} |\n"
        for role, state, ip, me in rows
    )
    return line + head + line + body + line


def _blocks(rows: list[Row]) -> str:
    return "".join(
        f"{role.label} server{' (this host)' if me else ''}\n  State:      {state}\n"
        f"  IP address: {ip}\n\n"
        for role, state, ip, me in rows
    )


_RENDERERS: dict[Layout, Callable[[list[Row]], str]] = {
    Layout.COLUMNS: _columns,
    Layout.BOXED: _boxed,
    Layout.BLOCKS: _blocks,
}
