"""A fake of Slack on 127.0.0.1: Web API methods, response_url sinks, and Socket Mode.

Shaped after Slack's wire formats (see ../shared/SLACK-NOTES.md): form or JSON Web API
calls with Bearer tokens, 429 with Retry-After, `apps.connections.open` returning a
websocket URL that sends `hello` and delivers envelopes whose acks are recorded. Every
Block Kit payload it receives is validated; invalid ones are rejected as Slack would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.kit.plainwords import identifiers_in
from tests.kit.slackcheck import MESSAGE_LIMIT, message_size, problems_in_blocks, problems_in_view

TEAM, BOT_USER, APP_ID = "T0HABOT", "U0HABOTBOT", "A0HABOT"
#: Every fake started in this test process; the suite asserts none of them was sent a
#: message over the limit (tests/conftest.py).
STARTED: list[FakeSlack] = []


@dataclass
class FakeFile:
    """A file uploaded through the external upload flow."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None


@dataclass
class ApiCall:
    """One Web API call as received."""

    method: str
    token: str
    args: dict[str, Any]
    failed: bool = False  # answered with an injected failure (see fail_next)
    ts: str | None = None  # the message's ts, as answered (chat.postMessage, chat.update)


RESET = 0  # in fail_next: drop the connection instead of answering


