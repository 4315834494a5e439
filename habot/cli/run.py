"""`habot run`: serve Slack in Socket Mode (default) or HTTP mode."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import click
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from habot.config import Settings, load_settings
from habot.core.replies import plural
from habot.core.roles import RolePolicy
from habot.pager.http import configured_sender
from habot.pager.oncall import PagerDutyOnCall
from habot.runtime import Habot, SlackSide, utc_now
from habot.scheduling import build_scheduler
from habot.secrets import PAGER_KEYS, PAGERDUTY_API_TOKEN, Secrets
from habot.services.outbox import PagesApart
from habot.slack.app import (
    EventGate,
    Health,
    SlackTokens,
    api_url,
    bound_port,
    build_app,
    serving_line,
    slack_tokens,
    socket_mode_handler,
    start_site,
    web_application,
)
from habot.slack.directory import GroupDirectory
from habot.slack.files import FileSender
from habot.slack.handlers import SlackHandlers
from habot.slack.home import SlackHome
from habot.slack.metrics import Metrics
from habot.slack.notifier import SlackSecretTeller
from habot.slack.replies import Replies
from habot.slack.sender import SlackSender
from habot.slack.startup import verify_tokens

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@click.command()
@click.option(
    "--http", "http_mode", is_flag=True, help="Serve Slack over HTTP instead of Socket Mode."
)
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode: address to bind.")  # noqa: S104
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=3000,
    show_default=True,
    help="HTTP mode: port for /slack/events, /healthz and /metrics (0: any free port; the "
    "one taken is printed).",
)
@click.option(
    "--health-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Socket Mode: also serve /healthz and /metrics on this port.",
)
@click.pass_context
def run(ctx: click.Context, http_mode: bool, host: str, port: int, health_port: int | None) -> None:
    """Run the Slack bot until interrupted.

    Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN; HTTP mode needs SLACK_BOT_TOKEN
    and SLACK_SIGNING_SECRET (keyring service "habot" first: bot_token, app_token,
    signing_secret).
    """
    settings = load_settings(ctx.obj)
    secrets = Secrets(os.environ)
    tokens = slack_tokens(secrets, http_mode)
    _refuse_oauth_switch()
    asyncio.run(_serve(settings, tokens, http_mode, host, port, health_port))


def _freeze_startup_objects() -> None:
    """Move everything built at start (modules, settings, the app: ~140,000 objects) out of
    the collector's reach: a full collection then scans only what requests create. Without
    this, each full collection paused the event loop 120-210 ms under load (measured in
    asyncio debug mode; tests/test_load.py)."""
    gc.collect()
    gc.freeze()


def _refuse_oauth_switch() -> None:
    """Bolt silently turns into an OAuth app when both of these are set; habot is not one."""
    if os.environ.get("SLACK_CLIENT_ID") and os.environ.get("SLACK_CLIENT_SECRET"):
        log.warning("ignoring SLACK_CLIENT_ID/SLACK_CLIENT_SECRET: habot is a single-workspace app")
        os.environ.pop("SLACK_CLIENT_ID")
        os.environ.pop("SLACK_CLIENT_SECRET")


async def _serve(
    settings: Settings,
    tokens: SlackTokens,
    http_mode: bool,
    host: str,
    port: int,
    health_port: int | None,
) -> None:
    """Check the tokens with Slack, build habot, start serving, run until SIGTERM/SIGINT.
    A signal during any stage of the start stops it there, cleanly."""
    stop = _stop_event()
    _say_if_debugging()
    for weakening in settings.weakened():
        log.warning("four eyes weakened: %s", weakening)
    secrets = Secrets(os.environ)
    for pager in settings.paging.pagers:
        if not secrets.get(name := PAGER_KEYS[pager.value]):
            log.error("paging through %s is on but it has no key (keyring %s or %s): its "
                      "pages will be set aside and said in the alert's thread",
                      pager.label, name.keyring_name, name.env_var)  # fmt: skip
    base = api_url(os.environ)
    app_token = None if http_mode else tokens.app_token
    within = settings.slack.start_timeout
    identity = await _until(stop, verify_tokens(base, tokens.bot_token, app_token, within))
    if identity is None:
        click.echo("habot: stopped before it started")
        return
    log.info(
        "Slack accepted the tokens (workspace %s, bot user %s)", identity.team, identity.user_id
    )
    metrics = Metrics()
    app = build_app(tokens, base)
    policy = RolePolicy.of(
        settings.roles.viewers, settings.roles.operators, settings.roles.approvers
    )
    directory = GroupDirectory(app.client, policy)
    # The outbox retries by itself (honouring Retry-After), so its client does not.
    client = AsyncWebClient(token=tokens.bot_token, base_url=app.client.base_url, retry_handlers=[])
    pages = configured_sender(settings, secrets, metrics)
    slack = SlackSide(
        sender=PagesApart(SlackSender(client, metrics), pages),
        secrets=SlackSecretTeller(app.client),
        home=SlackHome(app.client, directory),
        on_busy=metrics.db_busy.inc,
        on_dead=metrics.dead_letter,
        telemetry=metrics,
        approvers=directory,
        oncall=_oncall(settings, secrets, directory),
        zones=directory,
        names=directory,
        workspace=identity.url,
    )
    async with AsyncExitStack() as stack:
        stack.push_async_callback(pages.close)
        opening = stack.enter_async_context(Habot.open(settings, secrets, slack=slack))
        habot = await _until(stop, opening)
        start = Start(settings, app, tokens, metrics, directory, stack)
        if (
            habot is None
            or await _until(stop, start.serve(habot, http_mode, host, port, health_port)) is None
        ):
            click.echo("habot: stopped before it was ready")
            return
        metrics.up.set(1)
        await stop.wait()
        metrics.up.set(0)
        click.echo("habot: stopping")


def _oncall(
    settings: Settings, secrets: Secrets, directory: GroupDirectory
) -> PagerDutyOnCall | None:
    """PagerDuty's on-call people as escalation level 1, when [paging] oncall_schedules."""
    paging = settings.paging
    if not paging.oncall_schedules:
        return None
    if not secrets.get(PAGERDUTY_API_TOKEN):
        log.error("[paging] oncall_schedules is set but there is no PagerDuty REST token "
                  "(keyring %s or %s): level 1 will be asked as configured",
                  PAGERDUTY_API_TOKEN.keyring_name, PAGERDUTY_API_TOKEN.env_var)  # fmt: skip
    return PagerDutyOnCall(
        api_url=paging.pagerduty_api_url,
        schedules=paging.oncall_schedules,
        token=lambda: secrets.get(PAGERDUTY_API_TOKEN),
        slack_user=directory.user_by_email,
    )


