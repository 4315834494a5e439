"""What the benchmarks share: figures (percentiles, ratios, one printed row each) and
signed requests to a running bot. Nothing here asserts: a target missed is said, not
failed."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.kit.botproc import CHANNEL, ROLES, SECRET, Bot
from tests.kit.fakeslack import FakeSlack, form_body, signed_headers, slash_command

# No per-person limit: a burst from many people is answered, never refused as too many.
UNLIMITED = ROLES.replace('command = "/ha"', 'command = "/ha"\ncommands_per_minute = 10000')

#: The bot's own default (the test configs turn reuse of finished readings off).
DEFAULT_FRESH = {"fresh_for": "2s"}


def percentile(samples: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) of the samples, by nearest rank."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class Target:
    """A target and whether a figure meets it: "≤ 1.3×" style, printed beside the figure."""

    words: str
    met: bool

    def __str__(self) -> str:
        return f"target {self.words}: {'met' if self.met else 'MISSED'}"


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a row."""
    return f"{seconds * 1e3:8.1f} ms"


def row(label: str, *figures: str) -> None:
    """One printed line of results."""
    print(f"  {label:<48} " + "   ".join(figures), flush=True)


def heading(title: str) -> None:
    """A benchmark's title line."""
    print(f"\n== {title}", flush=True)


def summary(samples: list[float]) -> str:
    """p50 and p99 of samples (seconds) as milliseconds."""
    return f"p50 {ms(percentile(samples, 50))}   p99 {ms(percentile(samples, 99))}"


def median(samples: list[float]) -> float:
    """The median."""
    return statistics.median(samples)


async def post_command(
    session: aiohttp.ClientSession, url: str, fake: FakeSlack, text: str, user: str
) -> tuple[int, str]:
    """One signed `/ha TEXT` from ``user``: the HTTP status and the response_url's id."""
    response_url, rid = fake.response_url()
    body = form_body(slash_command(text, user, CHANNEL, response_url))
    async with session.post(url, data=body.encode(), headers=signed_headers(SECRET, body)) as r:
        await r.read()
        return r.status, rid


async def asked(
    session: aiohttp.ClientSession, url: str, fake: FakeSlack, text: str, user: str
) -> float:
    """Seconds from sending one command to its reply."""
    start = time.perf_counter()
    status, rid = await post_command(session, url, fake, text, user)
    assert status == 200, status
    await answer(fake, rid)
    return time.perf_counter() - start


async def answer(fake: FakeSlack, rid: str) -> str:
    """The reply posted to a response_url, as text."""
    return json.dumps((await fake.response(rid))["blocks"])


def cpu_seconds(bot: Bot) -> float:
    """CPU time (user + system) the bot process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{bot.process.pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1]
    utime, stime = fields.split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


async def timed(rounds: int, action: Callable[[], Awaitable[object]]) -> list[float]:
    """Seconds each of ``rounds`` runs of ``action`` took."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - start)
    return samples
