"""What `/ha …` does, independent of Slack: parse, check channel and role, run, audit, reply."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from habot.config import Settings
from habot.core.asks import parse_mute, parse_operation, parse_resolve
from habot.core.audit import AuditEvent, digest
from habot.core.blocks import (
    Message,
    escape,
    help_message,
    history_message,
    logs_message,
    raw_message,
    section,
    status_message,
    text_message,
)
from habot.core.catalogue import tail_log
from habot.core.grammar import (
    MUTATING,
    NOT_YET,
    LogKind,
    ParsedCommand,
    Sub,
    UsageError,
    parse_command,
)
from habot.core.ratelimit import RateLimit
from habot.core.roles import missing_role
from habot.errors import NodeError
from habot.services.ports import AlertStates, AuditLog, Caller, Clock, CommandRunner, ReadingKeeper
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
        alert_states: AlertStates | None = None,
    ) -> None:
        self._settings = settings
        self._status = status
        self._runner = runner
        self._audit = audit
        self._clock = clock
        self._readings = readings
        self._operations = operations
        self._alert_states = alert_states
        self._command = settings.slack.command
        self._limit = RateLimit(settings.slack.commands_per_minute)
        self._handlers: dict[Sub, Callable[[Caller, ParsedCommand], Awaitable[Message]]] = {
            Sub.HELP: self._help,
            Sub.STATUS: self._read_status,
            Sub.LOGS: self._logs,
            Sub.HISTORY: self._history,
            Sub.PENDING: self._pending,
            Sub.CANCEL: self._cancel,
            Sub.UNMUTE: self._unmute,
        }

    async def handle(self, caller: Caller, text: str) -> Message:
        """Answer one `/ha` invocation; bad input changes nothing and says why."""
        if wait := self._limit.wait(caller.user, self._clock()):
            return self._slow_down(wait)
        names = [p.name for p in self._settings.pairs]
        try:
            parsed = parse_command(text, names, self._command)
        except UsageError as exc:
            return text_message(f":grey_question: {escape(str(exc))}")
        if refusal := await self._refusal(caller, parsed):
            return refusal
        if not parsed.available or (
            self._operations is None
            and parsed.sub not in self._handlers
            and parsed.sub is not Sub.MUTE
        ):
            return text_message(
                f"`{self._command} {parsed.sub.value}` is recognised but not available in this "
                "version of habot yet. Nothing was run."
            )
        if parsed.sub in MUTATING:
            return await self._operation(caller, text)
        if parsed.sub is Sub.MUTE:
            return await self._mute(caller, text)
        if parsed.sub is Sub.RESOLVE:
            return await self._resolve(caller, text)
        return await self._handlers[parsed.sub](caller, parsed)

    async def _resolve(self, caller: Caller, text: str) -> Message:
        assert self._operations is not None
        try:
            ask = parse_resolve(text, self._command)
        except UsageError as exc:
            return text_message(f":grey_question: {escape(str(exc))}")
        return await self._operations.resolve(caller, ask.request_id, ask.finding)

    async def _operation(self, caller: Caller, text: str) -> Message:
        assert self._operations is not None
        names = [p.name for p in self._settings.pairs]
        try:
            ask = parse_operation(text, names, self._command)
        except UsageError as exc:
            return text_message(f":grey_question: {escape(str(exc))}")
        return await self._operations.request(caller, ask)

    async def _mute(self, caller: Caller, text: str) -> Message:
        if self._alert_states is None:
            return text_message("Alerts are not enabled in this process.")
        names = [p.name for p in self._settings.pairs]
        try:
            ask = parse_mute(text, names, self._command)
        except UsageError as exc:
            return text_message(f":grey_question: {escape(str(exc))}")
        until = self._clock() + ask.duration
        assert self._alert_states is not None
        await self._alert_states.set_mute(ask.pair, until)
        await self._record(
            "muted",
            caller,
            ParsedCommand(Sub.MUTE, ask.pair),
            "muted",
            {"until": until.isoformat(), "reason": ask.reason},
        )
        words = (
            f":mute: Alerts for *{ask.pair}* muted until {until:%H:%M} UTC by "
            f"<@{caller.user}>: {escape(ask.reason)}"
        )
        return Message(words, (section(words),), in_channel=True)

    async def _unmute(self, caller: Caller, parsed: ParsedCommand) -> Message:
        assert parsed.pair is not None
        if self._alert_states is None:
            return text_message("Alerts are not enabled in this process.")
        await self._alert_states.set_mute(parsed.pair, None)
        await self._record("unmuted", caller, parsed, "unmuted", {})
        words = f":loud_sound: Alerts for *{parsed.pair}* are on again (<@{caller.user}>)."
        return Message(words, (section(words),), in_channel=True)

    async def _mutes(self, pairs: list[str]) -> dict[str, datetime]:
        if self._alert_states is None:
            return {}
        now = self._clock()
        found = {p: (await self._alert_states.load(p))[0].muted_until for p in pairs}
        return {p: until for p, until in found.items() if until and until > now}

    async def _pending(self, caller: Caller, parsed: ParsedCommand) -> Message:
        if self._operations is None:
            return text_message("Operations are not enabled in this process.")
        return await self._operations.pending()

    async def _cancel(self, caller: Caller, parsed: ParsedCommand) -> Message:
        assert parsed.ref is not None, "the grammar requires a request id"
        if self._operations is None:
            return text_message("Operations are not enabled in this process.")
        return await self._operations.cancel(caller, parsed.ref)

    async def raw_output(self, caller: Caller, reading_id: str) -> Message:
        """The raw ha-status behind a status card."""
        if missing_role(Sub.STATUS, caller.roles):
            return text_message("You need the *viewer* role to see raw output.")
        status = await self._readings.get(reading_id)
        if status is None:
            return text_message(
                f"That reading is no longer kept. Run `{self._command} status` for a fresh one."
            )
        return raw_message(status)

    async def _refusal(self, caller: Caller, parsed: ParsedCommand) -> Message | None:
        allowed = self._settings.slack.channels
        if parsed.sub is not Sub.HELP and allowed and caller.channel not in allowed:
            where = ", ".join(f"<#{c}>" for c in allowed)
            reason = f"habot only takes commands in {where}. Run it there."
        elif role := missing_role(parsed.sub, caller.roles):
            have = ", ".join(sorted(caller.roles)) or "none"
            reason = (
                f"`{self._command} {parsed.sub.value}` needs the *{role}* role; your roles: "
                f"{have}. Ask an admin to add you (or a user group you are in) to "
                f"`[roles] {role}s`."
            )
        else:
            return None
        await self._record("refused", caller, parsed, "refused", {"reason": reason})
        return text_message(f":no_entry: {reason}")

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

    def _slow_down(self, wait: timedelta) -> Message:
        seconds = max(1, math.ceil(wait.total_seconds()))
        return text_message(
            f":hourglass: That is more than {self._limit.per_minute} `{self._command}` "
            "commands from you in a minute, so this one was not run: habot spares the "
            f"appliances during an incident. Try again in {seconds}s — a status card already "
            "in the channel shows how old its reading is."
        )

    async def _help(self, caller: Caller, parsed: ParsedCommand) -> Message:
        allowed = [sub for sub in Sub if missing_role(sub, caller.roles) is None]
        return help_message(self._command, allowed, NOT_YET)

    def _elapsed_ms(self, started: datetime) -> int:
        return int((self._clock() - started).total_seconds() * 1000)

    async def _read_status(self, caller: Caller, parsed: ParsedCommand) -> Message:
        started = self._clock()
        statuses = await self._status.read(parsed.pair)
        duration = self._elapsed_ms(started)
        ids = [await self._readings.put(s) for s in statuses]
        for s in statuses:
            await self._audit.append(
                AuditEvent(
                    kind="status",
                    actor=caller.user,
                    outcome=s.verdict.value,
                    at=self._clock(),
                    pair=s.pair,
                    channel=caller.channel,
                    duration_ms=duration,
                    detail={"primary": s.primary.state.value, "secondary": s.secondary.state.value},
                )
            )
        mutes = await self._mutes([s.pair for s in statuses])
        return status_message(statuses, self._clock(), ids, mutes)

    async def _logs(self, caller: Caller, parsed: ParsedCommand) -> Message:
        assert parsed.pair is not None, "the grammar requires a pair for logs"
        assert parsed.node is not None
        assert parsed.count is not None
        pair = self._settings.pair(parsed.pair)
        address = pair.address(parsed.node)
        path = pair.decluster_log_path if parsed.log is LogKind.DECLUSTER else pair.log_path
        command = tail_log(path, parsed.count)
        started = self._clock()
        try:
            result = await self._runner.run(
                address, command, time_limit=self._settings.ssh.status_timeout
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
            return text_message(
                f":x: Could not read the log on {pair.name} {parsed.node} ({address}): "
                f"{escape(exc.detail)}"
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
        return logs_message(
            pair.name, parsed.node.value, str(address), parsed.count, result.output, parsed.log
        )

    async def _history(self, caller: Caller, parsed: ParsedCommand) -> Message:
        assert parsed.count is not None, "the grammar fills the count for history"
        records = await self._audit.recent(parsed.count, parsed.pair)
        return history_message(parsed.pair, records)
