"""The Notifier port on Slack's Web API: cards via chat.postMessage/chat.update."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from habot.core.blocks import Message

log = logging.getLogger(__name__)
_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)


class SlackNotifier:
    """Posts and updates approval cards; a Slack failure is logged, never raised into the
    operation (the audit log and the database stay the record of what happened)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def post_card(self, channel: str, message: Message) -> str | None:
        """chat.postMessage; the card's ts, or None if Slack refused."""
        try:
            response = await self._client.chat_postMessage(
                channel=channel, text=message.text, blocks=list(message.blocks)
            )
        except _FAILURES as exc:
            log.warning("posting a card to %s failed: %s", channel, type(exc).__name__)
            return None
        ts = response.get("ts")
        return str(ts) if ts else None

    async def update_card(self, channel: str, ts: str, message: Message) -> None:
        """chat.update in place."""
        try:
            await self._client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=list(message.blocks)
            )
        except _FAILURES as exc:
            log.warning("updating card %s failed: %s", ts, type(exc).__name__)

    async def thread(self, channel: str, ts: str, text: str) -> None:
        """A reply in the card's thread (progress)."""
        try:
            await self._client.chat_postMessage(channel=channel, thread_ts=ts, text=text)
        except _FAILURES as exc:
            log.warning("progress reply to %s failed: %s", ts, type(exc).__name__)

    async def tell(self, channel: str | None, user: str, text: str) -> None:
        """chat.postEphemeral to one user (in the request's channel)."""
        if channel is None:
            log.warning("no channel to tell %s in; message dropped", user)
            return
        try:
            await self._client.chat_postEphemeral(channel=channel, user=user, text=text)
        except _FAILURES as exc:
            log.warning("ephemeral message to %s failed: %s", user, type(exc).__name__)
