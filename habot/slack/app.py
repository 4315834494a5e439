"""Building the Bolt app and serving it over HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier

from habot.errors import ConfigError, StoreError
from habot.secrets import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, SecretName, Secrets
from habot.services.outage import Outage
from habot.services.ports import SeenRequests
from habot.slack.metrics import Metrics

log = logging.getLogger(__name__)
API_URL_ENV = "HABOT_SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
#: Slack's own payloads are far smaller; anything bigger is refused before it is read whole.
MAX_EVENT_BYTES = 256 * 1024
ACK_HANDOVER = 1.0  # seconds a listener waits at most for its ack to be handed back
_PLACEHOLDERS = ("changeme", "your-", "xxxx", "placeholder", "example", "<")


@dataclass(frozen=True)
class SlackTokens:
    """The credentials one mode needs (never logged)."""

    bot_token: str
    app_token: str | None = None
    signing_secret: str | None = None


def slack_tokens(secrets: Secrets, http: bool) -> SlackTokens:
    """Tokens for the mode; ConfigError says which are missing or wrong — all of them at
    once — and where to put each."""
    wanted = [(BOT_TOKEN, "xoxb-"), (SIGNING_SECRET, "") if http else (APP_TOKEN, "xapp-")]
    problems = [p for name, prefix in wanted if (p := _problem(secrets, name, prefix))]
    if problems:
        raise ConfigError("; ".join(problems))
    bot = secrets.get(BOT_TOKEN) or ""
    if http:
        return SlackTokens(bot, signing_secret=secrets.get(SIGNING_SECRET))
    return SlackTokens(bot, app_token=secrets.get(APP_TOKEN))


def _problem(secrets: Secrets, name: SecretName, prefix: str) -> str | None:
    """What is wrong with one secret (None: it looks real): not set, or a placeholder —
    saying why it looks like one (never the value itself)."""
    value = secrets.get(name)
    where = f"keyring entry habot/{name.keyring_name} or environment variable {name.env_var}"
    if not value:
        return f"{name.env_var}: not set (put it in the {where})"
    if not value.startswith(prefix):
        return (f"{name.env_var}: looks like a placeholder, not a real value: a real one "
                f"starts with {prefix}")  # fmt: skip
    if found := next((p for p in _PLACEHOLDERS if p in value.lower()), None):
        return (f"{name.env_var}: looks like a placeholder, not a real value: it contains "
                f"{found!r}, as example values do")  # fmt: skip
    return None


def api_url(env: Mapping[str, str]) -> str:
    """The Web API base URL ($HABOT_SLACK_API_URL), always ending in '/'."""
    url = env.get(API_URL_ENV) or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def build_app(tokens: SlackTokens, base_url: str) -> AsyncApp:
    """A Bolt app whose Web API calls (and apps.connections.open) go to ``base_url``,
    retrying connection errors, 429s (honouring Retry-After) and 5xx with back-off."""
    app = AsyncApp(
        token=tokens.bot_token,
        signing_secret=tokens.signing_secret or "",
        request_verification_enabled=True,
        ignoring_self_events_enabled=True,
        oauth_settings=None,
    )
    app.client.base_url = base_url
    app.client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    return app


class Health:
    """What GET /healthz reports: the database answers and the scheduler runs."""

    def __init__(
        self,
        *,
        database: Callable[[], Awaitable[None]],
        mode: str,
        scheduler_running: Callable[[], bool],
        leading: Callable[[], bool] | None = None,
    ) -> None:
        self._leading = leading
        self._database = database  # raises unless the database answers (own thread)
        self._mode = mode
        self._scheduler_running = scheduler_running

    async def handle(self, _request: web.Request) -> web.Response:
        """200 with a small JSON body when healthy, 503 naming the failing part."""
        running = self._scheduler_running()
        body: dict[str, str] = {
            "mode": self._mode,
            "scheduler": "running" if running else "stopped",
        }
        if self._leading is not None:  # several replicas: which one runs the jobs
            body["replica"] = "leader" if self._leading() else "standby"
        if not running:
            return web.json_response({**body, "status": "unhealthy"}, status=503)
        try:
            await asyncio.wait_for(self._database(), 5)
        except Exception as exc:
            log.warning("health check: database failed: %s", type(exc).__name__)
            return web.json_response(
                {**body, "status": "unhealthy", "database": "failed"}, status=503
            )
        return web.json_response({**body, "status": "ok", "database": "ok"})


#: While the HTTP gate dispatches a request: resolved once Bolt has returned its ack, so a
#: listener can start its slow work after the answer to Slack is on its way, not before
#: (under a burst, fifty listeners' work delayed every ack behind it: benches/bench_ack.py).
ANSWERED: ContextVar[asyncio.Future[None] | None] = ContextVar("habot_answered", default=None)


async def after_the_ack() -> None:
    """Wait (briefly) until the ack has been handed back to Slack; at once in Socket Mode."""
    answered = ANSWERED.get()
    if answered is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(answered), ACK_HANDOVER)


class EventGate:
    """POST /slack/events: the signature is checked on the raw bytes before anything is
    parsed, so unsigned, stale, forged, malformed or oversized requests get a short 4xx,
    one short log line (never the body), and reach no handler."""

    def __init__(
        self,
        bolt: AsyncApp,
        signing_secret: str,
        shared: SeenRequests | None = None,
        outage: Outage | None = None,
    ) -> None:
        self._bolt = bolt
        self._verifier = SignatureVerifier(signing_secret)
        self._seen = ReplayGuard()  # this process's, checked first (no database call)
        self._shared = shared  # every replica's, in the database
        self._outage = outage or Outage()

    async def handle(self, request: web.Request) -> web.Response:
        """Verify, then let Bolt dispatch; refuse anything else plainly."""
        if (request.content_length or 0) > MAX_EVENT_BYTES:
            return _refuse(413, "request too large", request)
        try:
            body = await request.read()  # bounded by client_max_size; cached for Bolt
        except web.HTTPRequestEntityTooLarge:
            return _refuse(413, "request too large", request)
        if not self._signed(body, request):
            return _refuse(401, "invalid or missing Slack signature", request)
        if await self._replayed(request.headers["X-Slack-Signature"]):
            return _refuse(401, "replayed request (this exact signed request came before)", request)
        problem = interaction_problem(body)
        if problem is not None:
            return _refuse(400, f"malformed Slack payload: {problem}", request)
        answered = asyncio.get_running_loop().create_future()
        token = ANSWERED.set(answered)  # listeners started by the dispatch inherit it
        try:
            bolt_request = await to_bolt_request(request)
            return await to_aiohttp_response(await self._bolt.async_dispatch(bolt_request))
        except (ValueError, KeyError, TypeError):  # signed, yet not a payload Bolt can read
            return _refuse(400, "malformed Slack payload", request)
        finally:
            ANSWERED.reset(token)
            answered.set_result(None)

    async def _replayed(self, signature: str) -> bool:
        """Whether this signed request came before — to this process, or to any replica
        on the database. With the database down, this process's own memory decides (said
        once per outage): a replay then needs a captured request and an outage at once."""
        if self._seen.replayed(signature, time.monotonic()):
            return True
        if self._shared is None:
            return False
        window = timedelta(seconds=ReplayGuard.WINDOW)
        try:
            return not await self._shared.first(signature, datetime.now(UTC), window)
        except StoreError as exc:
            self._outage.failed(exc, "checking a Slack request against other replicas")
            return False

    def _signed(self, body: bytes, request: web.Request) -> bool:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        # ASCII first: "²³".isdigit() is True yet int() refuses it, and a non-ASCII
        # signature makes the constant-time compare raise — each was an HTTP 500.
        if not (timestamp.isascii() and signature.isascii()):
            return False
        if not timestamp.isdigit() or len(timestamp) > 12 or not signature.startswith("v0="):
            return False
        return self._verifier.is_valid(body, timestamp, signature)


def interaction_problem(body: bytes) -> str | None:
    """Why a signed form body cannot be a slash command or an interaction as Slack sends
    them (None when it can): Bolt's own matching assumes the shape and would fail with a
    500 on, say, ``"actions": "x"``."""
    if body[:1] == b"{":
        return None  # an Events API body (JSON): Bolt answers those itself
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    raw = form.get("payload")
    if raw is None:
        return None if "command" in form else "neither a slash command nor an interaction"
    try:
        payload = json.loads(raw[0])
    except ValueError:
        return "payload is not JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "payload has no type"
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return "payload has no user"
    actions = payload.get("actions", [])
    if payload["type"] == "block_actions" and not (
        isinstance(actions, list)
        and actions
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        return "block_actions without actions"
    on_home = isinstance(payload.get("view"), dict) and payload["view"].get("type") == "home"
    if payload["type"] == "block_actions" and not (
        on_home or isinstance(payload.get("response_url"), str)
    ):
        return (
            "block_actions without a response_url (habot's buttons are on messages, which "
            "have one, and on App Home)"
        )
    return None


class ReplayGuard:
    """Signatures seen within Slack's five-minute window. Slack signs each delivery anew
    (its own retries carry a new timestamp, hence a new signature), so the same signature
    twice is a captured request played again: refused. Bounded in memory; per process."""

    WINDOW = 5 * 60.0
    LIMIT = 50_000

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}  # insertion order is arrival order

    def replayed(self, signature: str, now: float) -> bool:
        """Whether ``signature`` came before (remembering it if not)."""
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at <= self.WINDOW and len(self._seen) < self.LIMIT:
                break
            del self._seen[oldest]
        if signature in self._seen:
            return True
        self._seen[signature] = now
        return False


def _refuse(status: int, why: str, request: web.Request) -> web.Response:
    log.warning("refused a request to %s from %s: %d %s", EVENTS_PATH, request.remote, status, why)
    return web.Response(status=status, text=why + "\n")


def web_application(
    app: AsyncApp | None,
    health: Health,
    metrics: Metrics,
    signing_secret: str = "",
    gate: Callable[[AsyncApp, str], EventGate] = EventGate,
) -> web.Application:
    """POST /slack/events (when serving HTTP mode, through ``gate``), GET /healthz, GET
    /metrics."""
    web_app = web.Application(client_max_size=MAX_EVENT_BYTES + 1)
    if app is not None:
        web_app.router.add_post(EVENTS_PATH, gate(app, signing_secret).handle)

    async def metrics_page(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain")

    web_app.router.add_get("/healthz", health.handle)
    web_app.router.add_get("/metrics", metrics_page)
    return web_app


async def start_site(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve an aiohttp application; the caller cleans the runner up."""
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def serving_line(host: str, port: int) -> str:
    """What `habot run --http` prints once it listens (``SERVING_PORT`` reads it back)."""
    return f"habot: serving Slack over HTTP on http://{host}:{port}{EVENTS_PATH}"


SERVING_PORT = re.compile(r"serving Slack over HTTP on http://[^/]+:(\d+)/")


def bound_port(runner: web.AppRunner, asked: int) -> int:
    """The port a started site listens on: the one asked for, or the one the system chose
    for port 0 (so a caller can ask for any free port without racing anyone for it)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked


def socket_mode_handler(app: AsyncApp, tokens: SlackTokens) -> AsyncSocketModeHandler:
    """Socket Mode over the app's own client (so apps.connections.open uses base_url)."""
    assert tokens.app_token is not None, "Socket Mode needs the app-level token"
    return AsyncSocketModeHandler(app, app_token=tokens.app_token, web_client=app.client)
