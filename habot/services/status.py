"""Reading status: both nodes of a pair in parallel, all pairs in parallel, judged truthfully."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from habot.config import PairSettings, Settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import Role
from habot.core.status_parser import parse_status
from habot.core.verdict import NodeReading, PairStatus, judge_pair
from habot.errors import NodeError
from habot.services.ports import Clock, CommandRunner

log = logging.getLogger(__name__)
_STATUS = ha_command(HaCommand.STATUS)


class StatusService:
    """Asks nodes for ``ha-status`` and judges pairs; one node's failure never hides another's."""

    def __init__(self, settings: Settings, runner: CommandRunner, clock: Clock) -> None:
        self._settings = settings
        self._runner = runner
        self._clock = clock

    def select(self, which: str | None) -> tuple[PairSettings, ...]:
        """The pairs named by a user's argument: one name, or "all"/nothing for every pair."""
        if which in (None, "", "all"):
            return self._settings.pairs
        return (self._settings.pair(which),)

    async def read(self, which: str | None = None) -> list[PairStatus]:
        """Read the selected pairs in parallel, in configuration order."""
        pairs = self.select(which)
        return list(await asyncio.gather(*(self.read_pair(pair) for pair in pairs)))

    async def read_pair(self, pair: PairSettings) -> PairStatus:
        """Read both nodes of a pair in parallel and judge the pair."""
        primary, secondary = await asyncio.gather(
            self.read_node(pair, Role.PRIMARY), self.read_node(pair, Role.SECONDARY)
        )
        return judge_pair(pair.name, primary, secondary, pair.floating_ip)

    async def read_node(self, pair: PairSettings, role: Role) -> NodeReading:
        """One node's reading; failures become an unreachable/unknown reading with a reason."""
        address = pair.address(role)
        where = str(address)
        try:
            result = await self._runner.run(
                address, _STATUS, time_limit=self._settings.ssh.status_timeout
            )
        except NodeError as exc:
            log.info("status of %s %s: %s", pair.name, role, exc)  # shown in the result
            return NodeReading(role, where, self._clock(), error=exc.detail, reachable=exc.reached)
        except Exception as exc:  # a bug must not hide the other nodes' readings
            log.exception("status of %s %s failed unexpectedly", pair.name, role)
            return NodeReading(role, where, self._clock(), error=f"internal error: {exc!r}")
        report = parse_status(result.output)
        error = result.failure
        if result.truncated:  # a reading cut short is not trusted, whatever it parsed to
            report = replace(report, parsed=False)
            error = "ha-status output was over the size limit and truncated"
        return NodeReading(
            role, where, self._clock(), report=report, error=error, offered=result.offered
        )
