"""The demo's Slack: a local server that plays Slack's part on the wire, and the page that
shows it.

Towards the bot it is Slack: the Web API methods habot calls (``/api/METHOD``, form or
JSON, Bearer token), the ``response_url``s it answers on, the external file upload, and
signed requests (slash commands, button clicks, ``app_home_opened``) sent to the bot's
``/slack/events``. Every message and view it is sent is checked as Slack checks it
(:mod:`habot.demo.blockkit`) and refused as Slack refuses it.

Towards the person it is a page (``/``) with one channel, threads, App Home, a command box
and three personas; the page reads ``/ui/state`` and acts through ``/ui/*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

import aiohttp
from aiohttp import web

from habot.demo.blockkit import (
    MESSAGE_LIMIT,
    message_size,
    problems_in_blocks,
    problems_in_view,
)
from habot.demo.pager import PATH as PAGER_PATH
from habot.demo.pager import DemoPager

log = logging.getLogger(__name__)
TEAM, BOT_USER, APP_ID, BOT_ID = "T0DEMO", "U0HABOT", "A0DEMO", "B0DEMO"
#: How often, and how far apart, a request to the bot is tried before the page is told.
SEND_TRIES, SEND_GAP = 3, 1.0
STARTING = "starting"
BOT_WAIT = 60.0  # seconds a command or click waits for a bot that is (re)starting


@dataclass(frozen=True)
class Persona:
    """Someone the page can act as."""

    user: str
    name: str
    role: str


@dataclass
class Posted:
    """A message in the channel, a thread or a DM, as the page shows it."""

    ts: str
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    user: str = BOT_USER
    thread_ts: str | None = None
    only_for: str | None = None  # an ephemeral message: the one person who sees it
    files: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Upload:
    """A file on its way in (files.getUploadURLExternal → bytes → complete)."""

    id: str
    filename: str
    length: int
    content: bytes | None = None


Faults = Callable[[str, str], Awaitable[str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SlackStage:
    """Slack for one bot and one page. ``await stage.start(port)``, then point the bot at
    :attr:`api_url` and give it :attr:`signing_secret`."""

    def __init__(
        self,
        *,
        channel: str,
        channel_name: str,
        personas: list[Persona],
        command: str,
        usage_hint: str,
        signing_secret: str,
        bot_token: str,
        faults: Faults | None = None,
        fault_names: list[tuple[str, str]] | None = None,
        pager: DemoPager | None = None,
    ) -> None:
        self.channel, self.channel_name = channel, channel_name
        self.personas = {p.user: p for p in personas}
        self.command, self.usage_hint = command, usage_hint
        self.signing_secret, self.bot_token = signing_secret, bot_token
        self.bot_url: str | None = None  # the bot's base URL while it serves (see serving)
        self._started = False  # whether a bot has served before (starting "again")
        self._faults, self._fault_names = faults, fault_names or []
        self.messages: list[Posted] = []
        self.homes: dict[str, dict[str, Any]] = {}
        self.modals: dict[str, dict[str, Any]] = {}  # the modal each person has open
        self._triggers: dict[str, str] = {}  # trigger_id → who clicked (views.open needs one)
        self.pager = pager
        self.uploads: dict[str, Upload] = {}
        self.refused: list[str] = []  # what Slack would have refused, and why
        self.version = 0
        self._changed = asyncio.Condition()
        self._ticks = itertools.count(1)
        self._answers: dict[str, tuple[str, str]] = {}  # response_url id → (user, channel)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.bot = STARTING  # the bot's health as last seen: "up", or why not
        self._stopping = False  # stop() was called: no request waits any more
        self.port = 0
        self._host = "127.0.0.1"

    def serving(self, port: int | None) -> None:
        """The bot serves on ``port`` — or (None) it stopped and is being started again."""
        self.bot_url = f"http://127.0.0.1:{port}" if port is not None else None
        self._started = self._started or port is not None

    @property
    def api_url(self) -> str:
        """What the bot's HABOT_SLACK_API_URL should be."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def pager_url(self) -> str:
        """Where the bot sends its pages (the demo's PagerDuty Events API)."""
        return f"http://127.0.0.1:{self.port}{PAGER_PATH}"

    @property
    def page_url(self) -> str:
        """Where a person opens the page."""
        return f"http://127.0.0.1:{self.port}/"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> None:
        """Listen (port 0: any free one)."""
        self._host = host
        app = web.Application(client_max_size=8 * 1024 * 1024, middlewares=[self._guard])
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{rid}", self._respond)
        app.router.add_post("/upload/{file}", self._upload)
        app.router.add_get("/", self._page)
        app.router.add_get("/archives/{channel}/{message}", self._archive)
        app.router.add_get("/page/{name}", self._asset)
        app.router.add_get("/ui/state", self._state)
        app.router.add_get("/ui/file/{file}", self._file)
        app.router.add_post("/ui/command", self._ui_command)
        app.router.add_post("/ui/click", self._ui_click)
        app.router.add_post("/ui/home", self._ui_home)
        app.router.add_post("/ui/fault", self._ui_fault)
        app.router.add_post("/ui/submit", self._ui_submit)
        app.router.add_post("/ui/close", self._ui_close)
        if self.pager is not None:
            self.pager.route(app)
            self.pager.on_event = self._touch
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._watcher = asyncio.create_task(self._watch_bot())

    async def stop(self) -> None:
        """Stop listening — at once: a page's long poll, or a click waiting for the bot,
        is answered now rather than holding the server's shutdown for up to 20 s (Ctrl-C
        on `habot demo` with a browser open)."""
        async with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _hosts(self) -> frozenset[str] | None:
        """The Host headers this stage answers (None: any — it listens beyond loopback,
        which `habot demo` warns about)."""
        names = {"127.0.0.1", "localhost", "[::1]"}
        if self._host not in {*names, "::1"}:
            return None
        return frozenset(f"{name}:{self.port}" for name in names)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Only this page, from this machine's loopback name, acts as the personas: the
        Host must be it (a DNS-rebinding page names another host), a page's actions must
        come from its own origin (another site's page is refused), and they are JSON (no
        form another site could post without the browser asking first)."""
        hosts = self._hosts()
        if hosts is not None and request.host not in hosts:
            return _forbidden(403, f"this page answers only as http://127.0.0.1:{self.port}/")
        if request.method == "POST" and request.path.startswith("/ui/"):
            origin = request.headers.get("Origin")
            if (
                origin is not None
                and hosts is not None
                and origin.removeprefix("http://") not in hosts
            ):
                return _forbidden(403, "a request from another site's page was refused")
            if request.content_type != "application/json":
                return _forbidden(
                    415, "the page's actions are JSON (Content-Type: application/json)"
                )
        return await handler(request)

    async def _touch(self) -> None:
        async with self._changed:  # counted and told under one lock: no page misses it
            self.version += 1
            self._changed.notify_all()

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ticks):06d}"

    # -- Slack's Web API, as the bot sees it --------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        args = await _args(request)
        token = token or str(args.get("token", ""))
        if not hmac.compare_digest(token, self.bot_token):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = await self._method(method, args)
        if not answer.get("ok"):
            log.warning("the demo's Slack refused %s: %s", method, answer.get("error"))
        headers = {"X-OAuth-Scopes": SCOPES}
        return web.json_response(answer, headers=headers)

    async def _method(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "team": "habot-demo", "user_id": BOT_USER,
                    "bot_id": BOT_ID, "url": self.page_url}  # fmt: skip
        if method in {"chat.postMessage", "chat.update", "chat.postEphemeral"}:
            return await self._chat(method, args)
        if method == "views.publish":
            return await self._publish(args)
        if method == "views.open":
            return await self._open(args)
        if method == "usergroups.users.list":
            return {"ok": True, "users": []}
        if method == "conversations.info":
            channel = str(args.get("channel", ""))
            if channel != self.channel:
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "channel": {"id": channel, "name": self.channel_name,
                                            "is_member": True}}  # fmt: skip
        if method == "conversations.open":
            user = str(args.get("users", ""))
            if user not in self.personas:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "channel": {"id": "D" + user[1:]}}
        if method.startswith("files."):
            return await self._files(method, args)
        return {"ok": False, "error": "unknown_method"}

    async def _chat(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        text, blocks = str(args.get("text") or ""), _json(args.get("blocks")) or []
        if problem := self._problem(text, blocks):
            return {"ok": False, "error": problem}
        channel = str(args.get("channel", ""))
        if method == "chat.update":
            found = next((m for m in self.messages if m.ts == args.get("ts")), None)
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            found.text, found.blocks = text, blocks
            await self._touch()
            return {"ok": True, "channel": channel, "ts": found.ts}
        where = self._where(channel)
        if where is None:
            return {"ok": False, "error": "channel_not_found"}
        only = str(args["user"]) if method == "chat.postEphemeral" else None
        thread = str(args["thread_ts"]) if args.get("thread_ts") else None
        posted = Posted(self._ts(), where, text, blocks, thread_ts=thread, only_for=only)
        self.messages.append(posted)
        await self._touch()
        if only is not None:  # Slack answers message_ts for an ephemeral message
            return {"ok": True, "message_ts": posted.ts}
        return {"ok": True, "channel": where, "ts": posted.ts}

    def _where(self, channel: str) -> str | None:
        """The channel, or a DM: a user id (chat.postMessage to a person) or its D… id."""
        if channel == self.channel:
            return channel
        user = "U" + channel[1:] if channel.startswith("D") else channel
        return "D" + user[1:] if user in self.personas else None

    def _problem(self, text: str, blocks: list[Any]) -> str | None:
        if problems := problems_in_blocks(blocks):
            self.refused += problems
            return "invalid_blocks"
        if message_size(text, blocks) > MESSAGE_LIMIT:
            self.refused.append(f"a message of {message_size(text, blocks)} characters")
            return "msg_blocks_too_long"
        if not text and not blocks:
            return "no_text"
        return None

    async def _publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json(args.get("view")) or {}
        user = str(args.get("user_id", ""))
        if problems := problems_in_view(view):
            self.refused += problems
            return {"ok": False, "error": "invalid_blocks"}
        self.homes[user] = view
        await self._touch()
        return {"ok": True, "view": {"id": f"V{user}"}}

    async def _open(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.open: a modal for the person whose click issued the trigger (once)."""
        user = self._triggers.pop(str(args.get("trigger_id", "")), None)
        if user is None:
            return {"ok": False, "error": "expired_trigger_id"}
        view = _json(args.get("view")) or {}
        if view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        if problems := problems_in_view(view):
            self.refused += problems
            return {"ok": False, "error": "invalid_blocks"}
        self.modals[user] = {**view, "id": "V" + uuid.uuid4().hex[:10].upper(), "errors": {}}
        await self._touch()
        return {"ok": True, "view": self.modals[user]}

    async def _files(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "files.getUploadURLExternal":
            length = str(args.get("length", ""))
            if not args.get("filename") or not length.isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = "F" + uuid.uuid4().hex[:10].upper()
            self.uploads[file_id] = Upload(file_id, str(args["filename"]), int(length))
            url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
            return {"ok": True, "upload_url": url, "file_id": file_id}
        if method == "files.completeUploadExternal":
            where = self._where(str(args.get("channel_id", "")))
            done = []
            for item in _json(args.get("files")) or []:
                upload = self.uploads.get(str(item.get("id")))
                if upload is None or upload.content is None or len(upload.content) != upload.length:
                    return {"ok": False, "error": "file_not_found"}  # as Slack: all bytes, or none
                title = str(item.get("title") or upload.filename)
                done.append({"id": upload.id, "title": title, "name": upload.filename,
                             "url": f"/ui/file/{upload.id}"})  # fmt: skip
            if where is not None and done:
                shared = Posted(self._ts(), where, "", [], files=done)
                self.messages.append(shared)
                await self._touch()
            return {"ok": True, "files": [{"id": d["id"], "title": d["title"]} for d in done]}
        return {"ok": False, "error": "unknown_method"}

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file"])
        if upload is None:
            return web.Response(status=404, text="no such upload")
        upload.content = await request.read()
        return web.Response(text=f"OK - {len(upload.content)}")

    async def _respond(self, request: web.Request) -> web.Response:
        """A response_url: the answer is ephemeral to the person who asked, or (in_channel)
        posted in the channel; ``replace_original`` is not used by habot."""
        rid = request.match_info["rid"]
        if rid not in self._answers:
            return web.Response(status=404, text="expired_url")
        user, channel = self._answers[rid]
        body = await request.json()
        text, blocks = str(body.get("text") or ""), list(body.get("blocks") or [])
        if problem := self._problem(text, blocks):
            return web.Response(status=400, text=problem)
        only = None if body.get("response_type") == "in_channel" else user
        self.messages.append(Posted(self._ts(), channel, text, blocks, only_for=only))
        await self._touch()
        return web.Response(text="ok")

    # -- signed requests to the bot ---------------------------------------------------

    def _response_url(self, user: str, channel: str) -> str:
        rid = uuid.uuid4().hex[:16]
        self._answers[rid] = (user, channel)
        return f"http://127.0.0.1:{self.port}/respond/{rid}"

    async def _bot_up(self) -> bool:
        """While habot is starting (or starting again), wait for it (at most BOT_WAIT), as
        the page's banner promises: a command typed then is sent once it serves, not lost.
        A bot that is down and not being started is tried (and said) at once."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(self._not_starting), BOT_WAIT)
        return self.bot_url is not None and self._session is not None

    def _not_starting(self) -> bool:
        return self._stopping or not self.bot.startswith(STARTING)

    async def _send(self, body: bytes, content_type: str) -> str | None:
        """POST a signed request to the bot's /slack/events; None when it took it, else
        what went wrong (after SEND_TRIES tries)."""
        problem, _ = await self._post(body, content_type)
        return problem

    async def _post(self, body: bytes, content_type: str) -> tuple[str | None, str]:
        """As :meth:`_send`, with the bot's answer (a form's errors come back in it)."""
        if not await self._bot_up() or self.bot_url is None or self._session is None:
            return f"habot is still {self.bot} after {BOT_WAIT:.0f} s", ""
        problem = "no answer"
        for attempt in range(SEND_TRIES):
            if attempt:
                await asyncio.sleep(SEND_GAP)
            headers = signed(self.signing_secret, body, content_type)
            try:
                async with self._session.post(
                    self.bot_url + "/slack/events", data=body, headers=headers
                ) as response:
                    if response.status == 200:
                        return None, await response.text()
                    problem = f"habot answered HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"habot is not answering ({type(exc).__name__})"
        return problem, ""

    # -- the page ----------------------------------------------------------------------

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(text=_asset_text("index.html"), content_type="text/html")

    async def _archive(self, request: web.Request) -> web.Response:
        """A message link (habot's links point at the workspace auth.test names — this
        page): the page, showing that message."""
        message = request.match_info["message"]
        if not re.fullmatch(r"p\d{1,20}", message):
            raise web.HTTPNotFound()
        raise web.HTTPFound(f"/#{message}")

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        types = {"app.js": "application/javascript", "style.css": "text/css"}
        if name not in types:
            raise web.HTTPNotFound()
        return web.Response(text=_asset_text(name), content_type=types[name])

    async def _file(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file"])
        if upload is None or upload.content is None:
            raise web.HTTPNotFound()
        return web.Response(body=upload.content, content_type="text/plain", charset="utf-8")

    async def _state(self, request: web.Request) -> web.Response:
        """What one persona sees (long poll: waits up to 20 s for something newer than
        ``since``)."""
        user = request.query.get("as", "")
        since = int(request.query.get("since", "-1") or -1)

        def newer() -> bool:
            return self._stopping or self.version > since

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(newer), 20)
        return web.json_response(await self.view_for(user))

    async def view_for(self, user: str) -> dict[str, Any]:
        """The page's whole state for one persona."""
        dm = "D" + user[1:] if user else ""
        seen = [
            asdict(m) for m in self.messages
            if (m.only_for in (None, user)) and m.channel in (self.channel, dm)
        ]  # fmt: skip
        return {
            "version": self.version,
            "channel": {"id": self.channel, "name": self.channel_name},
            "me": user,
            "personas": [asdict(p) for p in self.personas.values()],
            "command": self.command,
            "usage": self.usage_hint,
            "messages": seen,
            "home": self.homes.get(user),
            "faults": [{"id": f, "label": label} for f, label in self._fault_names],
            "bot": self.bot,
            "modal": self.modals.get(user),
            "pages": self.pager.shown() if self.pager is not None else None,
        }

    async def _watch_bot(self, every: float = 1.0) -> None:
        """Ask the bot's /healthz every second; a change wakes every page at once (a bot
        that died is shown down within a second or two, and up again when it is)."""
        while True:
            health = await self.bot_health()
            if health != self.bot:
                self.bot = health
                await self._touch()
            await asyncio.sleep(every)

    async def bot_health(self) -> str:
        """ "up", "starting" (or "starting again", after it stopped), or why the bot is not
        answering."""
        if self.bot_url is None or self._session is None:
            return STARTING + (" again" if self._started else "")
        try:
            async with self._session.get(
                self.bot_url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return "up" if response.status == 200 else f"unhealthy (HTTP {response.status})"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"not answering ({type(exc).__name__})"

    async def _ui_command(self, request: web.Request) -> web.Response:
        """The command box: ``{"as": USER, "text": "/ha status prod"}``."""
        data = await request.json()
        user, line = str(data.get("as", "")), str(data.get("text", "")).strip()
        if user not in self.personas:
            return web.json_response({"ok": False, "error": "choose who you are"}, status=400)
        command, _, text = line.partition(" ")
        if command != self.command:
            why = f"Only {self.command} works here: try {self.command} help"
            return web.json_response({"ok": False, "error": why}, status=400)
        self.messages.append(Posted(self._ts(), self.channel, line, [], user=user,
                                    only_for=user))  # fmt: skip
        await self._touch()
        fields = {
            "token": "demo", "team_id": TEAM, "team_domain": "habot-demo",
            "trigger_id": self._trigger_for(user),
            "channel_id": self.channel, "channel_name": self.channel_name, "user_id": user,
            "user_name": self.personas[user].name, "command": command, "text": text.strip(),
            "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": self._response_url(user, self.channel),
        }  # fmt: skip
        body = urllib.parse.urlencode(fields).encode()
        return _sent(await self._send(body, "application/x-www-form-urlencoded"))

    async def _ui_click(self, request: web.Request) -> web.Response:
        """A button: ``{"as": USER, "ts": MESSAGE_TS, "block_id": …, "action_id": …}`` —
        on a message, or (``"ts": "home"``) on the person's App Home, which Slack sends
        as a view's: no channel, no message, no response_url."""
        data = await request.json()
        user = str(data.get("as", ""))
        home = self.homes.get(user) if data.get("ts") == "home" else None
        message = next((m for m in self.messages if m.ts == data.get("ts")), None)
        if user not in self.personas or (message is None and home is None):
            return web.json_response({"ok": False, "error": "no such message"}, status=400)
        blocks = home["blocks"] if home is not None else message.blocks if message else []
        button = _button(blocks, str(data.get("block_id")), str(data.get("action_id")))
        if button is None:
            return web.json_response({"ok": False, "error": "no such button"}, status=400)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": self.personas[user].name, "team_id": TEAM},
            "api_app_id": APP_ID, "token": "demo", "trigger_id": self._trigger_for(user),
            "team": {"id": TEAM, "domain": "habot-demo"}, "state": {"values": {}},
            "actions": [{
                "type": "button", "action_id": button["action_id"],
                "block_id": data.get("block_id"), "value": button.get("value", ""),
                "text": button.get("text"), "action_ts": f"{time.time():.6f}",
            }],
        }  # fmt: skip
        if message is not None:
            payload |= {
                "container": {"type": "message", "message_ts": message.ts,
                              "channel_id": message.channel, "is_ephemeral": False},
                "channel": {"id": message.channel, "name": self.channel_name},
                "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
                "response_url": self._response_url(user, message.channel),
            }  # fmt: skip
        else:
            payload |= {"container": {"type": "view", "view_id": f"V{user}"},
                        "view": {**(home or {}), "id": f"V{user}"}}  # fmt: skip
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return _sent(await self._send(body, "application/x-www-form-urlencoded"))

    def _trigger_for(self, user: str) -> str:
        """A trigger_id for an interaction of ``user``'s: views.open takes it once, within
        3 s as Slack does (older ones are forgotten here)."""
        now = time.time()
        for old in [t for t in self._triggers if float(t.split(".demo.")[0]) < now - 3]:
            del self._triggers[old]
        trigger = f"{now:.3f}.demo.{uuid.uuid4().hex[:8]}"
        self._triggers[trigger] = user
        return trigger

    async def _ui_submit(self, request: web.Request) -> web.Response:
        """A modal's submit: ``{"as": USER, "values": {BLOCK_ID: TEXT}}`` — sent to the bot
        as a view_submission; the errors it answers stay on the modal, else it closes."""
        data = await request.json()
        user = str(data.get("as", ""))
        view = self.modals.get(user)
        if view is None:
            return web.json_response({"ok": False, "error": "no form is open"}, status=400)
        values = {str(k): str(v) for k, v in dict(data.get("values") or {}).items()}
        payload = {
            "type": "view_submission", "team": {"id": TEAM, "domain": "habot-demo"},
            "user": {"id": user, "username": self.personas[user].name, "team_id": TEAM},
            "api_app_id": APP_ID, "token": "demo", "trigger_id": f"{time.time():.3f}.demo",
            "view": {
                "id": view["id"], "team_id": TEAM, "type": "modal",
                "callback_id": view.get("callback_id", ""),
                "private_metadata": view.get("private_metadata", ""), "hash": "1.demo",
                "state": {"values": {b: {b: {"type": "plain_text_input", "value": v}}
                                     for b, v in values.items()}},
            },
            "response_urls": [],
        }  # fmt: skip
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        problem, answer = await self._post(body, "application/x-www-form-urlencoded")
        if problem is not None:
            return _sent(problem)
        errors = (_json(answer) or {}).get("errors") if answer.strip() else None
        if errors:
            view["errors"] = errors
        else:
            self.modals.pop(user, None)
        await self._touch()
        return web.json_response({"ok": True, "errors": errors or {}})

    async def _ui_close(self, request: web.Request) -> web.Response:
        """A modal closed without sending it: ``{"as": USER}``."""
        self.modals.pop(str((await request.json()).get("as", "")), None)
        await self._touch()
        return web.json_response({"ok": True})

    async def _ui_home(self, request: web.Request) -> web.Response:
        """The App Home tab opened: ``{"as": USER}``."""
        user = str((await request.json()).get("as", ""))
        if user not in self.personas:
            return web.json_response({"ok": False, "error": "choose who you are"}, status=400)
        event = {
            "token": "demo", "team_id": TEAM, "api_app_id": APP_ID, "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": "D" + user[1:],
                      "tab": "home", "event_ts": f"{time.time():.6f}"},
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }  # fmt: skip
        return _sent(await self._send(json.dumps(event).encode(), "application/json"))

    async def _ui_fault(self, request: web.Request) -> web.Response:
        """A "break it" button: ``{"fault": ID}``."""
        fault = str((await request.json()).get("fault", ""))
        if self._faults is None or fault not in {f for f, _ in self._fault_names}:
            return web.json_response({"ok": False, "error": "no such fault"}, status=400)
        pair, _, what = fault.partition(":")
        said = await self._faults(pair, what)
        await self._touch()
        return web.json_response({"ok": True, "said": said})


