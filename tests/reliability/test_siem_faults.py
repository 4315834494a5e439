"""The SIEM goes away in the middle of an operation: Debian's rsyslog stopped for 30 s
while a switchover is approved and runs, then started again. The bot runs as a process."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from habot.sim.simulator import Simulator
from tests.kit.fakeslack import FakeSlack
from tests.kit.metrics import gauge_becomes, scrape, value
from tests.kit.rsyslog import running_rsyslog
from tests.kit.slack import (
    CONFIG,
    LEAD,
    ask,
    audit_export,
    cards,
    click,
    outcome_told,
    runs,
    started,
)
from tests.reliability.conftest import Ledger, Row

OUTAGE = 30.0  # seconds rsyslog is down


async def test_a_siem_down_for_30_s_mid_operation_loses_no_event(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Every audit event reaches rsyslog once it is back — none lost; any event sent
    twice is the same event (same sequence number, same hash), so a SIEM drops it; the
    failures are counted and the backlog drains to 0."""
    row = ledger.add(Row("SIEM (rsyslog) stopped 30 s mid-operation", "every event; dups by seq"))
    async with running_rsyslog(tmp_path / "rsyslog") as rsyslog:
        extra = CONFIG + f'\n[siem]\ntarget = "tcp://127.0.0.1:{rsyslog.plain}"\n'
        bot = await started(sim, fake, tmp_path, extra=extra)
        try:
            await ask(bot, fake, "switchover prod")
            await rsyslog.wait_for(1)  # the request's event: the forwarder is sending
            await rsyslog.stop()
            stopped = time.monotonic()
            row.injected = 1
            await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
            assert "succeeded" in await outcome_told(fake, "switchover", "prod")
            row.operations = len(runs(sim))
            await asyncio.sleep(max(OUTAGE - (time.monotonic() - stopped), 0))
            await rsyslog.start()
            head = max(json.loads(line)["seq"] for line in (await audit_export(bot)).splitlines())
            got = await rsyslog.wait_for(head, within=60)
            samples = await scrape(bot)
            assert await gauge_becomes(bot, "habot_siem_backlog", 0.0)
        finally:
            await bot.stop()
    seqs = [m.seq for m in got]
    assert set(range(1, head + 1)) <= set(seqs)  # none lost
    row.lost = len(set(range(1, head + 1)) - set(seqs))
    copies: dict[int, set[str]] = {}
    for m in got:
        copies.setdefault(m.seq, set()).add(m.hash)
    assert all(len(hashes) == 1 for hashes in copies.values())  # a duplicate is the same event
    firsts = list(dict.fromkeys(seqs))
    assert firsts == sorted(firsts)  # first arrivals in chain order
    assert value(samples, "habot_siem_failures_total") > 0
    assert runs(sim) == [["primary", "ha-failover"]]
    row.duplicated = len(runs(sim)) - 1
