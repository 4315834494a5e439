"""Reading /metrics from a running bot."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import defaultdict

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.kit.botproc import Bot

Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape(bot: Bot) -> Samples:
    """Every sample at /metrics, by name."""
    async with aiohttp.ClientSession() as session, session.get(bot.url("/metrics")) as resp:
        text = await resp.text()
    found: Samples = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append((dict(sample.labels), sample.value))
    return found


async def gauge_becomes(bot: Bot, series: str, wanted: float, within: float = 15) -> bool:
    """Whether the bot's /metrics shows ``series`` at ``wanted`` within ``within`` s."""
    name, _, labels = series.partition("{")
    expected = dict(re.findall(r'(\w+)="([^"]*)"', labels))
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(ValueError):  # no sample yet: the sweep has not run
            if value(await scrape(bot), name, **expected) == wanted:
                return True
        await asyncio.sleep(0.5)
    return False


def value(found: Samples, name: str, **labels: str) -> float:
    """The one sample of ``name`` with these labels."""
    [(_, got)] = [
        (ls, v) for ls, v in found[name] if all(ls.get(k) == w for k, w in labels.items())
    ]
    return got
