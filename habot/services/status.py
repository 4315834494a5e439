"""Reading status: both nodes of a pair in parallel, all pairs in parallel, judged truthfully."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from habot.config import PairSettings, Settings
from habot.core.addresses import NodeAddress
from habot.core.catalogue import HaCommand, ha_command
from habot.core.model import Role
from habot.core.patterns import Patterns
from habot.core.results import CommandResult
from habot.core.status_parser import parse_status
from habot.core.verdict import NodeReading, PairStatus, judge_pair
from habot.errors import NodeError
from habot.services.ports import Clock, CommandRunner

log = logging.getLogger(__name__)
_STATUS = ha_command(HaCommand.STATUS)


class StatusService:
    """Asks nodes for ``ha-status`` and judges pairs; one node's failure never hides another's.

    Readings are shared: every caller wanting a node's status while one ``ha-status`` is in
    flight on it waits for that one, so a burst of ``/ha status`` costs the appliance one
    command per node, not one per request. Viewers (``read``) also take a reading younger
    than ``[ssh] fresh_for``; operations (``read_pair``) only one started after they asked.
    """

    def __init__(
        self,
        settings: Settings,
        runner: CommandRunner,
        clock: Clock,
        *,
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._runner = runner
        self._clock = clock
        self._ticks = ticks
        self._latest: dict[NodeAddress, _Flight] = {}
        self._judged: dict[str, tuple[_Flight, _Flight, PairStatus]] = {}

    def select(self, which: str | None) -> tuple[PairSettings, ...]:
        """The pairs named by a user's argument: one name, or "all"/nothing for every pair."""
        if which in (None, "", "all"):
            return self._settings.pairs
        return (self._settings.pair(which),)

    async def read(self, which: str | None = None) -> list[PairStatus]:
        """Read the selected pairs in parallel, in configuration order, for a viewer: a
        reading younger than ``fresh_for`` (or one in flight) serves again."""
        pairs = self.select(which)
        return list(await asyncio.gather(*(self._read_pair(pair, None) for pair in pairs)))

    async def read_pair(self, pair: PairSettings) -> PairStatus:
        """Read both nodes of a pair and judge it, from readings started after this call
        (what an operation decides on: never an older reading)."""
        return await self._read_pair(pair, self._ticks())

    async def _read_pair(self, pair: PairSettings, since: float | None) -> PairStatus:
        primary = self._flight(pair, Role.PRIMARY, since)
        secondary = self._flight(pair, Role.SECONDARY, since)
        # shielded: one caller giving up (a timeout, a cancelled request) cancels no one else
        await asyncio.shield(asyncio.gather(primary.reading, secondary.reading))
        return self._judge(pair, primary, secondary)

    def _judge(self, pair: PairSettings, primary: _Flight, secondary: _Flight) -> PairStatus:
        """The pair judged from these two readings — the very same object for everyone
        who shared them (so it is kept, stored and rendered once, not once per request)."""
        last = self._judged.get(pair.name)
        if last is not None and last[0] is primary and last[1] is secondary:
            return last[2]
        status = judge_pair(
            pair.name, primary.reading.result(), secondary.reading.result(), pair.floating_ip
        )
        self._judged[pair.name] = (primary, secondary, status)
        return status

    def _flight(self, pair: PairSettings, role: Role, since: float | None) -> _Flight:
        """The node's latest reading when it serves: one started at or after ``since``, or —
        for a viewer (``since`` None: any in flight, or one within ``fresh_for``) — else a
        new one."""
        address = pair.address(role)
        flight = self._latest.get(address)
        if flight is None or not self._serves(flight, since):
            reading = self.read_node(pair, role, urgent=since is not None)
            flight = _Flight(self._ticks(), asyncio.ensure_future(reading))
            self._latest[address] = flight
        return flight

    def _serves(self, flight: _Flight, since: float | None) -> bool:
        if since is not None:
            return flight.started >= since
        if not flight.reading.done():
            return True
        return self._ticks() - flight.started <= self._settings.ssh.fresh_for.total_seconds()

    async def read_node(self, pair: PairSettings, role: Role, urgent: bool = False) -> NodeReading:
        """One node's reading; failures become an unreachable/unknown reading with a reason.
        ``urgent``: an operation's, served before viewers' readings waiting on the node."""
        address = pair.address(role)
        where = str(address)
        try:
            result = await self._runner.run(
                address, _STATUS, time_limit=self._settings.ssh.status_timeout, urgent=urgent
            )
        except NodeError as exc:
            log.info("status of %s %s: %s", pair.name, role, exc)  # shown in the result
            return NodeReading(role, where, self._clock(), error=exc.detail, reachable=exc.reached)
        except Exception as exc:  # a bug must not hide the other nodes' readings
            log.exception("status of %s %s failed unexpectedly", pair.name, role)
            return NodeReading(role, where, self._clock(), error=f"internal error: {exc!r}")
        return node_reading(role, where, self._clock(), result, self._settings.patterns(pair))


def node_reading(
    role: Role, where: str, now: datetime, result: CommandResult, patterns: Patterns
) -> NodeReading:
    """What one ha-status run says of its node (the poll's rule, and habot probe's)."""
    report = parse_status(result.output, patterns)
    error = result.failure
    if result.truncated:  # a reading cut short is not trusted, whatever it parsed to
        report = replace(report, parsed=False)
        error = "ha-status output was over the size limit and truncated"
    return NodeReading(role, where, now, report=report, error=error, offered=result.offered)


@dataclass(frozen=True)
class _Flight:
    """One ha-status on one node: when it started (monotonic) and its reading to come."""

    started: float
    reading: asyncio.Future[NodeReading]
