"""The configuration's sections, each a frozen model that refuses unknown keys; the
values they take and the rules between them. Loading and error reporting are in
``habot.config``."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import BeforeValidator

from habot.core.addresses import NodeAddress, parse_address
from habot.core.alerts import parse_quiet_hours
from habot.core.catalogue import DEFAULT_DECLUSTER_LOG_PATH, DEFAULT_LOG_PATH, check_log_path
from habot.core.cron import parse_crontab
from habot.core.durations import as_setting, parse_duration
from habot.core.model import Role
from habot.core.operations import ROLE_NEUTRAL, Operation, Procedures, SwitchoverVia
from habot.core.paging import Pager
from habot.core.patterns import Patterns, regex, status_line, word_meaning
from habot.core.stepup import Confirm, StepUp

_PAIR_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_RESERVED_PAIR_NAMES = {"all", "help", "primary", "secondary"}


def _duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise ValueError("write durations as strings like '500ms', '10s', '5m', '1h'")
    return parse_duration(value)


def _address(value: object) -> NodeAddress:
    if isinstance(value, NodeAddress):
        return value
    if not isinstance(value, str):
        raise ValueError("write an address as a string: 'host', 'host:port' or '[v6]:port'")
    return parse_address(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Address = Annotated[NodeAddress, BeforeValidator(_address)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_USERNAME = r"^[A-Za-z0-9._-]+$"


class Auth(StrEnum):
    """How habot logs in to a node: with its client keys, or with a password kept in
    the keyring or the environment (never in the config)."""

    KEY = "key"
    PASSWORD = "password"  # noqa: S105 — the name of an auth method, not a password


class Transport(StrEnum):
    """How commands reach a node: as SSH exec requests, or typed at the appliance's
    interactive HA console (a shell window with a prompt, as the vendor's guide shows)."""

    EXEC = "exec"
    CONSOLE = "console"

    @property
    def console(self) -> bool:
        """Whether commands are typed at the console."""
        return self is Transport.CONSOLE


class PatternSettings(_Section):
    """A site's own words for what varies between appliance versions (see
    habot/core/patterns.py): ha-status lines, the words in them, the console's confirmation
    question and its refusals. Unset: the built-in rules. A pair's own [pairs.patterns]
    replaces each setting it sets."""

    #: Regular expressions tried on each ha-status line before the built-in rules; named
    #: groups fill habot's fields: role, state, ip, this_host, health, floating_ip.
    status_lines: tuple[str, ...] = ()
    #: A site's word → habot's: {"MASTER" = "primary", "RUNNING" = "active", "GREEN" = "ok"}.
    words: dict[str, str] = Field(default_factory=dict)
    #: The console's confirmation question (default: any [y/N]-style question).
    confirmation: str | None = Field(None, min_length=1, max_length=200)
    #: The console's words for a refused command (default: not available|not found|invalid).
    refusal: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("status_lines")
    @classmethod
    def _status_lines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for n, line in enumerate(value):
            status_line(line, f"[{n}]")
        return value

    @field_validator("words")
    @classmethod
    def _words(cls, value: dict[str, str]) -> dict[str, str]:
        for word, meaning in value.items():
            word_meaning(word, meaning)
        return value

    @field_validator("confirmation", "refusal")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else regex(value)

    def merged(self, over: PatternSettings | None) -> PatternSettings:
        """These patterns with a pair's own on top (each setting the pair sets wins)."""
        if over is None:
            return self
        return self.model_copy(update=over.model_dump(exclude_unset=True))

    def compiled(self) -> Patterns:
        """The patterns as the parser and the SSH adapter use them."""
        named = [(f"patterns.status_lines[{n}]", line) for n, line in enumerate(self.status_lines)]
        lines = tuple((name, status_line(line, name)) for name, line in named)
        words = dict(word_meaning(w, m) for w, m in self.words.items())
        return Patterns(lines, words, self.confirmation, self.refusal)


class SshSettings(_Section):
    """How habot reaches the appliances (``username``, ``auth`` and ``transport`` are the
    defaults every pair may override)."""

    #: The account habot logs in as (a pair may set its own).
    username: str = Field("habot", min_length=1, pattern=_USERNAME)
    #: How it logs in: "key" (client_keys) or "password" (from the keyring or the environment,
    #: never here).
    auth: Auth = Auth.KEY
    #: How commands reach a node: "exec" requests, or typed at the interactive HA "console".
    transport: Transport = Transport.EXEC
    #: habot's private key files (needed while some pair logs in with a key); a passphrase comes
    #: from the keyring entry ssh_key_passphrase or HABOT_SSH_KEY_PASSPHRASE.
    client_keys: tuple[Path, ...] = ()
    #: The nodes' host keys; strict: an unknown or changed key is refused, never trusted on first
    #: use.
    known_hosts: Path
    #: How long a connection (and a console's first prompt) may take.
    connect_timeout: Duration = timedelta(seconds=10)
    #: How long a mutating command may run before it is cut off (its outcome is then checked).
    command_timeout: Duration = timedelta(minutes=10)
    #: How long ha-status may take (less than the mutating commands get).
    status_timeout: Duration = timedelta(seconds=30)
    fresh_for: Duration = timedelta(seconds=2)  # a viewer's status may reuse a reading this young
    #: Output stalled on a question habot does not recognise for this long: the command is aborted.
    prompt_idle: Duration = timedelta(seconds=5)
    #: Beyond this much output its head and tail are kept and it is marked truncated (not trusted).
    max_output_chars: int = Field(1_048_576, ge=4096, le=64 * 1_048_576)
    #: SSH connections kept per node: how many commands run on a node at once (operations first).
    pool_size: int = Field(2, ge=1, le=16)
    #: How often an idle pooled connection is checked.
    keepalive_interval: Duration = timedelta(seconds=30)
    #: The console's prompt for every pair that sets none (a regular expression).
    prompt: str | None = Field(None, min_length=1, max_length=200)
    #: What varies between appliance versions, for every pair (a pair's own override it).
    patterns: PatternSettings = PatternSettings()

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str | None) -> str | None:
        return None if value is None else regex(value)


