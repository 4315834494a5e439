"""The one message that bypasses the outbox: a secret, sent straight to one person."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SlackSecretTeller:
    """chat.postEphemeral at once; the text is never stored or logged."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def tell(self, channel: str, user: str, text: str) -> None:
        """Send once (the client's own retries cover rate limits and 5xx); log failures."""
        try:
            await self._client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("a private message to %s failed: %s", user, type(exc).__name__)