@dataclass
class FakeSlack:
    """The fake's state; start with ``await fake.start()``."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[ApiCall] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    #: Messages refused for their size: (method or "response_url", size).
    oversized: list[tuple[str, int]] = field(default_factory=list)
    #: (method, identifier) for every bare internal identifier people would have read.
    jargon: list[tuple[str, str]] = field(default_factory=list)
    #: Files by id, from files.getUploadURLExternal on.
    files: dict[str, FakeFile] = field(default_factory=dict)
    # per method: HTTP statuses (429 → ratelimited with Retry-After 0, RESET → the
    # connection dropped without an answer, else internal_error) or Slack error names
    # (answered 200 with ok: false, as Slack does)
    fail_next: dict[str, list[int | str]] = field(default_factory=lambda: defaultdict(list))
    #: The bot token's scopes, sent back as X-OAuth-Scopes (as Slack does).
    scopes: tuple[str, ...] = (
        "commands", "chat:write", "chat:write.public", "usergroups:read", "channels:read",
        "groups:read", "im:write", "files:write", "users:read", "users:read.email",
    )  # fmt: skip
    #: users.lookupByEmail: email → user id (any other email: users_not_found).
    emails: dict[str, str] = field(default_factory=dict)
    #: users.info: user id → their time zone (``tz``, as Slack gives it); anyone else
    #: has Slack's default, America/Los_Angeles.
    zones: dict[str, str] = field(default_factory=dict)
    #: users.info: user id → the display name in their profile (anyone else has none).
    names: dict[str, str] = field(default_factory=dict)
    #: conversations.info: channel id → (name, whether the bot is a member); any other id
    #: is channel_not_found.
    channels: dict[str, tuple[str, bool]] = field(
        default_factory=lambda: {"C0HAOPS": ("ha-ops", True), "C0ALERTS": ("ha-alerts", True)}
    )
    #: Modals opened with views.open, as Slack holds them (with their id).
    views: list[dict[str, Any]] = field(default_factory=list)
    triggers_used: set[str] = field(default_factory=set)
    port: int = 0
    _runner: web.AppRunner | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def api_url(self) -> str:
        """What HABOT_SLACK_API_URL should be."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self) -> tuple[str, str]:
        """A fresh response_url and its id."""
        rid = uuid.uuid4().hex[:12]
        return f"http://127.0.0.1:{self.port}/respond/{rid}", rid

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port)."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk sends some methods as GET
        app.router.add_post("/respond/{rid}", self._respond)
        app.router.add_get("/link", self._link)
        app.router.add_post("/upload/{file}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        STARTED.append(self)

    async def stop(self) -> None:
        """Close sockets and stop listening."""
        for ws in self._sockets:
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    # -- waiting -----------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Any) -> Any:
        """Wait until ``predicate()`` returns something truthy, and return it."""
        async with asyncio.timeout(30), self._changed:
            while not (result := predicate()):
                await self._changed.wait()
        return result

    async def response(self, rid: str, index: int = 0) -> dict[str, Any]:
        """The index-th message posted to a response_url."""
        got = await self.wait_for(lambda: len(self.responses[rid]) > index)
        assert got
        return self.responses[rid][index]

    def calls_to(self, method: str) -> list[ApiCall]:
        """The Web API calls of one method so far."""
        return [c for c in self.calls if c.method == method]

    # -- Web API ----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        args = await _args(request)
        self.calls.append(ApiCall(method, token, args))
        if method.startswith(("chat.", "views.")):
            self.jargon += [(method, i) for i in identifiers_in(args.get("text"),
                                                                 args.get("blocks"),
                                                                 args.get("view"))]  # fmt: skip
        await self._notify()
        if self.fail_next[method]:
            self.calls[-1].failed = True
            status = self.fail_next[method].pop(0)
            if isinstance(status, str):
                return web.json_response({"ok": False, "error": status})
            if status == RESET and request.transport is not None:
                request.transport.abort()  # the connection drops: no answer at all
                return web.Response()
            headers = {"Retry-After": "0"} if status == 429 else {}
            error = "ratelimited" if status == 429 else "internal_error"
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        scopes = {"X-OAuth-Scopes": ",".join(self.scopes)} if token.startswith("xoxb-") else {}
        answer = self._answer(method, token, args)
        self.calls[-1].ts = answer.get("ts") if answer.get("ok") else None
        return web.json_response(answer, headers=scopes)

    def _answer(self, method: str, token: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}
        if not token.startswith("xoxb-"):
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {
                "ok": True,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "B0HABOT",
                "url": "https://habot-test.slack.com/",
                "team": "habot-test",
            }
        if method == "conversations.info":
            channel = str(args.get("channel", ""))
            if channel not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
            name, member = self.channels[channel]
            return {"ok": True, "channel": {"id": channel, "name": name, "is_member": member}}
        if method == "conversations.open":  # a DM with one user: D + the user's id
            users = str(args.get("users", ""))
            if not users.startswith(("U", "W")) or "," in users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "channel": {"id": "D" + users[1:]}}
        if method.startswith("files."):
            return self._file_step(method, args)
        if method == "users.lookupByEmail":
            if "users:read.email" not in self.scopes:
                return {"ok": False, "error": "missing_scope", "needed": "users:read.email"}
            user = self.emails.get(str(args.get("email", "")))
            if user is None:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": user, "team_id": TEAM, "deleted": False}}
        if method == "users.info":
            if "users:read" not in self.scopes:
                return {"ok": False, "error": "missing_scope", "needed": "users:read"}
            user = str(args.get("user", ""))
            if not user.startswith(("U", "W")):
                return {"ok": False, "error": "user_not_found"}
            tz = self.zones.get(user, "America/Los_Angeles")
            profile = {"display_name": self.names.get(user, ""), "real_name": ""}
            found = {"id": user, "team_id": TEAM, "tz": tz, "tz_label": tz, "tz_offset": 0}
            return {"ok": True, "user": {**found, "profile": profile}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.groups.get(args.get("usergroup", ""), [])}
        if method == "views.open":
            return self._open_view(args)
        if method == "views.publish":
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            problems = problems_in_view(view or {})
            if problems:
                self.invalid += problems
                return {"ok": False, "error": "invalid_blocks"}
            return {"ok": True, "view": {"id": "V0HOME"}}
        blocks = args.get("blocks")
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        if blocks is not None and (problems := problems_in_blocks(blocks)):
            self.invalid += problems
            return {"ok": False, "error": "invalid_blocks"}
        if (size := message_size(str(args.get("text") or ""), blocks)) > MESSAGE_LIMIT:
            self.oversized.append((method, size))
            return {"ok": False, "error": "msg_blocks_too_long"}
        if method == "chat.postEphemeral":  # Slack answers message_ts, not ts
            return {"ok": True, "message_ts": f"{time.time():.6f}"}
        ts = args.get("ts") or f"{time.time():.6f}"
        return {"ok": True, "ts": ts, "channel": args.get("channel")}

    def _open_view(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.open: a modal for a trigger_id, which Slack takes once and only for 3 s
        after the interaction that issued it (the fake's triggers start with their time)."""
        trigger = str(args.get("trigger_id") or "")
        issued = trigger.split(".1.")[0]
        if not trigger or not issued.replace(".", "", 1).isdigit():
            return {"ok": False, "error": "invalid_trigger_id"}
        if trigger in self.triggers_used or time.time() - float(issued) > 3:
            return {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        if problems := problems_in_view(view):
            self.invalid += problems
            return {"ok": False, "error": "invalid_blocks"}
        self.triggers_used.add(trigger)
        opened = {**view, "id": "V" + uuid.uuid4().hex[:10].upper(), "hash": "1.abc"}
        self.views.append(opened)
        return {"ok": True, "view": opened}

    def _file_step(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """files.getUploadURLExternal and files.completeUploadExternal, as Slack answers."""
        if method == "files.getUploadURLExternal":
            length = str(args.get("length", ""))
            if not args.get("filename") or not length.isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = "F" + uuid.uuid4().hex[:10].upper()
            self.files[file_id] = FakeFile(file_id, str(args["filename"]), int(length))
            url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
            return {"ok": True, "upload_url": url, "file_id": file_id}
        if method == "files.completeUploadExternal":
            listed = json.loads(str(args.get("files", "[]")))
            done = []
            for item in listed:
                file = self.files.get(item.get("id", ""))
                if file is None or file.content is None or len(file.content) != file.length:
                    return {"ok": False, "error": "file_not_found"}
                file.title = item.get("title")
                file.channel = args.get("channel_id")
                file.thread_ts = args.get("thread_ts")
                done.append({"id": file.id, "title": file.title or file.filename})
            return {"ok": True, "files": done}
        return {"ok": False, "error": "unknown_method"}

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["file"])
        if file is None:
            return web.Response(status=404, text="no such upload")
        file.content = await request.read()
        await self._notify()
        return web.Response(text=f"OK - {len(file.content)}")

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.jargon += [("response_url", i) for i in identifiers_in(body)]
        problems = problems_in_blocks(body.get("blocks") or [])
        if problems:
            self.invalid += problems
            return web.Response(status=400, text="invalid_blocks")
        if (size := message_size(body.get("text") or "", body.get("blocks"))) > MESSAGE_LIMIT:
            self.oversized.append(("response_url", size))
            return web.Response(status=400, text="msg_blocks_too_long")
        self.responses[request.match_info["rid"]].append(body)
        await self._notify()
        return web.Response(text="ok")

    # -- Socket Mode ------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        await self._notify()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                frame = json.loads(message.data)
                if "envelope_id" in frame:
                    self.acks[frame["envelope_id"]] = frame
                    self.jargon += [("ack", i) for i in identifiers_in(frame.get("payload"))]
                    await self._notify()
        return ws

    async def disconnect(self) -> None:
        """Drop every Socket Mode connection, as Slack does when it refreshes them."""
        for ws in list(self._sockets):
            await ws.close()
        self._sockets.clear()

    async def send_envelope(self, kind: str, payload: dict[str, Any], **extra: Any) -> str:
        """Deliver a Socket Mode envelope to the connected app; return its envelope_id."""
        await self.wait_for(lambda: self._sockets)
        envelope_id = str(uuid.uuid4())
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind == "slash_commands",
                **extra,
            }
        )
        return envelope_id


async def _args(request: web.Request) -> dict[str, Any]:
    """The call's arguments: query parameters (slack_sdk sends some there, even with a
    POST), then the form or JSON body."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "GET":
        return args
    if request.content_type == "application/json":
        data = await request.json()
        return {**args, **data} if isinstance(data, dict) else args
    form = await request.post()
    return {**args, **{k: str(v) for k, v in form.items()}}


# -- payloads, shaped as Slack sends them ------------------------------------------------


def slash_command(
    text: str, user: str, channel: str, response_url: str, command: str = "/ha"
) -> dict[str, str]:
    """The fields of a slash-command invocation."""
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM,
        "team_domain": "habot-test",
        "channel_id": channel,
        "channel_name": "ha-ops",
        "user_id": user,
        "user_name": "someone",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{time.time():.3f}.1.abc",
    }


def block_action(
    action_id: str,
    value: str,
    block_id: str,
    user: str,
    channel: str,
    response_url: str,
    ts: str = "1700000000.000100",
) -> dict[str, Any]:
    """A block_actions interaction from a button in a channel message (the one at ``ts``)."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{time.time():.3f}.1.def",
        "team": {"id": TEAM, "domain": "habot-test"},
        "channel": {"id": channel, "name": "ha-ops"},
        "message": {"ts": ts, "text": "status", "blocks": []},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": "Raw"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def home_block_action(action_id: str, value: str, block_id: str, user: str) -> dict[str, Any]:
    """A block_actions interaction from a button on the user's App Home tab: its container
    is a view (of type home), so there is no channel, no message and no response_url."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": f"{time.time():.3f}.1.jkl",
        "team": {"id": TEAM, "domain": "habot-test"},
        "view": {
            "id": "V0HOME",
            "team_id": TEAM,
            "type": "home",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": f"{time.time():.0f}.home",
            "app_id": APP_ID,
            "bot_id": "B0HABOT",
        },
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": "Approve"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(view: dict[str, Any], user: str, values: dict[str, str]) -> dict[str, Any]:
    """A view_submission: a modal's inputs sent, each ``block_id`` (whose input's
    action_id is the same) typed as ``values`` says."""
    state = {
        block: {block: {"type": "plain_text_input", "value": value}}
        for block, value in values.items()
    }
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "habot-test"},
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "trigger_id": f"{time.time():.3f}.1.ghi",
        "view": {
            "id": view["id"],
            "team_id": TEAM,
            "type": "modal",
            "callback_id": view.get("callback_id", ""),
            "private_metadata": view.get("private_metadata", ""),
            "hash": view.get("hash", ""),
            "root_view_id": view["id"],
            "previous_view_id": None,
            "blocks": view.get("blocks", []),
            "state": {"values": state},
            "app_id": APP_ID,
            "bot_id": "B0HABOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }


def app_home_opened(user: str) -> dict[str, Any]:
    """An Events API callback for app_home_opened."""
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM,
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def signed_headers(
    secret: str,
    body: str,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """Headers Slack sends with an HTTP request: v0 HMAC-SHA256 over 'v0:ts:body'."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={mac}",
        "Content-Type": content_type,
    }


def form_body(fields: dict[str, str]) -> str:
    """application/x-www-form-urlencoded, as Slack sends slash commands."""
    return urllib.parse.urlencode(fields)


def interaction_body(payload: dict[str, Any]) -> str:
    """Interactivity: one form field `payload` holding JSON."""
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
