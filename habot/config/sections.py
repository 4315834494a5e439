"""The configuration's sections about people and time — [slack], [roles], [approval],
[schedule], [database], [[freeze]] — each a frozen model that refuses unknown keys; the values
they take and the rules between them. [ssh] and [[pairs]] are in ``habot.config.ssh``,
[paging] and [siem] in ``habot.config.outside``; loading and error reporting in
``habot.config``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from habot.config.base import Duration, Section
from habot.core.alerts import parse_quiet_hours
from habot.core.cron import parse_crontab
from habot.core.durations import as_setting
from habot.core.operations import ROLE_NEUTRAL, Operation
from habot.core.stepup import Confirm, StepUp

_SLACK_ID = r"^[UWSCGD][A-Z0-9]{2,20}$"


class SlackSettings(Section):
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


class RolesSettings(Section):
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


class OperationApproval(Section):
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


class ApprovalSettings(Section):
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


class ScheduleSettings(Section):
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


class DatabaseSettings(Section):
    """Where the audit log (and later, requests) live."""

    #: SQLite (one replica) or postgresql+psycopg://… (several); HABOT_DATABASE_URL overrides it.
    url: str = "sqlite:///habot.db"


class FreezeWindow(Section):
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
