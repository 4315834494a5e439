"""Pages over HTTP: PagerDuty's Events API v2 and Opsgenie's (Jira Service Management's)
Alert API, each a documented JSON POST. The key is read from the keyring or environment at
send time and never stored, logged or put in an error.

- PagerDuty: POST ``pagerduty_events_url`` with ``routing_key``, ``event_action`` (trigger,
  acknowledge, resolve), ``dedup_key`` and, for a trigger, ``payload`` (summary ≤ 1024
  characters, source, severity, custom_details) and ``links``. 202 means taken; 400 an
  invalid event (never retried); 429 and 5xx are retried.
- Opsgenie: POST ``{opsgenie_url}/v2/alerts`` (create, with ``alias``; message ≤ 130
  characters), ``/v2/alerts/{alias}/acknowledge`` and ``/close`` with
  ``identifierType=alias``; header ``Authorization: GenieKey …``. 202 means taken.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp

from habot.config import Settings
from habot.core.outbox import Attempt, MessageKind
from habot.core.paging import PRIORITY, Page, PageAction, Pager, pager_of
from habot.secrets import Secrets, pager_key_name
from habot.services.ports import NoTelemetry, Telemetry

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=15)  # well inside the outbox's claim on a message
#: What a paging tool's HTTP status means for the outbox (anything else: set aside).
_PERMANENT = {400: "invalid_event", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              413: "too_large", 422: "invalid_event"}  # fmt: skip


class PageSender:
    """The outbox's Sender for ``MessageKind.PAGE``: the channel names the pager (and,
    after an ``@``, the route: the approvers' service)."""

    def __init__(
        self,
        *,
        keys: Callable[[Pager, str | None], str | None],
        pagerduty_url: str,
        opsgenie_url: str,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._keys = keys
        self._pagerduty_url = pagerduty_url
        self._opsgenie_url = opsgenie_url.rstrip("/")
        self._telemetry = telemetry or NoTelemetry()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the kept-alive session (at shutdown)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        """Send one page; never raise for the paging tool's or the network's errors."""
        pager, page, route = pager_of(channel), Page.of(payload), channel.partition("@")[2]
        key = self._keys(pager, route or None)
        if not key:
            return Attempt(False, error="no_key")  # set aside: said in the alert's thread
        link = payload.get("link")
        started = time.monotonic()
        try:
            if pager is Pager.PAGERDUTY:
                attempt = await self._post(self._pagerduty_url, pagerduty_event(page, key, link))
            else:
                url, body = opsgenie_request(self._opsgenie_url, page, link)
                attempt = await self._post(url, body, {"Authorization": f"GenieKey {key}"})
        finally:
            self._telemetry.took("page", time.monotonic() - started, pager.value)
        self._telemetry.paged(pager.value, page.action.value, "sent" if attempt.ok else "failed")
        return attempt

    async def _post(
        self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Attempt:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.post(url, json=body, headers=headers or {}) as response:
                said = (await response.text())[:300]
                if response.status in (200, 201, 202):
                    return Attempt(True)
                retry = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Attempt(False, error=type(exc).__name__)
        error = _PERMANENT.get(response.status, f"http_{response.status}")
        log.warning("the paging tool refused a page: HTTP %s %s", response.status, said)
        return Attempt(False, error=error, retry_after=_seconds(retry))


def configured_sender(
    settings: Settings, secrets: Secrets, telemetry: Telemetry | None = None
) -> PageSender:
    """The PageSender the configuration asks for: its URLs, and each page's key looked up
    (keyring, then environment) when it is sent."""
    paging = settings.paging
    return PageSender(
        keys=lambda pager, route: secrets.get(
            pager_key_name(pager.value, paging.approvers_routing_key, route)
        ),
        pagerduty_url=paging.pagerduty_events_url,
        opsgenie_url=paging.opsgenie_url,
        telemetry=telemetry,
    )


def pagerduty_event(page: Page, routing_key: str, link: str | None) -> dict[str, Any]:
    """An Events API v2 event (a trigger carries the payload and the card's link)."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": page.action.value,
        "dedup_key": page.key,
    }
    if page.action is not PageAction.TRIGGER:
        return event
    event["payload"] = {
        "summary": page.summary[:1024],
        "source": f"habot: {page.pair}",
        "severity": page.severity.value,
        "component": page.pair,
        "group": "Osirium PAM HA",
        "class": page.details.get("verdict", "")[:100] or "habot",
        "custom_details": page.details,
    }
    event["client"] = "habot"
    if link:
        event["client_url"] = link
        event["links"] = [{"href": link, "text": "The alert card in Slack"}]
    return event


def opsgenie_request(base: str, page: Page, link: str | None) -> tuple[str, dict[str, Any]]:
    """The Alert API call for a page: create, acknowledge or close by alias."""
    alias = urllib.parse.quote(page.key, safe="")
    if page.action is PageAction.ACKNOWLEDGE:
        note = f"Acknowledged in Slack by {page.by}" if page.by else "Acknowledged in Slack"
        body = {"source": "habot", "user": page.by or "habot", "note": note}
        return f"{base}/v2/alerts/{alias}/acknowledge?identifierType=alias", body
    if page.action is PageAction.RESOLVE:
        body = {"source": "habot", "note": "The pair recovered (habot's readings)."}
        return f"{base}/v2/alerts/{alias}/close?identifierType=alias", body
    details = dict(page.details) | ({"slack": link} if link else {})
    description = "\n\n".join(f"{k}: {v}" for k, v in details.items())
    return f"{base}/v2/alerts", {
        "message": page.summary[:130],
        "alias": page.key,
        "description": description[:15000],
        "details": {k: v[:8000] for k, v in details.items()},
        "priority": PRIORITY[page.severity],
        "source": "habot",
        "entity": page.pair,
        "tags": ["habot", page.pair],
    }


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None
