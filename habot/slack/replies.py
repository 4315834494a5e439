"""Answers posted to Slack's ``response_url``, over one kept-alive HTTP session.

Bolt's ``respond`` opens a new HTTP session — and a new connection — for every answer;
under a burst of commands that was the largest part of the bot's CPU time per request
(benches/bench_burst.py). One session, closed with the app, reuses its connections.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=10)


class Replies:
    """Posts answers to response URLs; use as ``async with Replies() as replies``."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Replies:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, url: str, body: dict[str, Any]) -> bool:
        """Post one answer; False (logged once, without the URL — it carries a token) when
        Slack did not take it."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.post(url, json=body) as response:
                await response.read()
                if response.status == 200:
                    return True
                log.warning("Slack refused an answer: HTTP %s", response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not post an answer to Slack: %s", type(exc).__name__)
        return False