#: What the demo's bot token may do (as Slack says in X-OAuth-Scopes).
SCOPES = ",".join(
    ("commands", "chat:write", "chat:write.public", "usergroups:read", "channels:read",
     "groups:read", "im:write", "files:write", "users:read", "users:read.email")
)  # fmt: skip


def signed(secret: str, body: bytes, content_type: str) -> dict[str, str]:
    """Slack's request signature: v0 HMAC-SHA256 over ``v0:TIMESTAMP:BODY``."""
    ts = str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    mac = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={mac}",
        "Content-Type": content_type,
    }


def _forbidden(status: int, why: str) -> web.Response:
    """A refusal the demo page's guard gives: the status, and why in words."""
    return web.Response(status=status, text=why + "\n")


def _sent(problem: str | None) -> web.Response:
    if problem is None:
        return web.json_response({"ok": True})
    return web.json_response({"ok": False, "error": problem}, status=502)


def _button(blocks: list[dict[str, Any]], block_id: str, action_id: str) -> dict[str, Any] | None:
    for block in blocks:
        if block.get("type") == "actions" and block.get("block_id", "") == block_id:
            for element in block.get("elements", []):
                if element.get("action_id") == action_id:
                    return dict(element)
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == action_id and block.get("block_id", "") == block_id:
            return dict(accessory)
    return None


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _asset_text(name: str) -> str:
    return resources.files("habot.demo").joinpath("page", name).read_text(encoding="utf-8")


async def _args(request: web.Request) -> dict[str, Any]:
    """A Web API call's arguments: query parameters, then the form or JSON body."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "GET":
        return args
    if request.content_type == "application/json":
        data = await request.json()
        return {**args, **data} if isinstance(data, dict) else args
    form = await request.post()
    return {**args, **{k: str(v) for k, v in form.items()}}
