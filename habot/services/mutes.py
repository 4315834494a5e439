"""Muting a pair's alerts for a while, and unmuting — from Slack or the command line, the
same rules and the same audit events either way."""

from __future__ import annotations

from datetime import datetime

from habot.core.asks import MuteRequest
from habot.core.audit import AuditEvent
from habot.core.replies import Person, Reply, Strong, Tone, When, say
from habot.services.ports import AlertStates, AuditLog, Caller, Clock


class Mutes:
    """Sets and clears mutes (each audited) and says which pairs are muted now."""

    def __init__(self, *, states: AlertStates, audit: AuditLog, clock: Clock) -> None:
        self._states = states
        self._audit = audit
        self._clock = clock

    async def mute(self, caller: Caller, ask: MuteRequest) -> Reply:
        """Mute the pair's alerts for the asked duration."""
        until = self._clock() + ask.duration
        await self._states.set_mute(ask.pair, until)
        detail: dict[str, object] = {
            "subcommand": "mute",
            "until": until.isoformat(),
            "reason": ask.reason,
        }
        await self._audit.append(self._event("muted", caller, ask.pair, detail))
        return say(
            "Alerts for ", Strong(ask.pair), " muted until ", When(until), " by ",
            Person(caller.user), f": {ask.reason}",
            tone=Tone.MUTED, in_channel=True,
        )  # fmt: skip

    async def unmute(self, caller: Caller, pair: str) -> Reply:
        """Alerts for the pair are on again."""
        await self._states.set_mute(pair, None)
        await self._audit.append(self._event("unmuted", caller, pair, {"subcommand": "unmute"}))
        return say(
            "Alerts for ", Strong(pair), " are on again (", Person(caller.user), ").",
            tone=Tone.UNMUTED, in_channel=True,
        )  # fmt: skip

    async def active(self, pairs: list[str]) -> dict[str, datetime]:
        """The pairs muted right now, and until when."""
        now = self._clock()
        found = {p: (await self._states.load(p))[0].muted_until for p in pairs}
        return {p: until for p, until in found.items() if until and until > now}

    def _event(self, kind: str, caller: Caller, pair: str, detail: dict[str, object]) -> AuditEvent:
        return AuditEvent(
            kind=kind,
            actor=caller.user,
            outcome=kind,
            at=self._clock(),
            pair=pair,
            channel=caller.channel,
            detail=detail,
        )