def _say_if_debugging() -> None:
    loop = asyncio.get_running_loop()
    if loop.get_debug():  # PYTHONASYNCIODEBUG=1 or python -X dev
        log.warning(
            "asyncio debug mode on: callbacks over %.0f ms are reported",
            loop.slow_callback_duration * 1000,
        )


async def _until(stop: asyncio.Event, work: Awaitable[_T]) -> _T | None:
    """``work``'s result — or None when SIGTERM/SIGINT comes first (``work`` is then
    cancelled and its cleanup runs)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


@dataclass
class Start:
    """The last stage of the start: recovery, listeners, the scheduler, then Slack."""

    settings: Settings
    app: AsyncApp
    tokens: SlackTokens
    metrics: Metrics
    directory: GroupDirectory
    stack: AsyncExitStack

    async def serve(
        self, habot: Habot, http_mode: bool, host: str, port: int, health_port: int | None
    ) -> bool:
        """Start everything; True once Slack's requests are being served."""
        serving = habot.serving
        assert serving is not None
        leadership, metrics, stack = serving.leadership, self.metrics, self.stack
        metrics.leader.set_function(lambda: float(leadership.leading))
        interrupted = await serving.operations.recover()
        if interrupted:
            log.warning("%s interrupted by a restart: marked unknown",
                        plural(interrupted, "operation was", "operations were"))  # fmt: skip
        replies = await stack.enter_async_context(Replies())
        SlackHandlers(
            commands=serving.commands,
            operations=serving.operations,
            directory=self.directory,
            metrics=metrics,
            command=self.settings.slack.command,
            pairs=[p.name for p in self.settings.pairs],
            home=serving.homes,
            replies=replies,
            alerter=habot.alerter,
            alert_channel=self.settings.slack.alert_channel,
            files=FileSender(self.app.client, metrics),
        ).register(self.app)
        _freeze_startup_objects()
        jobs = serving.jobs(habot)
        scheduler = build_scheduler(
            self.settings, jobs, leader=leadership.held, count=metrics.job_ran, outage=habot.outage
        )
        # The scheduler wakes up in the caller's context: give it none (no request's tags).
        leadership.on_lead = lambda: contextvars.Context().run(
            scheduler.modify_job, "status_poll", next_run_time=utc_now()
        )
        scheduler.start()
        stack.callback(scheduler.shutdown, wait=False)
        stack.push_async_callback(serving.operations.drain)  # runs finish while the outbox runs
        health = Health(
            database=habot.stores.ping,
            mode="http" if http_mode else "socket",
            scheduler_running=lambda: scheduler.running,
            leading=lambda: leadership.leading,
        )
        gate = partial(EventGate, shared=habot.stores.seen, outage=habot.outage)
        await _listen(
            self.app, self.tokens, health, metrics, stack, http_mode, host, port, health_port,
            gate,
        )  # fmt: skip
        return True


async def _listen(
    app: AsyncApp,
    tokens: SlackTokens,
    health: Health,
    metrics: Metrics,
    stack: AsyncExitStack,
    http_mode: bool,
    host: str,
    port: int,
    health_port: int | None,
    gate: Callable[[AsyncApp, str], EventGate],
) -> None:
    """Serve Slack: HTTP mode on host:port (signed requests through ``gate``), or Socket
    Mode (plus health on health_port)."""
    if http_mode:
        secret = tokens.signing_secret or ""
        served = web_application(app, health, metrics, secret, gate)
        runner = await start_site(served, host, port)
        stack.push_async_callback(runner.cleanup)
        bound = bound_port(runner, port)
        click.echo(serving_line(host, bound))
        return
    handler = socket_mode_handler(app, tokens)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    stack.push_async_callback(handler.close_async)
    if health_port:
        site = await start_site(web_application(None, health, metrics), host, health_port)
        stack.push_async_callback(site.cleanup)
    click.echo("habot: connected to Slack in Socket Mode")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
