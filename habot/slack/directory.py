"""User-group membership from Slack (usergroups.users.list), cached."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from habot.core.roles import Access, RolePolicy

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    members: frozenset[str]
    fetched: float


class GroupDirectory:
    """Resolves a user's roles; group members are cached for ``ttl`` seconds."""

    def __init__(
        self,
        client: AsyncWebClient,
        policy: RolePolicy,
        *,
        ttl: float = 300,
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._policy = policy
        #: A local cache's age: monotonic, so a wall clock stepped back cannot keep a
        #: removed approver's membership for the length of the step.
        self._ticks = ticks
        self._ttl = ttl
        self._cache: dict[str, _Entry] = {}
        self._fetching: dict[str, asyncio.Future[frozenset[str]]] = {}
        self._by_email: dict[str, tuple[str | None, float]] = {}
        self._names: dict[str, tuple[str | None, float]] = {}
        self._zones: dict[str, tuple[str | None, float]] = {}

    async def roles_of(self, user: str) -> frozenset[Access]:
        """The user's roles, looking up only the groups the policy names."""
        groups = [g for g in sorted(self._policy.groups()) if user in await self._members(g)]
        return self._policy.roles_of(user, groups)

    async def who_can_approve(self) -> frozenset[str] | None:
        """Every user holding the approver role: the users named, and the members of the
        user groups named (cached as for roles); None when everyone ("*") may approve."""
        named = self._policy.listed(Access.APPROVER)
        if "*" in named:
            return None
        return await self.members(named)

    async def members(self, entries: Iterable[str]) -> frozenset[str]:
        """The users named, and the members of the user groups named (cached as for roles)."""
        named = set(entries)
        users = {n for n in named if not n.startswith("S")}
        for group in sorted(named - users):
            users |= await self._members(group)
        return frozenset(users)

    async def user_by_email(self, email: str) -> str | None:
        """The Slack user with this email (users.lookupByEmail, needs users:read.email;
        cached as for roles), or None when there is none or Slack cannot say."""

        async def ask() -> str | None:
            user = (await self._client.users_lookupByEmail(email=email)).get("user") or {}
            return str(user["id"]) if user.get("id") else None

        return await self._looked_up(self._by_email, email, ask, "users.lookupByEmail",
                                     none_found="users_not_found")  # fmt: skip

    async def zone_of(self, user: str) -> str | None:
        """The user's own time zone as Slack has it (users.info ``tz``, needs users:read;
        cached as for roles), or None when Slack cannot say."""

        async def ask() -> str | None:
            tz = ((await self._client.users_info(user=user)).get("user") or {}).get("tz")
            return str(tz) if tz else None

        return await self._looked_up(self._zones, user, ask, "users.info")

    async def name_of(self, user: str) -> str | None:
        """The name Slack shows for the user (their display name, else their full name;
        users.info, needs users:read; cached as for roles), or None when it cannot say."""

        async def ask() -> str | None:
            profile = ((await self._client.users_info(user=user)).get("user") or {}).get(
                "profile"
            ) or {}
            name = profile.get("display_name") or profile.get("real_name")
            return str(name) if name else None

        return await self._looked_up(self._names, user, ask, "users.info")

    async def _looked_up(
        self,
        cache: dict[str, tuple[str | None, float]],
        key: str,
        ask: Callable[[], Awaitable[str | None]],
        method: str,
        none_found: str | None = None,
    ) -> str | None:
        """One Slack lookup, cached for ``ttl``: an answer (Slack's ``none_found`` error is
        one: there is none) is kept; a failure keeps what was known, caching nothing."""
        now = self._ticks()
        known = cache.get(key)
        if known and now - known[1] < self._ttl:
            return known[0]
        try:
            found = await ask()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("%s failed: %s", method, _why(exc))
            if none_found is None or not (
                isinstance(exc, SlackApiError) and _error(exc) == none_found
            ):
                return known[0] if known else None  # not an answer: nothing cached
            found = None
        cache[key] = (found, now)
        return found

    async def _members(self, group: str) -> frozenset[str]:
        now = self._ticks()
        entry = self._cache.get(group)
        if entry and now - entry.fetched < self._ttl:
            return entry.members
        # Everyone asking while the list is being fetched shares that one call: a burst of
        # commands must not become a burst of usergroups.users.list (Slack's Tier 2).
        fetching = self._fetching.get(group)
        if fetching is None or fetching.done():
            fetching = asyncio.ensure_future(self._fetch(group, entry, now))
            self._fetching[group] = fetching
        return await asyncio.shield(fetching)

    async def _fetch(self, group: str, entry: _Entry | None, now: float) -> frozenset[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
            members = frozenset(response.get("users") or [])
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            # Fail closed: without an answer nobody gets the group's roles, but a stale
            # answer we already had is better than locking everyone out mid-incident.
            log.warning("usergroups.users.list %s failed: %s", group, _why(exc))
            return entry.members if entry else frozenset()
        self._cache[group] = _Entry(members, now)
        return members


def _error(exc: SlackApiError) -> str | None:
    data = exc.response.data
    return str(data.get("error")) if isinstance(data, dict) else None


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        data = exc.response.data
        error = data.get("error") if isinstance(data, dict) else None
        return f"HTTP {exc.response.status_code} {error or ''}".strip()
    return type(exc).__name__
