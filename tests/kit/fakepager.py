"""Fakes of PagerDuty's Events API v2 and Opsgenie's Alert API on 127.0.0.1.

Shaped from the vendors' public documentation:

- **PagerDuty Events API v2** (developer.pagerduty.com, "Send an Alert Event"; the
  api-schema repository's events-v2 OpenAPI document): ``POST /v2/enqueue`` with a JSON body
  of ``routing_key`` (the integration key, 32 characters), ``event_action`` (``trigger``,
  ``acknowledge`` or ``resolve``), ``dedup_key`` (at most 255 characters; required to
  acknowledge or resolve) and, for a trigger, ``payload`` with required ``summary`` (at most
  1024 characters), ``source`` and ``severity`` (``critical``, ``error``, ``warning``,
  ``info``) and optional ``component``, ``group``, ``class``, ``custom_details``; ``links``
  and ``client``/``client_url`` beside it. 202 ``{"status": "success", "message": "Event
  processed", "dedup_key": …}``; 400 ``{"status": "invalid event", "message": "Event object
  is invalid", "errors": [...]}``; 429 when over the rate limit; a trigger with the
  dedup_key of an open alert joins that alert (no new incident).
- **Opsgenie Alert API** (docs.opsgenie.com, "Alert API"): ``Authorization: GenieKey
  <key>``; ``POST /v2/alerts`` creates (``message`` required, at most 130 characters;
  ``alias`` at most 512, the de-duplication key; ``priority`` P1–P5); ``POST
  /v2/alerts/{identifier}/acknowledge`` and ``/close`` with ``identifierType=alias``. Every
  request is processed asynchronously: 202 ``{"result": "Request will be processed",
  "took": …, "requestId": …}``; 401 for a missing or bad key; 422/400 for an invalid body.
- **PagerDuty REST API, list on-calls** (developer.pagerduty.com, "List all of the
  on-calls"): ``GET /oncalls`` with ``Authorization: Token token=<token>`` and ``Accept:
  application/vnd.pagerduty+json;version=2``; filters ``schedule_ids[]`` (repeated),
  ``include[]=users`` (the full user, with ``email``, instead of a reference), ``earliest``
  (one entry per schedule, policy and level), ``limit``/``offset`` paging. 200 ``{"oncalls":
  [{"escalation_policy": {…}, "escalation_level": 1, "schedule": {"id", "type":
  "schedule_reference", …}, "user": {"id", "type": "user", "summary", "email", …}, "start",
  "end"}], "limit", "offset", "more", "total": null}``; 401 ``{"error": {"message":
  "Unauthorized", "code": 2006}}`` for a bad token; 429 over the rate limit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ROUTING_KEY = "0123456789abcdef0123456789abcdef"  # 32 characters, as PagerDuty's are
API_TOKEN = "y_NbAkKc66ryYTWUXYEu"  # a REST API key's shape (20 characters)
GENIE_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
_SEVERITIES = {"critical", "error", "warning", "info"}
_ACTIONS = {"trigger", "acknowledge", "resolve"}


@dataclass
class PagerEvent:
    """One event a fake took (202), in arrival order."""

    pager: str  # "pagerduty" or "opsgenie"
    action: str  # trigger / acknowledge / resolve (Opsgenie's create / close mapped)
    key: str
    body: dict[str, Any]


@dataclass
class FakePagers:
    """Both fakes on one port; start with ``await pagers.start()``."""

    events: list[PagerEvent] = field(default_factory=list)
    refused: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: HTTP statuses to answer the next requests with (429 or 5xx), whichever tool.
    fail_next: list[int] = field(default_factory=list)
    #: While set, every request waits here first (a paging tool that is down or slow).
    down: asyncio.Event | None = None
    #: Incidents as PagerDuty sees them: dedup_key → triggered / acknowledged / resolved.
    incidents: dict[str, str] = field(default_factory=dict)
    #: The REST API's on-call people: schedule id → (user id, name, email) in order.
    on_call: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    #: GET /oncalls requests as received (their query pairs).
    oncall_asks: list[list[tuple[str, str]]] = field(default_factory=list)
    page_size: int = 100  # the most entries one answer holds (PagerDuty's limit is 100)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def api_url(self) -> str:
        """The REST API's base URL on this fake."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pagerduty_url(self) -> str:
        """The Events API's enqueue URL on this fake."""
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    @property
    def opsgenie_url(self) -> str:
        """The Alert API's base URL on this fake."""
        return f"http://127.0.0.1:{self.port}"

    def of(self, pager: str, action: str | None = None) -> list[PagerEvent]:
        """The events one tool took (of one action)."""
        return [
            e for e in self.events if e.pager == pager and (action is None or e.action == action)
        ]

    async def wait_for(self, found: Callable[[], list[PagerEvent]]) -> list[PagerEvent]:
        """Wait (up to 30 s) until ``found()`` is not empty, and return it."""
        async with asyncio.timeout(30), self._changed:
            while not (got := found()):
                await self._changed.wait()
        return got

    async def _took(self, event: PagerEvent) -> None:
        self.events.append(event)
        async with self._changed:
            self._changed.notify_all()

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1 (a free port, or ``port`` again after a stop: the tool back
        after an outage)."""
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        app.router.add_post("/v2/alerts", self._create)
        app.router.add_post("/v2/alerts/{identifier}/{verb}", self._act)
        app.router.add_get("/oncalls", self._oncalls)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop serving (connections to it are refused from now on)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _injected(self) -> web.Response | None:
        if self.down is not None:
            await self.down.wait()
        if self.fail_next:
            status = self.fail_next.pop(0)
            return web.json_response({"message": "injected"}, status=status)
        return None

    async def _oncalls(self, request: web.Request) -> web.Response:
        query = list(request.query.items())
        self.oncall_asks.append(query)
        if (failed := await self._injected()) is not None:
            return failed
        if request.headers.get("Authorization") != f"Token token={API_TOKEN}":
            return web.json_response({"error": {"message": "Unauthorized", "code": 2006}},
                                     status=401)  # fmt: skip
        if request.headers.get("Accept") != "application/vnd.pagerduty+json;version=2":
            return web.json_response({"error": {"message": "Not Acceptable"}}, status=406)
        wanted = [v for k, v in query if k == "schedule_ids[]"] or list(self.on_call)
        full = ("include[]", "users") in query
        entries = [
            {
                "escalation_policy": {"id": "PPOLICY", "type": "escalation_policy_reference"},
                "escalation_level": 1,
                "schedule": {"id": schedule, "type": "schedule_reference"},
                "user": {"id": uid, "type": "user", "summary": name, "email": email}
                if full else {"id": uid, "type": "user_reference", "summary": name},
                "start": "2026-12-01T00:00:00Z",
                "end": "2026-12-08T00:00:00Z",
            }
            for schedule in wanted
            for uid, name, email in self.on_call.get(schedule, [])
        ]  # fmt: skip
        limit = min(int(request.query.get("limit", "25")), self.page_size)
        offset = int(request.query.get("offset", "0"))
        return web.json_response({
            "oncalls": entries[offset:offset + limit], "limit": limit, "offset": offset,
            "more": offset + limit < len(entries), "total": None,
        })  # fmt: skip

    async def _enqueue(self, request: web.Request) -> web.Response:
        if (failed := await self._injected()) is not None:
            return failed
        body = await request.json()
        errors = _pagerduty_problems(body)
        if errors:
            self.refused.append((400, body))
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid",
                 "errors": errors}, status=400,
            )  # fmt: skip
        action = body["event_action"]
        key = body.get("dedup_key") or uuid.uuid4().hex
        await self._took(PagerEvent("pagerduty", action, key, body))
        state = self.incidents.get(key)
        if action == "trigger" and state in (None, "resolved"):
            self.incidents[key] = "triggered"
        elif action == "acknowledge" and state == "triggered":
            self.incidents[key] = "acknowledged"
        elif action == "resolve" and state is not None:
            self.incidents[key] = "resolved"
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )

    def _genie(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"GenieKey {GENIE_KEY}":
            return web.json_response(
                {"message": "Key format is not valid!", "took": 0.0, "requestId": _rid()},
                status=401,
            )
        return None

    async def _create(self, request: web.Request) -> web.Response:
        if (failed := await self._injected() or self._genie(request)) is not None:
            return failed
        body = await request.json()
        message, alias = body.get("message"), body.get("alias", "")
        priority = body.get("priority", "P3")
        if not message or len(message) > 130 or len(alias) > 512 or priority not in _PRIORITIES:
            self.refused.append((422, body))
            return web.json_response({"message": "Request body is not processable"}, status=422)
        await self._took(PagerEvent("opsgenie", "trigger", alias, body))
        return _accepted()

    async def _act(self, request: web.Request) -> web.Response:
        if (failed := await self._injected() or self._genie(request)) is not None:
            return failed
        verb = request.match_info["verb"]
        if verb not in ("acknowledge", "close") or request.query.get("identifierType") != "alias":
            return web.json_response({"message": "Invalid request"}, status=400)
        body = await request.json()
        action = "acknowledge" if verb == "acknowledge" else "resolve"
        await self._took(PagerEvent("opsgenie", action, request.match_info["identifier"], body))
        return _accepted()


_PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}


def _rid() -> str:
    return str(uuid.uuid4())


def _accepted() -> web.Response:
    return web.json_response(
        {"result": "Request will be processed", "took": 0.01, "requestId": _rid()}, status=202
    )


def _pagerduty_problems(body: Any) -> list[str]:
    """What PagerDuty would refuse in an event (its 400 "errors")."""
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    problems = []
    if len(str(body.get("routing_key", ""))) != 32:
        problems.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = body.get("event_action")
    if action not in _ACTIONS:
        problems.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    key = body.get("dedup_key")
    if key is not None and len(str(key)) > 255:
        problems.append("'dedup_key' is too long (at most 255 characters)")
    if action in ("acknowledge", "resolve") and not key:
        problems.append("'dedup_key' is required to acknowledge or resolve")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "'payload' is missing"]
        if not payload.get("summary") or len(str(payload["summary"])) > 1024:
            problems.append("'payload.summary' is missing or longer than 1024 characters")
        if not payload.get("source"):
            problems.append("'payload.source' is missing")
        if payload.get("severity") not in _SEVERITIES:
            problems.append("'payload.severity' is invalid")
    return problems
