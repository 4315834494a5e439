"""Who PagerDuty has on call now: its REST API's ``GET /oncalls`` (API version 2, header
``Authorization: Token token=…``), for ``[paging] oncall_schedules``, each person matched
to a Slack user by email. Cached for a minute; a failed lookup is said, never raised (the
configured level 1 is asked instead). The token is read when needed and never logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

from habot.core.oncall import OnCall, parse_oncalls

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=10)
ACCEPT = "application/vnd.pagerduty+json;version=2"
CACHE_FOR = 60.0  # seconds an answer is used before PagerDuty is asked again
RETRY_AFTER_FAILURE = 10.0  # seconds a failed lookup is remembered
MAX_PAGES = 10  # of 100 entries each
_SAID = {401: "PagerDuty refused the token (pagerduty_api_token)", 403: "the token may not "
         "read on-calls", 429: "PagerDuty's rate limit"}  # fmt: skip


class PagerDutyOnCall:
    """The OnCallLookup port over PagerDuty's REST API and Slack's users by email."""

    def __init__(
        self,
        *,
        api_url: str,
        schedules: Sequence[str],
        token: Callable[[], str | None],
        slack_user: Callable[[str], Awaitable[str | None]],
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = api_url.rstrip("/") + "/oncalls"
        self._schedules = tuple(schedules)
        self._token = token
        self._slack_user = slack_user
        self._ticks = ticks
        self._cached: tuple[float, OnCall] | None = None

    async def now(self) -> OnCall:
        """Who is on call now, as Slack users (cached), or why it is not known."""
        at = self._ticks()
        if self._cached is not None:
            fetched, answer = self._cached
            keep = RETRY_AFTER_FAILURE if answer.failure else CACHE_FOR
            if at - fetched < keep:
                return answer
        answer = await self._look_up()
        if answer.failure:
            log.warning("PagerDuty on-call lookup failed: %s", answer.failure)
        self._cached = (at, answer)
        return answer

    async def _look_up(self) -> OnCall:
        token = self._token()
        if not token:
            return OnCall(failure="no pagerduty_api_token in the keyring or environment")
        people: list[str] = []
        headers = {"Authorization": f"Token token={token}", "Accept": ACCEPT}
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT, headers=headers) as session:
                for page in range(MAX_PAGES):
                    found, more = await self._page(session, page * 100)
                    people += found
                    if not more:
                        break
        except _Refused as refused:
            return OnCall(failure=str(refused))
        except (aiohttp.ClientError, TimeoutError) as exc:
            return OnCall(failure=f"PagerDuty did not answer ({type(exc).__name__})")
        users = [await self._slack_user(p) if "@" in p else None for p in dict.fromkeys(people)]
        return OnCall(frozenset(u for u in users if u))

    async def _page(self, session: aiohttp.ClientSession, offset: int) -> tuple[list[str], bool]:
        params = [("schedule_ids[]", s) for s in self._schedules] + [
            ("include[]", "users"), ("earliest", "true"), ("limit", "100"),
            ("offset", str(offset)),
        ]  # fmt: skip
        async with session.get(self._url, params=params) as response:
            if response.status != 200:
                raise _Refused(
                    _SAID.get(response.status, f"PagerDuty answered HTTP {response.status}")
                )
            try:
                parsed = parse_oncalls(await response.json(content_type=None))
            except (ValueError, aiohttp.ContentTypeError) as exc:
                raise _Refused(f"an answer habot could not read: {exc}") from None
        return list(parsed.people), parsed.more


class _Refused(Exception):
    """PagerDuty answered, but not with on-calls."""