class PairSettings(_Section):
    """One HA pair."""

    #: The pair's name in commands: 1-32 lower-case letters, digits, "-" or "_" ("all" is
    #: reserved).
    name: str
    #: The Primary node: "host", "host:port" or "[v6addr]:port" (port 22 by default).
    primary: Address
    #: The Secondary node, written the same way.
    secondary: Address
    #: The floating IP, compared with what the nodes report (unset: not compared).
    floating_ip: str | None = None
    #: The log `/ha logs PAIR` reads (an absolute path).
    log_path: str = DEFAULT_LOG_PATH
    #: The log `/ha logs PAIR decluster` reads.
    decluster_log_path: str = DEFAULT_DECLUSTER_LOG_PATH
    #: The node ha-failback runs on (the vendor's documents disagree).
    failback_on: Role = Role.SECONDARY
    #: How a switchover is done: "failover-on-primary", "failover-on-secondary" or "demote-
    #: primary".
    switchover_via: SwitchoverVia = SwitchoverVia.FAILOVER_ON_PRIMARY
    username: str | None = Field(None, min_length=1, pattern=_USERNAME)  # else [ssh]'s
    auth: Auth | None = None  # else [ssh]'s
    transport: Transport | None = None  # else [ssh]'s
    prompt: str | None = Field(None, min_length=1, max_length=200)  # the console's, if unusual
    patterns: PatternSettings | None = None  # on top of [ssh.patterns]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _PAIR_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a pair name: use 1-32 lower-case letters, digits, '-' or '_'"
            )
        if value in _RESERVED_PAIR_NAMES:
            raise ValueError(f"{value!r} is reserved in commands; choose another pair name")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str | None) -> str | None:
        return None if value is None else regex(value)

    @field_validator("floating_ip")
    @classmethod
    def _floating_ip(cls, value: str | None) -> str | None:
        return None if value is None else str(ipaddress.ip_address(value))

    @field_validator("log_path", "decluster_log_path")
    @classmethod
    def _log_path(cls, value: str) -> str:
        return check_log_path(value)

    def address(self, role: Role) -> NodeAddress:
        """The address of the node with this role."""
        return self.primary if role is Role.PRIMARY else self.secondary

    @property
    def procedures(self) -> Procedures:
        """The pair's choices where the vendor's documents disagree."""
        return Procedures(failback_on=self.failback_on, switchover_via=self.switchover_via)


