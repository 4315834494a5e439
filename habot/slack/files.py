"""Long output as a file in the requester's direct messages with habot (Slack's external
upload flow: files.getUploadURLExternal → the bytes → files.completeUploadExternal)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from habot.core.budget import Attachment
from habot.services.ports import NoTelemetry, Telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filed:
    """Where a file went (a link), or why it could not be sent."""

    link: str | None = None
    error: str | None = None


class FileSender:
    """Sends one person a file in their direct messages with habot (``im:write`` opens the
    conversation, ``files:write`` uploads). Output asked for privately stays private."""

    def __init__(self, client: AsyncWebClient, telemetry: Telemetry | None = None) -> None:
        self._client = client
        self._telemetry = telemetry or NoTelemetry()

    async def to_person(self, user: str, file: Attachment) -> Filed:
        """Upload ``file`` into the user's DM with habot; never raises for Slack's errors."""
        return await self._upload(user, file, None)

    async def to_thread(self, channel: str, ts: str, user: str, file: Attachment) -> Filed:
        """Upload ``file`` into the thread of the message at ``ts`` (for everyone in the
        channel: an incident's timeline); never raises for Slack's errors."""
        return await self._upload(user, file, (channel, ts))

    async def _upload(self, user: str, file: Attachment, thread: tuple[str, str] | None) -> Filed:
        started = time.monotonic()
        try:
            if thread is None:
                opened = await self._client.conversations_open(users=user)
                dm, ts = str((opened.get("channel") or {}).get("id", "")), None
            else:
                dm, ts = thread
            done = await self._client.files_upload_v2(
                channel=dm,
                thread_ts=ts,
                filename=file.filename,
                title=file.title,
                content=file.content,
                snippet_type="text",
            )
        except SlackApiError as exc:
            data = exc.response.data
            error = data.get("error") if isinstance(data, dict) else None
            log.warning("a file for %s was not sent: Slack said %s", user, error)
            return Filed(error=str(error or f"http_{exc.response.status_code}"))
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("a file for %s was not sent: %s", user, type(exc).__name__)
            return Filed(error=type(exc).__name__)
        finally:
            self._telemetry.took("slack", time.monotonic() - started, "files.upload")
        shared = done.get("file") or {}
        link = shared.get("permalink") if isinstance(shared, dict) else None
        return Filed(link=str(link or f"https://slack.com/app_redirect?channel={dm}"))
