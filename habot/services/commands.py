"""What `/ha …` does, independent of Slack: parse, check channel and role, run, audit, reply."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from habot.config import Settings
from habot.core.addresses import NodeAddress
from habot.core.answers import (
    Answer,
    HelpAnswer,
    HistoryAnswer,
    LogsAnswer,
    RawAnswer,
    StatusAnswer,
)
from habot.core.asks import (
    Ask,
    FreezeRequest,
    MuteRequest,
    OperationRequest,
    RequestNote,
    Unfreeze,
    parse_ask,
)
from habot.core.audit import AuditEvent, digest, status_event
from habot.core.blocks import Form
from habot.core.cards import request_form
from habot.core.catalogue import tail_log
from habot.core.change import missing_only, problems
from habot.core.grammar import LogKind, ParsedCommand, Sub, UsageError
from habot.core.operations import Operation
from habot.core.ratelimit import RateLimit
from habot.core.refusals import refusal, slow_down
from habot.core.replies import Code, Reply, Strong, failed, plain, refused, say, unclear
from habot.core.results import CommandResult
from habot.core.roles import Access, missing_role, needs_with, offered
from habot.core.roles_history import role_reply
from habot.core.timeline import requested
from habot.errors import NodeError
from habot.services.coalesce import Coalesced
from habot.services.evidence import tenures
from habot.services.freezes import FreezeService
from habot.services.mutes import Mutes
from habot.services.operations.stage import change_control
from habot.services.ports import (
    AuditLog,
    Caller,
    Clock,
    CommandRunner,
    Names,
    ReadingKeeper,
    ReadingLog,
    Zones,
)
from habot.services.status import StatusService

if TYPE_CHECKING:
    from habot.services.operations import OperationService


class CommandService:
    """Carries out `/ha` commands for any front end (Slack today)."""

    def __init__(
        self,
        *,
        settings: Settings,
        status: StatusService,
        runner: CommandRunner,
        audit: AuditLog,
        clock: Clock,
        readings: ReadingKeeper,
        operations: OperationService | None = None,
        mutes: Mutes | None = None,
        ticks: Callable[[], float] = time.monotonic,
        freezes: FreezeService | None = None,
        zones: Zones | None = None,
        log: ReadingLog | None = None,
        names: Names | None = None,
    ) -> None:
        self._log = log  # the readings kept: who served when
        self._names = names  # people's names, for an incident's file
        self._freezes = freezes
        self._zones = zones
        self._ticks = ticks
        self._settings = settings
        self._status = status
        self._runner = runner
        self._audit = audit
        self._clock = clock
        self._readings = readings
        self._operations = operations
        self._mutes = mutes
        self._command = settings.slack.command
        self._needs = needs_with(Access(settings.roles.freeze))
        self._limit = RateLimit(settings.slack.commands_per_minute)
        self._change = change_control(settings)
        #: Everyone asking for the same log of the same node at once shares one read.
        self._log_reads: Coalesced[tuple[NodeAddress, str], CommandResult] = Coalesced(
            settings.ssh.fresh_for.total_seconds()
        )
        self._handlers: dict[Sub, Callable[[Caller, ParsedCommand], Awaitable[Answer]]] = {
            Sub.HELP: self._help,
            Sub.STATUS: self._read_status,
            Sub.LOGS: self._logs,
            Sub.HISTORY: self._history,
            Sub.INCIDENT: self._incident,
            Sub.PENDING: self._pending,
            Sub.UNMUTE: self._unmute,
        }

    async def handle(self, caller: Caller, text: str) -> Answer | Form:
        """Answer one `/ha` invocation (or, for a request lacking what change control
        asks for, the form that asks for it); bad input changes nothing and says why. The
        text is parsed once, here, into what it asks; nothing reads it again."""
        if wait := self._limit.wait(caller.user, self._ticks()):
            return slow_down(wait, self._limit.per_minute, self._command)
        names = [p.name for p in self._settings.pairs]
        zone = await self._zone(caller, text)
        try:
            ask = parse_ask(text, names, self._command, self._clock(), zone)
        except UsageError as exc:
            return unclear(str(exc))
        if refused_here := await self._refusal(caller, ParsedCommand(ask.sub, ask.pair)):
            return refused_here
        return await self._carry_out(caller, ask)

    async def _carry_out(self, caller: Caller, ask: Ask) -> Answer | Form:
        what = ask.what
        if isinstance(what, ParsedCommand):
            return await self._handlers[what.sub](caller, what)
        if isinstance(what, MuteRequest):
            if self._mutes is None:
                return say("Alerts are not enabled in this process.")
            return await self._mutes.mute(caller, what)
        if isinstance(what, FreezeRequest | Unfreeze):
            return await self._freeze(caller, what)
        if self._operations is None:
            return say(
                Code(f"{self._command} {ask.sub.value}"),
                " is recognised but not available in this process. Nothing was run.",
            )
        if isinstance(what, RequestNote):
            return await self._note(caller, ask.sub, what)
        return await self._operation(caller, what)

    async def _freeze(self, caller: Caller, ask: FreezeRequest | Unfreeze) -> Reply:
        """freeze / unfreeze (their times were read in the person's time zone)."""
        if self._freezes is None:
            return say("Freezes are not enabled in this process.")
        if isinstance(ask, Unfreeze):
            return await self._freezes.unfreeze(caller, ask.pairs)
        return await self._freezes.freeze(caller, ask)

    async def _note(self, caller: Caller, sub: Sub, ask: RequestNote) -> Answer:
        """resolve, break-glass, review, note, cancel, reject: a request ID and a person's
        words about it."""
        assert self._operations is not None
        if sub in {Sub.CANCEL, Sub.REJECT}:
            close = self._operations.cancel if sub is Sub.CANCEL else self._operations.reject
            return await close(caller, ask.request_id, ask.words or None)
        act = {
            Sub.RESOLVE: self._operations.resolve,
            Sub.BREAK_GLASS: self._operations.break_glass,
            Sub.REVIEW: self._operations.review,
            Sub.NOTE: self._operations.note,
        }[sub]
        return await act(caller, ask.request_id, ask.words)

    async def _operation(self, caller: Caller, ask: OperationRequest) -> Answer | Form:
        """A request, or — when it lacks (rather than mistypes) the reason or ticket
        change control asks for, and it came from a channel — the form for them."""
        assert self._operations is not None
        rule = self._change.rule(Operation(ask.sub.value))
        wanted = problems(rule, ask.reason, ask.ticket)
        if caller.channel and missing_only(wanted, ask.reason, ask.ticket):
            return request_form(ask, rule, caller.channel)
        return await self._operations.request(caller, ask)

    async def _zone(self, caller: Caller, text: str) -> ZoneInfo:
        """The time zone the times in ``text`` are read in: the person's own (Slack's
        users.info) when it says one — looked up only when the text names a time — else
        [schedule] timezone."""
        default = ZoneInfo(self._settings.schedule.timezone)
        if self._zones is None or not {"at", "until"} & {w.lower() for w in text.split()}:
            return default
        name = await self._zones.zone_of(caller.user)
        try:
            return ZoneInfo(name) if name else default
        except (ValueError, ZoneInfoNotFoundError):  # a zone this machine does not know
            return default

    def change_problems(self, ask: OperationRequest) -> dict[str, str]:
        """What change control finds wrong with a request's reason and ticket, by field."""
        return problems(self._change.rule(Operation(ask.sub.value)), ask.reason, ask.ticket)

    async def submit(self, caller: Caller, ask: OperationRequest) -> Answer:
        """A request sent from its form: the same rules as typing it."""
        parsed = ParsedCommand(ask.sub, ask.pair, ask.node)
        if refused_here := await self._refusal(caller, parsed):
            return refused_here
        if self._operations is None:
            return say("Operations are not enabled in this process.")
        return await self._operations.request(caller, ask)

    async def _unmute(self, caller: Caller, parsed: ParsedCommand) -> Reply:
        assert parsed.pair is not None
        if self._mutes is None:
            return say("Alerts are not enabled in this process.")
        return await self._mutes.unmute(caller, parsed.pair)

    async def _pending(self, caller: Caller, parsed: ParsedCommand) -> Answer:
        if self._operations is None:
            return say("Operations are not enabled in this process.")
        return await self._operations.pending()

    async def raw_output(self, caller: Caller, reading_id: str) -> Answer:
        """The raw ha-status behind a status card."""
        if missing_role(Sub.STATUS, caller.roles):
            return refused("You need the ", Strong("viewer"), " role to see raw output.")
        status = await self._readings.get(reading_id)
        if status is None:
            return say(
                "That reading is no longer kept. Run ",
                Code(f"{self._command} status"),
                " for a fresh one.",
            )
        return RawAnswer(status)

    async def _refusal(self, caller: Caller, parsed: ParsedCommand) -> Reply | None:
        allowed = self._settings.slack.channels
        reason = refusal(parsed, caller.channel, caller.roles, allowed, self._command, self._needs)
        if reason is not None:
            why: dict[str, object] = {"reason": plain(reason.parts)}
            await self._record("refused", caller, parsed, "refused", why)
        return reason

    async def _record(
        self,
        kind: str,
        caller: Caller,
        parsed: ParsedCommand,
        outcome: str,
        detail: dict[str, object],
        node: str | None = None,
        output_digest: str | None = None,
        duration_ms: int | None = None,
    ) -> None:
        event = AuditEvent(
            kind=kind,
            actor=caller.user,
            outcome=outcome,
            at=self._clock(),
            pair=parsed.pair,
            node=node,
            channel=caller.channel,
            output_digest=output_digest,
            duration_ms=duration_ms,
            detail={"subcommand": parsed.sub.value, **detail},
        )
        await self._audit.append(event)

    async def _help(self, caller: Caller, parsed: ParsedCommand) -> Answer:
        allowed = tuple(sub for sub in Sub if offered(sub, caller.roles, self._needs))
        return HelpAnswer(self._command, allowed)

    def _elapsed_ms(self, started: datetime) -> int:
        return int((self._clock() - started).total_seconds() * 1000)

    async def _read_status(self, caller: Caller, parsed: ParsedCommand) -> Answer:
        started = self._clock()
        statuses = await self._status.read(parsed.pair)
        duration = self._elapsed_ms(started)
        ids = [await self._readings.put(s) for s in statuses]
        for s in statuses:
            await self._audit.append(
                status_event(s, caller.user, caller.channel, duration, self._clock())
            )
        mutes = await self._mutes.active([s.pair for s in statuses]) if self._mutes else {}
        held = await self._freezes.holding_each([s.pair for s in statuses]) if self._freezes else {}
        frozen = {pair: (f.ends_at, f.reason) for pair, f in held.items()}
        return StatusAnswer(tuple(statuses), self._clock(), tuple(ids), mutes, frozen)

    async def _logs(self, caller: Caller, parsed: ParsedCommand) -> Answer:
        assert parsed.pair is not None, "the grammar requires a pair for logs"
        assert parsed.node is not None
        assert parsed.count is not None
        pair = self._settings.pair(parsed.pair)
        address = pair.address(parsed.node)
        path = pair.decluster_log_path if parsed.log is LogKind.DECLUSTER else pair.log_path
        command = tail_log(path, parsed.count)
        started = self._clock()
        try:
            result = await self._log_reads.get(
                (address, command.line),
                lambda: self._runner.run(
                    address, command, time_limit=self._settings.ssh.status_timeout
                ),
            )
        except NodeError as exc:
            await self._record(
                "logs",
                caller,
                parsed,
                "failed",
                {"error": exc.detail, "log": parsed.log.value},
                node=parsed.node.value,
                duration_ms=self._elapsed_ms(started),
            )
            return failed(
                f"Could not read the log on {pair.name} {parsed.node} ({address}): {exc.detail}"
            )
        await self._record(
            "logs",
            caller,
            parsed,
            "ok" if result.ok else "failed",
            {"lines": parsed.count, "exit_status": result.exit_status, "log": parsed.log.value},
            node=parsed.node.value,
            output_digest=digest(result.output),
            duration_ms=self._elapsed_ms(started),
        )
        return LogsAnswer(
            pair.name, parsed.node.value, str(address), parsed.count, result.output, parsed.log
        )

    async def _roles(self, pair: str) -> Answer:
        """Who served the pair, from when to when, and why it changed."""
        if self._log is None:
            return say("Role history needs the kept readings, which this process does not have.")
        return role_reply(pair, await tenures(self._log, self._audit, pair), self._clock())

    async def _incident(self, caller: Caller, parsed: ParsedCommand) -> Answer:
        """A request's timeline from the audit chain (a file for its card's thread)."""
        assert parsed.ref is not None, "the grammar fills the request id for incident"
        if self._operations is None:
            return say("Operations are not enabled in this process.")
        name_of = self._names.name_of if self._names is not None else None
        return await self._operations.incident(parsed.ref, name_of)

    async def _history(self, caller: Caller, parsed: ParsedCommand) -> Answer:
        assert parsed.count is not None, "the grammar fills the count for history"
        if parsed.roles and parsed.pair is not None:
            return await self._roles(parsed.pair)
        records = await self._audit.recent(parsed.count, parsed.pair)
        named = await self._operations.operations_of(requested(records)) if self._operations else {}
        return HistoryAnswer(parsed.pair, tuple(records), named)
