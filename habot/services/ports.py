"""The ports the services depend on; adapters implement them (SSH, the SQL stores, the
clock), and tests fake them (the in-memory store, a recorder for Slack).

The store ports are async: an adapter does its own threading, and raises
:class:`habot.errors.StoreError` (or :class:`habot.errors.StoreBusy`) for a database failure,
never its library's errors. ``habot/store`` holds the SQL adapters, ``habot/store/memory.py``
the in-memory one; ``tests/test_store_contract.py`` runs the same cases on every one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from habot.core.addresses import NodeAddress
from habot.core.alerts import Acknowledgement, AlertState, Announced
from habot.core.approvals import Glass, Request, RequestState
from habot.core.audit import AuditEvent, AuditRecord, ChainCheck, RequestRow
from habot.core.catalogue import RemoteCommand
from habot.core.freeze import Freeze
from habot.core.model import NodeState, Role
from habot.core.oncall import FirstLevel, OnCall
from habot.core.operations import OperationPlan
from habot.core.outbox import MessageKind, Next, OutboxMessage, Withdrawn
from habot.core.readings import StoredReading
from habot.core.results import CommandResult
from habot.core.roles import Access
from habot.core.verdict import PairStatus

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
    """The audit chain: append events, read them back."""

    async def append(self, event: AuditEvent) -> AuditRecord:
        """Append one event to the chain."""
        ...

    async def recent(self, limit: int, pair: str | None = None) -> list[AuditRecord]:
        """The newest events first (only the pair's, when given)."""
        ...

    async def head(self) -> AuditRecord | None:
        """The newest event, or None for an empty log."""
        ...

    async def verify(self) -> ChainCheck:
        """Check the whole chain."""
        ...

    def records(self) -> AsyncIterator[AuditRecord]:
        """Every event in chain order (streamed: a long log is never held whole)."""
        ...

    async def page(self, after: int, limit: int) -> list[AuditRecord]:
        """Up to ``limit`` events after sequence number ``after``, in chain order."""
        ...


class Cursors(Protocol):
    """How far the audit has been forwarded to each SIEM target (its sequence number)."""

    async def get(self, target: str) -> int:
        """The last sequence number sent to ``target`` and settled (0: none yet)."""
        ...

    async def advance(self, target: str, seq: int) -> None:
        """Record that ``target`` has everything up to ``seq`` (never moves back)."""
        ...


class Requests(Protocol):
    """Requests and their approvals, moved only by compare-and-set; role-change times.
    An audit event given as ``said`` is appended together with the change it records."""

    async def create(
        self,
        request: Request,
        channel: str | None,
        plan: OperationPlan,
        said: AuditEvent | None = None,
    ) -> None:
        """Store a new pending request; :class:`habot.errors.PairBusy` if the pair has an
        open one (pending, executing or unknown)."""
        ...

    async def open_for(self, pair: str) -> str | None:
        """The id of the pair's open request, if any."""
        ...

    async def get(self, request_id: str) -> Request | None:
        """A request with its approvals, or None."""
        ...

    async def plan(self, request_id: str) -> OperationPlan:
        """The plan the request was made on."""
        ...

    async def card(self, request_id: str) -> tuple[str | None, int | None]:
        """Where its card is: (channel, the card's outbox id)."""
        ...

    async def set_card(self, request_id: str, channel: str, card_id: int) -> None:
        """Remember where its card is."""
        ...

    async def in_states(self, *states: RequestState) -> list[Request]:
        """Requests in any of these states, oldest first."""
        ...

    async def rows(self) -> list[RequestRow]:
        """Every request's state and approvers (to check the table against the chain)."""
        ...

    async def add_approval(
        self, request_id: str, approver: str, at: datetime, said: AuditEvent | None = None
    ) -> int | None:
        """Count an approval once per approver; the count, or None when the request is no
        longer pending or already has all it needs."""
        ...

    async def transition(
        self,
        request_id: str,
        expected: RequestState,
        new: RequestState,
        detail: dict[str, Any] | None = None,
        runner: str | None = None,
        said: AuditEvent | None = None,
    ) -> bool:
        """Move ``expected`` → ``new``; True only for the one caller that moved it."""
        ...

    async def escalate(
        self,
        request_id: str,
        asked: tuple[datetime, ...],
        now: datetime,
        said: AuditEvent | None = None,
        first: FirstLevel | None = None,
    ) -> bool:
        """Record the next escalation level asked at ``now`` (level 1: and who it was, when
        ``first`` says), while it is pending and its levels asked are still ``asked``; True
        only for the one caller that recorded it."""
        ...

    async def offer_glass(self, request_id: str, at: datetime) -> bool:
        """Record that its card began offering break-glass at ``at``; True only once, and
        only while it is pending."""
        ...

    async def break_glass(
        self, request_id: str, glass: Glass, runner: str, said: AuditEvent | None = None
    ) -> bool:
        """Move pending → executing as a break-glass, owned by ``runner`` — only while no
        other break-glass anywhere still owes its review; True only for the one caller
        that moved it."""
        ...

    async def review_glass(
        self, request_id: str, by: str, at: datetime, note: str, said: AuditEvent | None = None
    ) -> bool:
        """Record the review its break-glass owes; True only for the one reviewer."""
        ...

    async def remind_glass(self, request_id: str, last: datetime, at: datetime) -> bool:
        """Record a reminder of its missing review, if the last reminder (or the
        break-glass itself) is still at ``last``; True only for one caller."""
        ...

    async def unreviewed(self) -> list[Request]:
        """Break-glass runs whose review is still owed, oldest first."""
        ...

    async def remind_run(self, request_id: str, at: datetime) -> bool:
        """Record that the thread of a request with a time was reminded it runs soon; True
        only once, and only while it is pending or scheduled."""
        ...

    async def still_runs(self, request_id: str, runner: str) -> bool:
        """True only while it is executing and owned by ``runner``."""
        ...

    async def runner(self, request_id: str) -> str | None:
        """The replica that started running it."""
        ...

    async def last_change(self, pair: str) -> datetime | None:
        """When the pair last changed roles, as far as habot knows."""
        ...

    async def record_change(self, pair: str, at: datetime) -> None:
        """Remember a role change (starts the cooldown)."""
        ...


class ReadingLog(Protocol):
    """The readings the monitor took: the last per pair, a window, pruning by age."""

    async def add(self, status: PairStatus) -> None:
        """Keep a reading."""
        ...

    async def last(self, pair: str) -> StoredReading | None:
        """The pair's newest reading."""
        ...

    async def last_known(self, pair: str, unread: frozenset[NodeState]) -> dict[Role, NodeState]:
        """Each node's newest state that is not one of ``unread``."""
        ...

    async def since(self, pair: str, since: datetime) -> list[StoredReading]:
        """The pair's readings from ``since`` on, newest first."""
        ...

    async def prune(self, before: datetime) -> int:
        """Forget readings older than ``before``; how many."""
        ...


class ReadingKeeper(Protocol):
    """Keeps readings behind status cards, so "raw output" is one click away."""

    async def put(self, status: PairStatus) -> str:
        """Keep a reading; return its id."""
        ...

    async def get(self, reading_id: str) -> PairStatus | None:
        """A kept reading, or None once it has been forgotten."""
        ...

    async def prune(self, before: datetime) -> int:
        """Forget readings taken before ``before``; how many."""
        ...


class AlertStates(Protocol):
    """Each pair's alert state, its card, its mute."""

    async def load(self, pair: str) -> tuple[AlertState, int | None]:
        """The pair's alert state and its card's outbox id."""
        ...

    async def save(self, pair: str, state: AlertState, card_id: int | None) -> None:
        """Store the state the rules decided (the mute and announcement are kept)."""
        ...

    async def announce(self, pair: str, announced: Announced) -> None:
        """Remember that a change the bot made was announced (so it is not alerted)."""
        ...

    async def forget_announced(self, pair: str, seen: Announced) -> None:
        """Forget that announcement, if it is still this one."""
        ...

    async def set_mute(self, pair: str, until: datetime | None) -> None:
        """Mute the pair's alerts until then (None: unmute)."""
        ...

    async def acknowledge(self, pair: str, ack: Acknowledgement) -> bool:
        """Record who is on the incident ``ack`` names — unless someone already is (then
        False). Never touches the state ``save`` writes, nor it this."""
        ...


class Outbox(Protocol):
    """Messages waiting for Slack, delivered in order per lane (see habot/core/outbox.py)."""

    async def enqueue(
        self, lane: str, kind: MessageKind, channel: str, payload: dict[str, Any], now: datetime
    ) -> int:
        """Queue a message; its id (a later update or reply refers to it by id)."""
        ...

    async def enqueue_update(
        self,
        lane: str,
        channel: str,
        card: int,
        version: int,
        payload: dict[str, Any],
        now: datetime,
    ) -> int | None:
        """Queue an edit of a card showing its request at ``version``; None (dropped) when
        an edit showing a newer version is already queued or sent."""
        ...

    async def head(self, lane: str) -> OutboxMessage | None:
        """The lane's oldest queued message (later ones wait behind it)."""
        ...

    async def lanes(self) -> list[str]:
        """The lanes with messages waiting."""
        ...

    async def get(self, message_id: int) -> OutboxMessage | None:
        """One message."""
        ...

    async def claim(self, message_id: int, sender: str, now: datetime, ttl: timedelta) -> bool:
        """Take a queued message for sending until ``now + ttl``; False while another
        sender holds it (two replicas that both think they lead never both send it)."""
        ...

    async def claimant(self, message_id: int, now: datetime) -> str | None:
        """Who is sending a queued message right now (its claim holds), if anyone."""
        ...

    async def take_claim(
        self, message_id: int, dead: str, sender: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take a message claimed by a sender known to be dead (if it still holds it)."""
        ...

    async def withdraw_undelivered(self, lane: str, now: datetime) -> Withdrawn | None:
        """Drop a lane's queued messages if none of its messages was delivered or is being
        sent right now; None (nothing dropped) when one was or is."""
        ...

    async def queued_in(self, lane: str) -> list[OutboxMessage]:
        """A lane's queued messages, head first."""
        ...

    async def drop(self, message_id: int) -> bool:
        """Forget a queued message without sending it (it was overtaken); False when it is
        no longer queued."""
        ...

    async def record(
        self, message_id: int, outcome: Next, ts: str | None, error: str | None
    ) -> None:
        """Store an attempt's result (and release the claim)."""
        ...

    async def prune(self, before: datetime) -> int:
        """Forget delivered and set-aside messages older than ``before``, except cards that
        may still be edited; how many."""
        ...

    async def queued(self) -> int:
        """How many messages wait to be delivered."""
        ...


class HomeViewers(Protocol):
    """Who opened App Home lately (their tabs are refreshed when something changes)."""

    async def opened(self, user: str, at: datetime) -> None:
        """The user opened their Home tab."""
        ...

    async def since(self, since: datetime) -> list[str]:
        """Users who opened it since then."""
        ...


class Leases(Protocol):
    """Named leases: at most one holder at a time."""

    async def claim(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew until ``now + ttl``; False while someone else holds it."""
        ...

    async def take_over(
        self, name: str, dead: str, holder: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take it from a holder known to be dead (only if that one still holds it)."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give it up now, if held."""
        ...

    async def holder(self, name: str, now: datetime) -> str | None:
        """Who holds it now (None when free or expired)."""
        ...

    def claim_sync(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """:meth:`claim`, blocking: for the heartbeat, which has a thread of its own."""
        ...


class SeenRequests(Protocol):
    """Signed requests already taken, shared by every replica (Slack signs each delivery
    anew, so a signature seen twice is a captured request played again)."""

    async def first(self, signature: str, now: datetime, window: timedelta) -> bool:
        """Remember ``signature``; True only the first time any replica offers it. Entries
        older than ``window`` may be forgotten (a replay that late is refused by its
        timestamp)."""
        ...


@dataclass(frozen=True)
class Caller:
    """Who is asking, from where, with which roles (resolved by the adapter)."""

    user: str
    channel: str | None
    roles: frozenset[Access]


class Names(Protocol):
    """The names people go by in Slack (for files read outside it)."""

    async def name_of(self, user: str) -> str | None:
        """The user's display name, or None when it is not known."""
        ...


class Zones(Protocol):
    """Each person's own time zone (Slack's users.info), to read the times they type."""

    async def zone_of(self, user: str) -> str | None:
        """The user's IANA time zone (``Europe/London``), or None when it is not known."""
        ...


class Approvers(Protocol):
    """Who holds the approver role (Slack's user groups expanded)."""

    async def who_can_approve(self) -> frozenset[str] | None:
        """Every approver's user id; None when everyone may approve."""
        ...

    async def members(self, entries: Iterable[str]) -> frozenset[str]:
        """The users named (U…/W…) and the members of the user groups named (S…)."""
        ...


class Freezes(Protocol):
    """Change freezes typed in (those in the configuration are computed, not stored)."""

    async def add(self, freeze: Freeze, said: AuditEvent | None = None) -> None:
        """Keep a new freeze (with its audit event)."""
        ...

    async def holding(self, at: datetime) -> list[Freeze]:
        """Every freeze not lifted and holding at ``at``."""
        ...

    async def lift(
        self, scope: tuple[str, ...], by: str, at: datetime, said: AuditEvent | None = None
    ) -> list[Freeze]:
        """Lift the freezes holding at ``at`` over ``scope`` (all: every one); those lifted."""
        ...


class SealedSecrets(Protocol):
    """Approvers' authenticator secrets as stored: sealed, each with its last used step."""

    async def enrol(self, user: str, sealed: str, at: datetime) -> None:
        """Keep ``user``'s sealed secret (replacing an earlier one)."""
        ...

    async def get(self, user: str) -> tuple[str, int | None] | None:
        """``user``'s sealed secret and last used step, or None."""
        ...

    async def use(self, user: str, step: int) -> bool:
        """Record a code of ``step`` as used, if no code of it or later was; True once."""
        ...


class ApproverCodes(Protocol):
    """Approvers' authenticator secrets, opened (for checking a step-up code)."""

    async def enrolled(self, user: str) -> tuple[str, int | None] | None:
        """``user``'s secret and last used step, or None when not enrolled."""
        ...

    async def use(self, user: str, step: int) -> bool:
        """Record a code's step as used; True only the first time."""
        ...


class OnCallLookup(Protocol):
    """Who is on call now ([paging] oncall_schedules), as Slack users."""

    async def now(self) -> OnCall:
        """The on-call people (cached briefly), or why they could not be looked up."""
        ...


class Telemetry(Protocol):
    """What habot measures about itself (Prometheus in production; nothing by default)."""

    def reading(self, status: PairStatus) -> None:
        """A pair was read by the scheduled round (its verdict, and when)."""
        ...

    def took(self, what: str, seconds: float, kind: str = "") -> None:
        """How long something took: ``ssh`` (kind read or change), ``poll``, ``slack``
        (kind: the Web API method)."""
        ...

    def backlog(self, queued: int) -> None:
        """How many outbox messages wait for Slack."""
        ...

    def paged(self, pager: str, action: str, outcome: str) -> None:
        """One attempt to page (``outcome``: sent or failed)."""
        ...

    def glass_owed(self, count: int) -> None:
        """How many break-glass runs still owe their review."""
        ...

    def requests_open(self, counts: Mapping[str, int]) -> None:
        """How many requests hold a pair, by state (pending, scheduled, executing,
        unknown): set by the leader's sweep."""
        ...

    def siem_backlog(self, events: int) -> None:
        """Audit events not yet sent to the SIEM."""
        ...

    def siem_failed(self) -> None:
        """One failed attempt to reach or write to the SIEM."""
        ...

    def operation_took(self, operation: str, stage: str, seconds: float) -> None:
        """How long an operation took: ``approval`` (asked → approved), ``start``
        (approved → its run), ``running`` (its run → its verified outcome), ``total``."""
        ...


class NoTelemetry:
    """Measures nothing (tests, the command line)."""

    def reading(self, status: PairStatus) -> None:
        """Nothing."""

    def took(self, what: str, seconds: float, kind: str = "") -> None:
        """Nothing."""

    def backlog(self, queued: int) -> None:
        """Nothing."""

    def paged(self, pager: str, action: str, outcome: str) -> None:
        """Nothing."""

    def glass_owed(self, count: int) -> None:
        """Nothing."""

    def requests_open(self, counts: Mapping[str, int]) -> None:
        """Nothing."""

    def siem_backlog(self, events: int) -> None:
        """Nothing."""

    def siem_failed(self) -> None:
        """Nothing."""

    def operation_took(self, operation: str, stage: str, seconds: float) -> None:
        """Nothing."""


class SharedClock(Protocol):
    """The clock every replica on one database judges leases by (the server's), read
    without touching the database; ``sample_sync`` refreshes it (the heartbeat's thread)."""

    def __call__(self) -> datetime: ...

    def sample_sync(self) -> None:
        """Read the shared clock again; raises StoreError when the database cannot answer."""
        ...


@dataclass(frozen=True)
class Stores:
    """Every store port, built once by the composition root (SQL, or in memory)."""

    audit: AuditLog
    requests: Requests
    readings: ReadingLog
    kept: ReadingKeeper
    alerts: AlertStates
    outbox: Outbox
    viewers: HomeViewers
    leases: Leases
    seen: SeenRequests
    totp: SealedSecrets
    freezes: Freezes
    cursors: Cursors
    #: Raise :class:`habot.errors.StoreError` unless the database answers (for /healthz).
    ping: Callable[[], Awaitable[None]]
    #: The clock leases are judged by when replicas may run on several hosts (None: they
    #: share this host's clock — SQLite, memory).
    shared_clock: SharedClock | None = None