_SLACK_ID = r"^[UWSCGD][A-Z0-9]{2,20}$"


class SlackSettings(_Section):
    """How habot appears in Slack."""

    #: The slash command (as in the app's manifest: `habot manifest`).
    command: str = Field("/ha", pattern=r"^/[a-z0-9_-]{1,31}$")
    commands_per_minute: int = Field(20, ge=1, le=10_000)  # per person; the rest get a polite no
    #: The channels (C…) habot takes commands in; empty: any channel it is in.
    channels: tuple[str, ...] = ()
    #: Where alerts, the digest and the audit anchor go (C…); unset: no alerts.
    alert_channel: str | None = None
    #: How long `habot run` keeps trying to reach Slack at start before it exits 1.
    start_timeout: Duration = timedelta(minutes=1)
    #: Who a new approval card names (users U…/W…, user groups S…): they get notified.
    approvers_mention: tuple[str, ...] = ()
    #: Who a new alert names: a user group S…, a user U…/W…, or "!here" / "!channel".
    alert_mention: str | None = None
    #: Tell each approver who can act on a new request in a direct message (the approver
    #: users, and the members of approver user groups; not when everyone may approve).
    dm_approvers: bool = True

    @field_validator("approvers_mention")
    @classmethod
    def _approvers_mention(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for target in value:
            if not re.match(r"^[UWS][A-Z0-9]{2,20}$", target):
                raise ValueError(f"{target!r} is not a user (U…) or user group (S…) ID")
        return value

    @field_validator("alert_mention")
    @classmethod
    def _alert_mention(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^([UWS][A-Z0-9]{2,20}|!here|!channel)$", value):
            raise ValueError(
                f"{value!r} is not a user (U…) or user group (S…) ID, or !here or !channel"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if not re.match(r"^[CGD][A-Z0-9]{2,20}$", channel):
                raise ValueError(f"{channel!r} is not a Slack channel ID (like C0123ABCD)")
        return value


class RolesSettings(_Section):
    """Who may do what, by immutable Slack IDs: users U…/W…, user groups S…, or "*"."""

    #: Who may read status and history ("*": everyone).
    viewers: tuple[str, ...] = ("*",)
    #: Who may ask for operations.
    operators: tuple[str, ...] = ()
    #: Who may approve them (never their own request).
    approvers: tuple[str, ...] = ()
    #: Who may freeze and unfreeze pairs (`/ha freeze`): approvers, or also operators.
    freeze: Literal["approver", "operator"] = "approver"

    @field_validator("viewers", "operators", "approvers")
    @classmethod
    def _ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if entry != "*" and not re.match(r"^[UWS][A-Z0-9]{2,20}$", entry):
                raise ValueError(
                    f'{entry!r} is not a Slack user (U…/W…) or user group (S…) ID, or "*"'
                )
        return value


ReasonRule = Literal["optional", "required"]


def _pattern(value: str | None) -> str | None:
    """A ticket pattern: a regular expression Python can compile."""
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"ticket_pattern {value!r} is not a regular expression: {exc}") from None
    return value


class OperationApproval(_Section):
    """Per-operation approval overrides (unset: the [approval] value)."""

    #: Approvers this operation needs (unset: [approval] required).
    required: int | None = Field(None, ge=0, le=5)
    #: Whether this operation must say why: "optional" or "required".
    reason: ReasonRule | None = None
    #: The change ticket this operation must name, as a regular expression.
    ticket_pattern: str | None = None
    #: How an approver confirms: "click" (Approve and its dialog) or "type-pair-name" (a
    #: form in which they type the pair's name). Unset: type-pair-name for make-standalone,
    #: initialise and demote-primary, click for the rest.
    confirm: Literal["click", "type-pair-name"] | None = None
    #: On top of the typed name, a code from the approver's authenticator app (each
    #: approver enrolled with `habot approver enrol USER`).
    totp: bool = False

    @field_validator("ticket_pattern")
    @classmethod
    def _ticket(cls, value: str | None) -> str | None:
        return _pattern(value)


class ApprovalSettings(_Section):
    """Four-eyes policy: approvals needed, how long a request stays open, cooldown."""

    #: How long a request waits for its approvals before it expires.
    ttl: Duration = timedelta(minutes=15)
    #: How many approvers must approve (each operation may ask for more below).
    required: int = Field(1, ge=1, le=5)
    #: After a role change, how long before the next operation on the pair.
    cooldown: Duration = timedelta(minutes=10)
    #: Per operation, e.g. [approval.operations.make-standalone] required = 2.
    operations: dict[str, OperationApproval] = Field(default_factory=dict)
    #: Who is asked to approve, in order: a new request's direct messages go to level 1;
    #: while nobody has decided, the next level is asked every ``escalate_after``. Each
    #: level lists users (U…/W…) and user groups (S…). Never approves anything itself:
    #: anyone holding the approver role may approve at any level.
    escalation: tuple[tuple[str, ...], ...] = Field((), max_length=6)
    #: How long each escalation level has before the next is asked.
    escalate_after: Duration = timedelta(minutes=5)
    #: Whether a request must say why ("required" opens a form for it in Slack).
    reason: ReasonRule = "optional"
    #: A change ticket every request must name, matching this regular expression (e.g.
    #: ``^CHG[0-9]{7}$``); unset: no ticket is asked for.
    ticket_pattern: str | None = None
    #: Whether rejecting or cancelling a request must say why (told to the requester).
    reject_reason: ReasonRule = "optional"
    #: Off unless set: how long a failover request on a Primary that is really down waits
    #: for an approver (every escalation level asked, nobody rejected) before its requester
    #: may run it alone, loudly, owing a review (`/ha break-glass ID "reason"`).
    break_glass_after: Duration | None = None
    #: Operations asked for later (`/ha switchover prod at sat 02:00`): how far ahead they
    #: may be asked.
    schedule_within: Duration = timedelta(days=14)
    #: How long after its time an operation asked for later may still start (then it
    #: expires, never running late).
    run_window: Duration = timedelta(minutes=15)
    #: How long before its time the request's thread is reminded.
    remind_before: Duration = timedelta(minutes=15)

    @field_validator("ticket_pattern")
    @classmethod
    def _ticket(cls, value: str | None) -> str | None:
        return _pattern(value)

    @field_validator("escalation")
    @classmethod
    def _levels(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for n, level in enumerate(value, 1):
            if not level:
                raise ValueError(f"level {n} is empty: list its approvers (users or user groups)")
            for entry in level:
                if not re.match(r"^[UWS][A-Z0-9]{2,20}$", entry):
                    raise ValueError(
                        f"level {n}: {entry!r} is not a Slack user (U…/W…) or user group (S…) ID"
                    )
        return value

    @model_validator(mode="after")
    def _levels_before_expiry(self) -> ApprovalSettings:
        if self.escalate_after < timedelta(seconds=1):
            raise ValueError("escalate_after must be at least 1s")
        last = self.escalate_after * (len(self.escalation) - 1)
        if self.escalation and last >= self.ttl:
            raise ValueError(
                f"escalation: level {len(self.escalation)} would be asked "
                f"{as_setting(last)} after a request opens, but requests expire after "
                f"ttl = {as_setting(self.ttl)}; shorten escalate_after or lengthen ttl"
            )
        if self.run_window < timedelta(seconds=1):
            raise ValueError("run_window must be at least 1s (15m lets a restart still run it)")
        glass = self.break_glass_after
        if glass is not None and not timedelta(seconds=1) <= glass < self.ttl:
            raise ValueError(
                f"break_glass_after = {as_setting(glass)}: it must be at least 1s "
                "(10m or more gives a second person time to answer) and shorter than ttl = "
                f"{as_setting(self.ttl)} (requests expire then)"
            )
        return self

    @field_validator("operations")
    @classmethod
    def _known(cls, value: dict[str, OperationApproval]) -> dict[str, OperationApproval]:
        known = {o.value for o in Operation}
        for name, approval in value.items():
            if name not in known:
                raise ValueError(
                    f"{name!r} is not an operation; use one of {', '.join(sorted(known))}"
                )
            if (
                approval.totp
                and StepUp(
                    {Operation(name): Confirm(approval.confirm)} if approval.confirm else {}
                ).confirm(Operation(name))
                is not Confirm.TYPE_PAIR_NAME
            ):
                raise ValueError(
                    f'{name}: totp = true needs confirm = "type-pair-name" (the code is '
                    "asked in the form where the pair's name is typed)"
                )
            if approval.required == 0 and Operation(name) not in ROLE_NEUTRAL:
                raise ValueError(
                    f"{name}: required = 0 would let one person run it alone; every "
                    "operation that changes roles or redundancy needs at least 1 approval "
                    f"(only {', '.join(sorted(o.value for o in ROLE_NEUTRAL))} may have 0)"
                )
        return value


def _endpoint(value: str) -> str:
    """A paging tool's URL: https, or http to this machine only (a test or the demo)."""
    parsed = urllib.parse.urlsplit(value)
    local = parsed.hostname in {"127.0.0.1", "localhost", "::1"}
    if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
        raise ValueError(
            f"{value!r}: use an https:// URL (http:// only to 127.0.0.1, for tests and the demo)"
        )
    return value


class PagingSettings(_Section):
    """Paging the on-call when an alert opens (off unless a paging tool is turned on). Keys
    come from the keyring or the environment, never from here."""

    #: Page through PagerDuty's Events API v2 (routing key: keyring pagerduty_routing_key).
    pagerduty: bool = False
    #: Page through Opsgenie's Alert API (key: keyring opsgenie_api_key).
    opsgenie: bool = False
    #: PagerDuty's Events API endpoint.
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_url: str = "https://api.opsgenie.com"  # the EU instance: https://api.eu.opsgenie.com
    #: Page the approvers too: for a request for failover (the emergency verb), and for
    #: any request while its pair is not BAU; resolved when the request stops waiting.
    page_approvers: bool = False
    #: The keyring entry (and HABOT_<NAME> variable) of the approvers' own PagerDuty
    #: service's routing key; unset: the same service as the alerts.
    approvers_routing_key: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,63}$")
    #: PagerDuty schedules whose on-call people (those holding the approver role) are
    #: escalation level 1, looked up through PagerDuty's REST API with the keyring entry
    #: pagerduty_api_token (HABOT_PAGERDUTY_API_TOKEN), matched to Slack users by email.
    oncall_schedules: tuple[Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$")], ...] = Field(
        (), max_length=10
    )
    #: PagerDuty's REST API (for oncall_schedules).
    pagerduty_api_url: str = "https://api.pagerduty.com"

    @field_validator("pagerduty_events_url", "opsgenie_url", "pagerduty_api_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _endpoint(value)

    @property
    def pagers(self) -> tuple[Pager, ...]:
        """The paging tools turned on."""
        return tuple(p for p, on in ((Pager.PAGERDUTY, self.pagerduty),
                                     (Pager.OPSGENIE, self.opsgenie)) if on)  # fmt: skip


class ScheduleSettings(_Section):
    """Scheduled status checks, alerts and the daily digest."""

    #: How often every pair is read (and alerts judged).
    status_every: Duration = timedelta(minutes=5)
    #: Bad readings in a row before an alert is raised.
    alert_after: int = Field(2, ge=1, le=100)
    #: When the daily digest is posted: a crontab line ("" for none).
    digest_cron: str = "0 9 * * 1-5"
    #: The time zone of digest_cron, quiet_hours and times typed in commands.
    timezone: str = "UTC"
    #: "HH:MM-HH:MM": only changes for the worse are posted then ("" for none).
    quiet_hours: str = ""
    #: How long readings (and cards' raw output) are kept.
    keep_readings: Duration = timedelta(days=7)
    #: A shape habot's own operation produced, lasting this long: one reminder.
    remind_after: Duration = timedelta(hours=24)
    #: An open alert nobody has acknowledged calls its people again (in its thread, naming
    #: [slack] alert_mention) this often; "off" never does.
    nudge_every: Duration | None = timedelta(minutes=30)
    #: How often the audit chain's head is posted to the alert channel (when one is set).
    anchor_every: Duration = timedelta(hours=6)

    @field_validator("nudge_every", mode="before")
    @classmethod
    def _nudge_off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() == "off" else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name like 'Europe/London'") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @field_validator("digest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value.strip():
            try:
                parse_crontab(value)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not a crontab line (m h dom mon dow): {exc}"
                ) from None
        return value

    @model_validator(mode="after")
    def _digest_needs_a_day(self) -> ScheduleSettings:
        if self.digest_cron.strip() and self.keep_readings < timedelta(days=1):
            raise ValueError(
                "keep_readings must be at least 1d while digest_cron is set: the digest "
                "reports the last day from stored readings"
            )
        return self


_SIEM_TARGET = r"(tcp|tls)://[A-Za-z0-9.:\[\]_-]+:\d{1,5}"


class SiemSettings(_Section):
    """Forwarding every audit event to a SIEM: RFC 5424 syslog over TCP (octet-counted),
    optionally TLS. Off while ``target`` is unset."""

    #: "tcp://HOST:PORT" or "tls://HOST:PORT".
    target: str | None = None
    #: "json" or "cef" (each message carries its sequence number and chain hash).
    format: Literal["json", "cef"] = "json"
    #: TLS: the CA that signed the SIEM's certificate (else the system's CAs).
    ca_file: str | None = None
    #: TLS: habot's own certificate, when the SIEM asks for one.
    cert_file: str | None = None
    #: TLS: that certificate's key.
    key_file: str | None = None
    #: The HOSTNAME habot's messages carry (else this machine's name).
    hostname: str | None = None

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"(tcp|tls)://[A-Za-z0-9.:\[\]_-]+:\d{1,5}", value
        ):
            raise ValueError(
                f"{value!r} is not a SIEM target: write tcp://HOST:PORT or tls://HOST:PORT"
            )
        return value

    @model_validator(mode="after")
    def _tls_files(self) -> SiemSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (habot's own certificate)")
        tls_only = self.ca_file or self.cert_file
        if tls_only and self.target is not None and not self.target.startswith("tls://"):
            raise ValueError("ca_file, cert_file and key_file are for a tls:// target")
        return self

    @property
    def endpoint(self) -> tuple[str, str, int] | None:
        """(scheme, host, port), or None when forwarding is off."""
        if self.target is None:
            return None
        scheme, rest = self.target.split("://", 1)
        host, _, port = rest.rpartition(":")
        return scheme, host.strip("[]"), int(port)


class DatabaseSettings(_Section):
    """Where the audit log (and later, requests) live."""

    #: SQLite (one replica) or postgresql+psycopg://… (several); HABOT_DATABASE_URL overrides it.
    url: str = "sqlite:///habot.db"


class FreezeWindow(_Section):
    """A recurring change freeze (``[[freeze]]``): from each ``start`` (a crontab line, in
    [schedule] timezone) for ``lasts``, over ``pairs`` ("all": every pair)."""

    #: The pairs it freezes ("all": every pair).
    pairs: tuple[str, ...] = ("all",)
    #: When each freeze starts: a crontab line, in [schedule] timezone.
    start: str
    #: How long each lasts (1m to 31d).
    lasts: Duration
    #: Why: said when a planned operation is held.
    reason: str = Field(min_length=1, max_length=300)

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        try:
            parse_crontab(value)
        except ValueError as exc:
            raise ValueError(f"start {value!r}: {exc}") from None
        return value

    @field_validator("lasts")
    @classmethod
    def _lasts(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=31):
            raise ValueError(f"lasts = {as_setting(value)}: between 1m and 31d")
        return value
