"""One round of concurrent signed slash commands, timed in a process of its own (so the
fake Slack and the simulator, busy with the bot's answers, do not slow the stopwatch).

Run: python -m benches.loadgen EVENTS_URL RESPONSE_BASE COUNT USER_PREFIX
Prints one JSON list: each request's seconds to its HTTP 200.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import aiohttp

from tests.kit.botproc import CHANNEL, SECRET
from tests.kit.fakeslack import form_body, signed_headers, slash_command


async def one(session: aiohttp.ClientSession, url: str, base: str, user: str) -> float:
    """One `/ha status prod`; seconds to its HTTP 200."""
    body = form_body(slash_command("status prod", user, CHANNEL, base + uuid.uuid4().hex[:12]))
    start = time.perf_counter()
    async with session.post(url, data=body.encode(), headers=signed_headers(SECRET, body)) as r:
        await r.read()
        assert r.status == 200, r.status
    return time.perf_counter() - start


async def main() -> None:
    url, base, count, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    async with aiohttp.ClientSession() as session:
        users = [f"{prefix}{n:04d}" for n in range(count)]
        print(json.dumps(await asyncio.gather(*(one(session, url, base, u) for u in users))))


if __name__ == "__main__":
    asyncio.run(main())
