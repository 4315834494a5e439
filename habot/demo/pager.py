"""The demo's PagerDuty: an Events API v2 endpoint (``POST /pager/v2/enqueue``) that takes
the bot's pages as PagerDuty does (202 with the ``dedup_key``; 400 for an event it cannot
take) and keeps them for the page's pager pane — so a team can rehearse the 03:00 path
(power cut, page, escalation, break-glass, review) without a PagerDuty account."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

PATH = "/pager/v2/enqueue"
KEPT = 50  # the newest events the pane shows
_ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})


@dataclass(frozen=True)
class Received:
    """One event the demo's PagerDuty took."""

    at: float
    action: str
    key: str
    summary: str
    severity: str


@dataclass
class DemoPager:
    """The endpoint and what it received; ``on_event`` wakes the page."""

    routing_key: str = field(default_factory=lambda: secrets.token_hex(16))
    received: list[Received] = field(default_factory=list)
    #: Incidents as PagerDuty would show them: key → triggered / acknowledged / resolved.
    incidents: dict[str, str] = field(default_factory=dict)
    on_event: Callable[[], Awaitable[None]] | None = None

    def route(self, app: web.Application) -> None:
        """Serve the endpoint on the demo's server."""
        app.router.add_post(PATH, self._enqueue)

    def shown(self) -> list[dict[str, Any]]:
        """The newest events with their incident's state now, newest last (for the page)."""
        return [
            {**asdict(e), "incident": self.incidents.get(e.key, "")} for e in self.received[-KEPT:]
        ]

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _invalid("the body is not JSON")
        if not isinstance(body, dict):
            return _invalid("the body is not an event object")
        if not hmac.compare_digest(str(body.get("routing_key", "")), self.routing_key):
            return _invalid("routing_key is not this service's integration key")
        action, key = body.get("event_action"), str(body.get("dedup_key") or "")
        if action not in _ACTIONS or not key:
            return _invalid("event_action and dedup_key are required")
        payload = body.get("payload") or {}
        if action == "trigger" and not payload.get("summary"):
            return _invalid("a trigger needs payload.summary")
        summary = str(payload.get("summary") or "")
        self.received.append(
            Received(time.time(), str(action), key, summary, str(payload.get("severity", "")))
        )
        self.incidents[key] = {"trigger": "triggered", "acknowledge": "acknowledged",
                               "resolve": "resolved"}[str(action)]  # fmt: skip
        if self.on_event is not None:
            await self.on_event()
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )


def _invalid(why: str) -> web.Response:
    return web.json_response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": [why]},
        status=400,
    )
