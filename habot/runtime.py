"""The composition root: every store and service is built here, once, and every lifecycle
is owned here — the database engine, the SSH executor, the replica's lease and heartbeat,
and the background work — inside one exit stack, closed in reverse order.

``habot run``, ``habot digest``, ``habot audit``, ``habot status``/``check`` and the tests
all start from :meth:`Habot.open`::

    async with Habot.open(settings, secrets, slack=slack_side) as habot:
        await habot.operations.recover()
        ...

Without ``slack`` (the CLI) nothing talks to Slack and no lease is taken; with ``ssh=False``
no SSH key is read (``habot audit``, ``habot digest``); with ``database=False`` nothing is
kept (``habot status``: in-memory stores, no database file); ``stores`` replaces the SQL
stores (the in-memory ones in tests about rules rather than SQL).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from habot.config import Auth, Login, Settings
from habot.core.addresses import NodeAddress
from habot.core.freeze import Window
from habot.core.model import Role
from habot.core.patterns import Patterns
from habot.errors import ConfigError
from habot.scheduling import Jobs
from habot.secrets import AUDIT_KEY, SSH_KEY_PASSPHRASE, TOTP_KEY, Secrets, ssh_password_names
from habot.services.alerting import Alerter
from habot.services.anchoring import AnchorService
from habot.services.background import Background
from habot.services.commands import CommandService
from habot.services.digest import DigestService
from habot.services.freezes import FreezeService
from habot.services.home import HomePort, HomeRefresher, HomeService
from habot.services.leader import Heartbeat, Leadership, replica_id
from habot.services.monitor import Monitor
from habot.services.mutes import Mutes
from habot.services.operations import OperationService
from habot.services.operations.stage import step_up
from habot.services.outage import Outage
from habot.services.outbox import SLACK, OutboxNotifier, OutboxWorker, SecretTeller, Sender
from habot.services.paging import Paging
from habot.services.ports import (
    Approvers,
    Clock,
    Names,
    NoTelemetry,
    OnCallLookup,
    Stores,
    Telemetry,
    Zones,
)
from habot.services.siem import SiemForwarder, SiemLink
from habot.services.status import StatusService
from habot.siem.link import SyslogLink
from habot.ssh.executor import NodeLogin, SshExecutor
from habot.store import sql_stores
from habot.store.db import make_engine, upgrade
from habot.store.memory import memory_stores
from habot.store.totp import SealedCodes

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The real clock, injected wherever time is needed."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SlackSide:
    """The Slack adapters the services talk through while serving (``habot run``)."""

    sender: Sender  # the outbox worker's: one message, one attempt
    secrets: SecretTeller  # a secret goes direct, never through the outbox
    home: HomePort  # App Home: roles and views.publish
    on_busy: Callable[[], None] | None = None  # a busy-database retry happened
    on_dead: Callable[[str], None] | None = None  # the outbox set a message aside
    telemetry: Telemetry = field(default_factory=NoTelemetry)  # what habot measures
    approvers: Approvers | None = None  # who holds the approver role (DMs on a request)
    oncall: OnCallLookup | None = None  # who PagerDuty has on call ([paging] oncall_schedules)
    zones: Zones | None = None  # each person's own time zone, for the times they type
    names: Names | None = None  # the names people go by, for files read outside Slack
    workspace: str = SLACK  # the workspace's address (auth.test): message links point there


@dataclass(frozen=True)
class Serving:
    """What only a serving process has: the lease, the outbox worker, Home refreshes and
    the operations and commands that post through them."""

    leadership: Leadership
    worker: OutboxWorker
    homes: HomeRefresher
    operations: OperationService
    commands: CommandService
    telemetry: Telemetry
    siem: SiemForwarder | None = None  # the audit to the SIEM ([siem] target)

    def jobs(self, habot: Habot) -> Jobs:
        """What the scheduler runs."""
        monitor = habot.monitor(on_change=self.homes.refresh, telemetry=self.telemetry)
        return Jobs(
            poll=monitor.poll,
            housekeeping=self.operations.housekeeping,
            deliver=self.worker.deliver_due,
            digest=habot.digest.post,
            anchor=habot.anchors.post,
            siem=self.siem.forward if self.siem else None,
        )


class Habot:
    """One habot, built from one configuration. Use :meth:`open`."""

    def __init__(
        self,
        *,
        settings: Settings,
        secrets: Secrets,
        stores: Stores,
        clock: Clock,
        background: Background,
        executor: SshExecutor | None,
    ) -> None:
        self.settings = settings
        self.stores = stores
        self.clock = clock
        self.background = background
        self._secrets = secrets
        self._executor = executor
        self._status = StatusService(settings, executor, clock) if executor else None
        self.freezes = FreezeService(
            stores.freezes, clock, settings.slack.command,
            windows=[Window(w.pairs, w.start, w.lasts, w.reason) for w in settings.freeze],
            zone=ZoneInfo(settings.schedule.timezone),
        )  # fmt: skip
        self.alerter = Alerter(
            settings=settings,
            states=stores.alerts,
            outbox=stores.outbox,
            clock=clock,
            audit=stores.audit,
            freezes=self.freezes,
        )
        self.digest = DigestService(
            settings=settings,
            readings=stores.readings,
            alerts=stores.alerts,
            outbox=stores.outbox,
            clock=clock,
            freezes=self.freezes,
        )
        self.anchors = AnchorService(
            settings=settings,
            audit=stores.audit,
            outbox=stores.outbox,
            clock=clock,
            key=secrets.get(AUDIT_KEY),
        )
        totp_key = secrets.get(TOTP_KEY)
        #: Approvers' authenticators, when a totp_key is set (step-up with totp = true).
        self.codes = SealedCodes(stores.totp, totp_key) if totp_key else None
        self.home = HomeService(
            settings=settings,
            readings=stores.readings,
            alerts=stores.alerts,
            requests=stores.requests,
            audit=stores.audit,
            clock=clock,
            viewers=stores.viewers,
            freezes=self.freezes,
            outbox=stores.outbox,
            step_up=step_up(settings),
        )
        self.mutes = Mutes(states=stores.alerts, audit=stores.audit, clock=clock)
        #: The database's outages, said once each by whichever part meets them first.
        self.outage = Outage()
        self.serving: Serving | None = None

    @property
    def executor(self) -> SshExecutor:
        """The SSH executor (opened unless ``ssh=False``)."""
        if self._executor is None:
            raise RuntimeError("this habot was opened with ssh=False")
        return self._executor

    @property
    def status(self) -> StatusService:
        """Readings of the pairs, shared by everyone asking at once."""
        if self._status is None:
            raise RuntimeError("this habot was opened with ssh=False")
        return self._status

    def monitor(
        self, on_change: Callable[[], None] | None = None, telemetry: Telemetry | None = None
    ) -> Monitor:
        """The scheduled status round (readings, role changes, alerts, pruning)."""
        return Monitor(
            settings=self.settings,
            status=self.status,
            readings=self.stores.readings,
            requests=self.stores.requests,
            clock=self.clock,
            alerter=self.alerter,
            on_change=on_change,
            prune=(self.stores.outbox.prune, self.stores.kept.prune),
            telemetry=telemetry,
        )

    def requesting(self, approvers: Approvers | None) -> OperationService:
        """Operations for a process that serves no Slack (``habot request``): a request is
        checked and filed, its card, DMs and pages queued in the outbox for the habot that
        serves Slack to deliver. Nothing runs here: the caller refuses an operation that
        needs no approval, and a secret is never told from here."""
        notifier = OutboxNotifier(store=self.stores.outbox, secrets=_NoSecrets(), clock=self.clock)
        return self._operations(notifier, approvers=approvers)

    def _operations(self, notifier: OutboxNotifier, **serving: Any) -> OperationService:
        """The operations over this habot's stores and SSH — built here only; ``serving``
        adds what a replica serving Slack has (its lease, Home, telemetry, approvers…)."""
        stores = self.stores
        return OperationService(
            settings=self.settings,
            status=self.status,
            runner=self.executor,
            requests=stores.requests,
            audit=stores.audit,
            notifier=notifier,
            clock=self.clock,
            background=self.background,
            readings=stores.readings,
            paging=Paging(stores.outbox, self.clock) if self.settings.paging.pagers else None,
            codes=self.codes,
            freezes=self.freezes,
            **serving,
        )

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        secrets: Secrets,
        *,
        slack: SlackSide | None = None,
        stores: Stores | None = None,
        ssh: bool = True,
        database: bool = True,
        clock: Clock = utc_now,
        replica: str | None = None,
    ) -> AsyncIterator[Habot]:
        """Build everything; close it all again, in reverse order, when the block ends."""
        async with AsyncExitStack() as stack:
            if stores is None and not database:
                stores = memory_stores()
            if stores is None:
                engine = open_engine(settings)
                stack.callback(engine.dispose)  # the last thing closed
                stores = sql_stores(engine)
            executor = None
            if ssh:
                passphrase = secrets.get(SSH_KEY_PASSPHRASE)
                logins = node_logins(settings, secrets)
                observe = _ssh_observer(slack.telemetry) if slack is not None else None
                opening = SshExecutor(settings.ssh, passphrase, logins, observe=observe)
                executor = await stack.enter_async_context(opening)
            background = Background()
            habot = cls(
                settings=settings,
                secrets=secrets,
                stores=stores,
                clock=clock,
                background=background,
                executor=executor,
            )
            if slack is not None:
                habot.serving = await habot._serve(slack, stack, replica)
            # Closed first: background work (a run, a kicked outbox round) finishes while the
            # executor, the lease and the heartbeat are still there.
            stack.push_async_callback(background.drain)
            yield habot

    async def _serve(self, slack: SlackSide, stack: AsyncExitStack, replica: str | None) -> Serving:
        stores, clock = self.stores, self.clock
        outage = self.outage
        shared = stores.shared_clock  # leases are judged by one clock across hosts
        heartbeat = Heartbeat(
            store=stores.leases,
            me=replica_id() if replica is None else replica,
            clock=shared or clock,
            outage=outage,
            sample=shared.sample_sync if shared is not None else None,
        )
        leadership = Leadership(
            store=stores.leases,
            clock=shared or clock,
            me=heartbeat.me,
            outage=outage,
            steady=heartbeat.steady,
        )
        stack.push_async_callback(leadership.release)
        heartbeat.start()  # beats once first, so this replica counts as alive in recovery
        stack.callback(heartbeat.stop)  # after the drain: LIFO
        worker = OutboxWorker(
            store=stores.outbox,
            sender=slack.sender,
            clock=clock,
            claims=shared or clock,  # a claim is judged by another host too
            me=leadership.me,
            alive=leadership.alive,
            leader=leadership.held,
            on_dead=slack.on_dead,
            background=self.background,
            telemetry=slack.telemetry,
            outage=outage,
            workspace=slack.workspace,
        )
        self.home.workspace = slack.workspace
        homes = HomeRefresher(self.home, slack.home, self.background, outage)
        notifier = OutboxNotifier(
            store=stores.outbox, secrets=slack.secrets, clock=clock, kick=worker.kick,
            workspace=slack.workspace,
        )  # fmt: skip
        operations = self._operations(
            notifier,
            on_change=homes.refresh,
            replica=leadership.me,
            alive=leadership.alive,
            announce=self.alerter.announce,
            alert_of=self.alerter.open_alert,
            on_busy=slack.on_busy,
            approvers=slack.approvers,
            outage=outage,
            telemetry=slack.telemetry,
            oncall=slack.oncall,
        )
        commands = CommandService(
            settings=self.settings,
            status=self.status,
            runner=self.executor,
            audit=stores.audit,
            clock=clock,
            readings=stores.kept,
            operations=operations,
            mutes=self.mutes,
            freezes=self.freezes,
            zones=slack.zones,
            log=stores.readings,
            names=slack.names,
        )
        siem = self._siem(slack.telemetry, stack)
        return Serving(leadership, worker, homes, operations, commands, slack.telemetry, siem)

    def _siem(self, telemetry: Telemetry, stack: AsyncExitStack) -> SiemForwarder | None:
        """The SIEM forwarder, when [siem] names a target (its connection closed last)."""
        if self.settings.siem.target is None:
            return None
        link = SyslogLink(self.settings.siem)
        stack.push_async_callback(link.close)
        return siem_forwarder(self.settings, self._secrets, self.stores, link, telemetry)


class _NoSecrets:
    """The command line tells no secret (a joining code is told by the habot that runs
    the operation, in Slack)."""

    async def tell(self, channel: str, user: str, text: str) -> None:
        raise RuntimeError("a secret is never told from the command line")


def _ssh_observer(telemetry: Telemetry) -> Callable[[float, bool], None]:
    def observe(seconds: float, changes: bool) -> None:
        telemetry.took("ssh", seconds, "change" if changes else "read")

    return observe


def open_engine(settings: Settings) -> Engine:
    """The database engine, its schema migrated to the newest version."""
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ConfigError(f"database.url: cannot open or migrate the database: {exc}") from exc
    return engine


def siem_forwarder(
    settings: Settings,
    secrets: Secrets,
    stores: Stores,
    link: SiemLink,
    telemetry: Telemetry | None = None,
) -> SiemForwarder:
    """The forwarder of [siem]: this host's name (or the configured one) on every message,
    and every secret habot holds scrubbed from them."""
    return SiemForwarder(
        settings=settings.siem, hostname=settings.siem.hostname or socket.gethostname(),
        audit=stores.audit, cursors=stores.cursors, link=link, gauges=telemetry,
        scrub=secrets.scrubber(p.name for p in settings.pairs),
    )  # fmt: skip


def node_logins(settings: Settings, secrets: Secrets) -> dict[NodeAddress, NodeLogin]:
    """How to log in to every configured node. A pair with password auth and no password
    anywhere cannot be logged in to: its nodes say where habot looked (every other pair is
    still read, and `habot check` fails on it)."""
    logins: dict[NodeAddress, NodeLogin] = {}
    for pair in settings.pairs:
        how = node_login(settings.login(pair), settings.patterns(pair), secrets, pair.name)
        for role in Role:
            logins[pair.address(role)] = how
    return logins


def node_login(login: Login, patterns: Patterns, secrets: Secrets, pair: str) -> NodeLogin:
    """How to log in to a pair's nodes (``pair`` "" for a host outside any pair: the
    shared password): the account, its password and where it came from — or why there is
    none — the transport, and the pair's prompt, confirmation and refusal words."""
    found = secrets.ssh_password_from(pair) if login.auth is Auth.PASSWORD else None
    missing = _no_password(pair) if login.auth is Auth.PASSWORD and not found else None
    password, source = found or (None, None)
    return NodeLogin(
        login.username, password, login.transport.console, login.prompt, source, missing,
        patterns.confirmation, patterns.refusal,
    )  # fmt: skip


def _no_password(pair: str) -> str:
    own, shared = ssh_password_names(pair)
    if not pair:  # a host probed outside any pair: only the shared password serves it
        return (
            'auth = "password" but no password was found. Put it in the keyring (`keyring '
            f"set habot {shared.keyring_name}`) or in the environment ({shared.env_var})."
        )
    return (
        f'pair {pair}: auth = "password" but no password was found. Put it in the keyring '
        f"(`keyring set habot {own.keyring_name}`, or `{shared.keyring_name}` for every "
        f"pair) or in the environment ({own.env_var}, or {shared.env_var})."
    )
