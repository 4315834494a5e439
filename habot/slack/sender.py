"""The outbox's Sender on Slack's Web API (no rate-limit retries here: the outbox retries)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from habot.core.outbox import Attempt, MessageKind
from habot.services.ports import NoTelemetry, Telemetry

_METHOD = {
    MessageKind.POST: "chat.postMessage",
    MessageKind.REPLY: "chat.postMessage",
    MessageKind.UPDATE: "chat.update",
    MessageKind.EPHEMERAL: "chat.postEphemeral",
}


class SlackSender:
    """post → chat.postMessage, update → chat.update, reply → chat.postMessage in a
    thread, ephemeral → chat.postEphemeral."""

    def __init__(self, client: AsyncWebClient, telemetry: Telemetry | None = None) -> None:
        self._client = client
        self._telemetry = telemetry or NoTelemetry()

    async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        """Try once and describe the result (and how long Slack took)."""
        started = time.monotonic()
        try:
            return await self._send(kind, channel, payload)
        finally:
            self._telemetry.took("slack", time.monotonic() - started, _METHOD[kind])

    async def _send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        try:
            if kind == MessageKind.UPDATE:
                response = await self._client.chat_update(channel=channel, **payload)
            elif kind == MessageKind.EPHEMERAL:
                response = await self._client.chat_postEphemeral(channel=channel, **payload)
            else:
                response = await self._client.chat_postMessage(channel=channel, **payload)
        except SlackApiError as exc:
            data = exc.response.data
            error = data.get("error") if isinstance(data, dict) else None
            retry = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            return Attempt(
                False,
                error=error or f"http_{exc.response.status_code}",
                retry_after=float(retry) if retry is not None else None,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Attempt(False, error=type(exc).__name__)
        ts = response.get("ts")
        return Attempt(True, ts=str(ts) if ts else None)
