"""The one exception tree of habot.

::

    HabotError                      anything habot refuses or fails at, with a message for people
    ├── ConfigError                 the configuration is wrong (names the key)
    ├── UsageError                  a command habot cannot read (core/grammar.py, with the rules)
    ├── PreconditionFailed          the pair's state does not allow it (core/operations.py)
    ├── PairBusy                    another request for the pair is still open (carries its id)
    ├── StoreError                  the database failed (SQLAlchemy errors, translated)
    │   ├── StoreBusy               the database was busy; nothing was written
    │   └── StoreUnavailable        the database could not be reached or could not write
    └── NodeError                   something went wrong talking to one node (carries the address)
        ├── NodeUnreachable         no TCP connection, or the connection attempt timed out
        ├── HostKeyUnknown          the node's host key is not in known_hosts
        ├── HostKeyChanged          a key other than the known one was presented (possible MITM)
        ├── AuthenticationFailed    the node refused our key or password
        ├── CommandTimedOut         the command did not finish within command_timeout
        ├── ConnectionLostError     the connection dropped while a command ran
        ├── ConsoleNotReady         the interactive console never showed its prompt
        ├── OwnershipLost           another replica took the request over (before no return)
        └── UnexpectedPrompt        the command asked a question nobody agreed to answer

Library errors are mapped to these at the adapters' boundaries: asyncssh and OSError at
the SSH adapter, SQLAlchemy's at the store.
"""

from __future__ import annotations


class HabotError(Exception):
    """Root of every error habot raises on purpose; ``str()`` is fit to show a person."""

    #: The command line's exit status for it (1 for "try again later" kinds).
    exit_code = 2


class ConfigError(HabotError):
    """The configuration is invalid; the message names the key and the problem."""


class NodeError(HabotError):
    """A failure talking to one node."""

    #: Whether an SSH session was established before the failure.
    reached = False

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"{address}: {detail}")
        self.address = address
        self.detail = detail


class NodeUnreachable(NodeError):
    """No connection could be made (refused, no route, DNS, or connect timeout)."""


class HostKeyUnknown(NodeError):
    """The node's host key is not in known_hosts; habot never adds keys by itself."""


class HostKeyChanged(NodeError):
    """The node presented a host key other than the one in known_hosts: a possible MITM."""


class AuthenticationFailed(NodeError):
    """The node did not accept our client keys, or the password."""


class CommandTimedOut(NodeError):
    """The command ran longer than command_timeout and was stopped."""

    reached = True


class ConnectionLostError(NodeError):
    """The connection dropped while a command was running."""

    reached = True


class ConsoleNotReady(NodeError):
    """Logged in, but the interactive console never stopped on a prompt in time (so no
    command was typed)."""

    reached = True


class PairBusy(HabotError):
    """Another request for the pair is still open (``open_id``), so no new one is made."""

    def __init__(self, open_id: str) -> None:
        super().__init__(f"request {open_id} is still open on this pair")
        self.open_id = open_id


class StoreError(HabotError):
    """The database failed; raised by the store adapters in place of SQLAlchemy's errors, so
    nothing above the store needs to know which database it is."""


class StoreBusy(StoreError):
    """The database was busy (another writer held its lock) and the write did not happen;
    trying again later may succeed."""


class StoreUnavailable(StoreError):
    """The database could not be reached or could not write — a refused or dropped
    connection (a restart, a managed database's fail-over), a full disk, an I/O error — and
    the write did not happen; trying again once it is back may succeed."""


#: The database failures that pass: a write that must not be lost waits them out.
TRANSIENT_STORE_ERRORS = (StoreBusy, StoreUnavailable)


class OwnershipLost(NodeError):
    """At the point of no return this replica no longer owned the request in the database
    (another replica declared it interrupted): the confirmation was not answered."""

    reached = True


class UnexpectedPrompt(NodeError):
    """The command asked a question habot was not told to answer, so it was aborted.
    ``confirmed``: the agreed confirmation had already been answered — past the point of
    no return, so the change may have been made."""

    reached = True

    def __init__(self, address: str, detail: str, confirmed: bool = False) -> None:
        super().__init__(address, detail)
        self.confirmed = confirmed
