"""When everyone types `/ha status` at once: `habot run --http` as a real process, the
simulator over real SSH, signed requests from the fake Slack. The appliance sees a few
readings, not one per request; everyone is answered truthfully; a person over the per-minute
limit is told so. (That no callback holds the event loop for 100 ms is a time: it is
measured in benches/bench_loop.py, not asserted here.)"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp

from habot.sim.simulator import Simulator
from tests.kit.botproc import CHANNEL, ROLES, SECRET, Bot, start_bot
from tests.kit.fakeslack import FakeSlack, form_body, signed_headers, slash_command


def status_runs(sim: Simulator, pair: str = "prod") -> int:
    """ha-status commands the simulated pair has answered so far."""
    return sum(1 for _, command in sim.pairs[pair].runs if command == "ha-status")


async def burst(bot: Bot, fake: FakeSlack, text: str, users: list[str]) -> list[str]:
    """One signed slash command per user, all at once; each reply's blocks as text."""
    rids = []
    async with aiohttp.ClientSession() as session:

        async def send(user: str) -> int:
            url, rid = fake.response_url()
            rids.append(rid)
            body = form_body(slash_command(text, user, CHANNEL, url))
            headers = signed_headers(SECRET, body)
            async with session.post(bot.events_url, data=body.encode(), headers=headers) as r:
                return r.status

        assert set(await asyncio.gather(*(send(u) for u in users))) == {200}
    return [json.dumps((await fake.response(rid))["blocks"]) for rid in rids]


async def test_a_burst_of_status_requests_costs_the_appliance_a_few_readings(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """300 people ask `/ha status prod` at once: every one is answered BAU, the nodes ran
    ha-status a handful of times (not 600), and `/ha status all` right after is answered."""
    bot = await start_bot(sim, fake, tmp_path, http=True, ssh={"fresh_for": "2s"})
    try:
        before = status_runs(sim)
        replies = await burst(bot, fake, "status prod", [f"U0VIEW{n:04d}" for n in range(300)])
        assert all("BAU" in reply for reply in replies)
        assert status_runs(sim) - before <= 12
        [everything] = await burst(bot, fake, "status all", ["U0VIEWLAST"])
        assert "*prod*" in everything
        assert "*dr*" in everything
    finally:
        log = await bot.stop()
    assert "timed out" not in log


async def test_a_person_over_the_limit_is_answered_politely_and_nothing_runs(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Three commands a minute: the fourth from the same person is refused with how long
    to wait, without reading the appliance; someone else is still answered."""
    limited = ROLES.replace('command = "/ha"', 'command = "/ha"\ncommands_per_minute = 3')
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=limited)
    try:
        for _ in range(3):
            [reply] = await burst(bot, fake, "status prod", ["U0EAGER"])
            assert "BAU" in reply
        before = status_runs(sim)
        [refused] = await burst(bot, fake, "status prod", ["U0EAGER"])
        assert "more than 3 `/ha` commands from you in a minute" in refused
        assert re.search(r"Try again in \d+s", refused)
        assert status_runs(sim) == before
        [other] = await burst(bot, fake, "status prod", ["U0CALM"])
        assert "BAU" in other
    finally:
        await bot.stop()
