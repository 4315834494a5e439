"""Change freezes: typed in (`/ha freeze`, `habot freeze`), lifted early, audited; and the
one question the other services ask — which freeze holds a pair now."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from habot.core.asks import FreezeRequest
from habot.core.audit import AuditEvent
from habot.core.freeze import Freeze, Window, covering, windows_holding
from habot.core.replies import Code, Person, Reply, When, say
from habot.services.ports import Caller, Clock, Freezes

UTC_ZONE = ZoneInfo("UTC")


class FreezeService:
    """Freezes over the Freezes store."""

    def __init__(
        self,
        store: Freezes,
        clock: Clock,
        command: str = "/ha",
        windows: Sequence[Window] = (),
        zone: ZoneInfo = UTC_ZONE,
    ) -> None:
        self._store = store
        self._clock = clock
        self._command = command
        self._windows = tuple(windows)
        self._zone = zone

    async def holding(self, pair: str, at: datetime | None = None) -> Freeze | None:
        """The freeze holding ``pair`` now (or at ``at``, as known now) — typed in, or a
        configured window — the longest, when several do; or None."""
        return (await self.holding_each([pair], at)).get(pair)

    async def holding_each(
        self, pairs: Sequence[str], at: datetime | None = None
    ) -> dict[str, Freeze]:
        """Each of ``pairs`` that a freeze holds now (or at ``at``), with that freeze (one
        read for all)."""
        when = at or self._clock()
        held = [*await self._store.holding(when), *windows_holding(self._windows, self._zone, when)]
        found = {pair: covering(held, pair, when) for pair in pairs}
        return {pair: freeze for pair, freeze in found.items() if freeze is not None}

    async def freeze(self, caller: Caller, ask: FreezeRequest) -> Reply:
        """Freeze the pairs until ``ask.ends_at``; told to the channel, audited."""
        now = self._clock()
        freeze = Freeze(secrets.token_hex(4), ask.pairs, now, ask.ends_at, ask.reason,
                        caller.user)  # fmt: skip
        said = AuditEvent(
            kind="frozen", actor=caller.user, outcome="frozen", at=now,
            pair=None if freeze.scope == "every pair" else ask.pairs[0], channel=caller.channel,
            detail={"freeze": freeze.id, "pairs": list(ask.pairs),
                    "until": ask.ends_at.isoformat(), "reason": ask.reason},
        )  # fmt: skip
        await self._store.add(freeze, said)
        scope = "Every pair" if freeze.scope == "every pair" else freeze.scope
        return say(
            f"{scope} frozen until ", When(ask.ends_at), " by ", Person(caller.user),
            f": {ask.reason}. "
            "Planned operations are refused until then (a failover for a Primary that is "
            "really down still needs its typed reason); ",
            Code(f"{self._command} unfreeze {ask.pairs[0]}"), " lifts it.",
            in_channel=True,
        )  # fmt: skip

    async def unfreeze(self, caller: Caller, scope: tuple[str, ...]) -> Reply:
        """Lift the freezes over ``scope`` now; audited."""
        now = self._clock()
        said = AuditEvent(
            kind="unfrozen", actor=caller.user, outcome="unfrozen", at=now,
            pair=None if scope == ("all",) else scope[0], channel=caller.channel,
            detail={"pairs": list(scope)},
        )  # fmt: skip
        lifted = await self._store.lift(scope, caller.user, now, said)
        if not lifted:
            configured = windows_holding(self._windows, self._zone, now)
            if held := covering(configured, scope[0], now) if scope != ("all",) else None:
                return say(
                    f"{scope[0]} is frozen by the configuration until ", When(held.ends_at),
                    f" ({held.reason}); such a freeze ends on its own — or change [[freeze]].",
                )  # fmt: skip
            return say(f"No typed freeze holds {scope[0]} now; nothing was lifted.")
        return say(
            f"Freeze lifted on {', '.join(f.scope for f in lifted)} by ",
            Person(caller.user), ". Planned operations may be asked for again.", in_channel=True,
        )  # fmt: skip
