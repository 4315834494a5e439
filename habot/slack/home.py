"""The Home port on Slack: roles from the directory, views through views.publish."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from habot.core.roles import Access
from habot.slack.directory import GroupDirectory

log = logging.getLogger(__name__)


class SlackHome:
    """Publishes a user's Home tab; a failure is logged (the next change publishes again)."""

    def __init__(self, client: AsyncWebClient, directory: GroupDirectory) -> None:
        self._client = client
        self._directory = directory

    async def roles_of(self, user: str) -> frozenset[Access]:
        """The user's roles."""
        return await self._directory.roles_of(user)

    async def publish(self, user: str, view: dict[str, Any]) -> None:
        """views.publish."""
        try:
            await self._client.views_publish(user_id=user, view=view)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("publishing the Home of %s failed: %s", user, type(exc).__name__)
