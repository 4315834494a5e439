"""`habot run`: serve Slack in Socket Mode (default) or HTTP mode."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import click
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from habot.config import Settings, load_settings
from habot.core.roles import RolePolicy
from habot.runtime import Runtime, open_runtime, open_store, utc_now
from habot.scheduling import Jobs, build_scheduler
from habot.secrets import AUDIT_KEY, Secrets
from habot.services.alerting import Alerter
from habot.services.anchoring import AnchorService
from habot.services.commands import CommandService
from habot.services.digest import DigestService
from habot.services.home import HomeRefresher, HomeService
from habot.services.leader import Heartbeat, Leadership
from habot.services.monitor import Monitor
from habot.services.operations import OperationService
from habot.services.outbox import OutboxNotifier, OutboxWorker
from habot.slack.app import (
    EVENTS_PATH,
    Health,
    SlackTokens,
    api_url,
    build_app,
    slack_tokens,
    socket_mode_handler,
    start_site,
    web_application,
)
from habot.slack.directory import GroupDirectory
from habot.slack.handlers import SlackHandlers
from habot.slack.home import SlackHome
from habot.slack.metrics import Metrics
from habot.slack.notifier import SlackSecretTeller
from habot.slack.replies import Replies
from habot.slack.sender import SlackSender
from habot.store.alert_state import AlertStateStore
from habot.store.audit import AuditStore
from habot.store.home_viewers import ViewerStore
from habot.store.kept_readings import KeptReadingStore
from habot.store.leases import LeaseStore
from habot.store.outbox import OutboxStore
from habot.store.readings import ReadingStore
from habot.store.requests import RequestStore

log = logging.getLogger(__name__)


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
    help="HTTP mode: port for /slack/events, /healthz and /metrics.",
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
    stop = _stop_event()
    loop = asyncio.get_running_loop()
    if loop.get_debug():  # PYTHONASYNCIODEBUG=1 or python -X dev
        log.warning(
            "asyncio debug mode on: callbacks over %.0f ms are reported",
            loop.slow_callback_duration * 1000,
        )
    metrics = Metrics()
    engine, store = open_store(settings)
    app = build_app(tokens, api_url(os.environ))
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(open_runtime(settings))
        leadership = Leadership(LeaseStore(engine), utc_now)
        metrics.leader.set_function(lambda: float(leadership.leading))
        stack.push_async_callback(leadership.release)
        heartbeat = Heartbeat(LeaseStore(engine), leadership.me, utc_now)
        heartbeat.start()  # beats once first, so this replica counts as alive in recovery
        stack.callback(heartbeat.stop)  # after the drain below: LIFO
        jobs, drain = await _wire(
            settings, engine, store, app, tokens, runtime, metrics, leadership, stack
        )
        _freeze_startup_objects()
        scheduler = build_scheduler(settings, jobs, leader=leadership.held, count=metrics.job_ran)
        leadership.on_lead = lambda: scheduler.modify_job("status_poll", next_run_time=utc_now())
        scheduler.start()
        stack.callback(scheduler.shutdown, wait=False)
        stack.push_async_callback(drain)  # running operations finish while the outbox runs
        health = Health(
            engine,
            "http" if http_mode else "socket",
            lambda: scheduler.running,
            lambda: leadership.leading,
        )
        await _listen(app, tokens, health, metrics, stack, http_mode, host, port, health_port)
        metrics.up.set(1)
        await stop.wait()
        metrics.up.set(0)
        click.echo("habot: stopping")
    engine.dispose()


async def _wire(
    settings: Settings,
    engine: Engine,
    store: AuditStore,
    app: AsyncApp,
    tokens: SlackTokens,
    runtime: Runtime,
    metrics: Metrics,
    leadership: Leadership,
    stack: AsyncExitStack,
) -> tuple[Jobs, Callable[[], Awaitable[None]]]:
    """Build the services over the stores, register the Slack listeners, and return the
    scheduled jobs and how to drain running operations. Cleanup is pushed on ``stack``."""
    policy = RolePolicy.of(
        settings.roles.viewers, settings.roles.operators, settings.roles.approvers
    )
    directory = GroupDirectory(app.client, policy, utc_now)
    outbox, kept = OutboxStore(engine), KeptReadingStore(engine)
    # The outbox retries by itself (honouring Retry-After), so its client does not.
    client = AsyncWebClient(token=tokens.bot_token, base_url=app.client.base_url, retry_handlers=[])
    worker = OutboxWorker(
        outbox,
        SlackSender(client),
        utc_now,
        leader=leadership.held,
        on_dead=metrics.dead_letter,
    )
    stack.push_async_callback(worker.close)
    home = HomeService(
        settings,
        ReadingStore(engine),
        AlertStateStore(engine),
        RequestStore(engine),
        store,
        utc_now,
        ViewerStore(engine),
    )
    homes = HomeRefresher(home, SlackHome(app.client, directory))
    stack.push_async_callback(homes.close)
    alerter = Alerter(settings, AlertStateStore(engine), outbox, utc_now)
    operations = OperationService(
        settings,
        runtime.status,
        runtime.executor,
        RequestStore(engine),
        store,
        OutboxNotifier(outbox, SlackSecretTeller(app.client), utc_now, kick=worker.kick),
        utc_now,
        on_change=homes.refresh,
        replica=leadership.me,
        alive=leadership.alive,
        announce=alerter.announce,
        on_busy=metrics.db_busy.inc,
    )
    interrupted = await operations.recover()
    if interrupted:
        log.warning("%d operation(s) were interrupted by a restart: marked unknown", interrupted)
    commands = CommandService(
        settings,
        runtime.status,
        runtime.executor,
        store,
        utc_now,
        readings=kept,
        operations=operations,
        alert_states=AlertStateStore(engine),
    )
    pairs = [p.name for p in settings.pairs]
    replies = await stack.enter_async_context(Replies())
    SlackHandlers(
        commands,
        operations,
        directory,
        metrics,
        settings.slack.command,
        pairs,
        homes,
        replies=replies,
    ).register(app)
    monitor = Monitor(
        settings,
        runtime.status,
        ReadingStore(engine),
        RequestStore(engine),
        utc_now,
        alerter,
        on_change=homes.refresh,
        prune=(outbox.prune_sync, kept.prune_sync),
    )
    digest = DigestService(settings, ReadingStore(engine), AlertStateStore(engine), outbox, utc_now)
    anchors = AnchorService(settings, store, outbox, utc_now, Secrets(os.environ).get(AUDIT_KEY))
    jobs = Jobs(
        poll=monitor.poll,
        housekeeping=operations.housekeeping,
        deliver=worker.deliver_due,
        digest=digest.post,
        anchor=anchors.post,
    )
    return jobs, operations.drain


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
) -> None:
    """Serve Slack: HTTP mode on host:port, or Socket Mode (plus health on health_port)."""
    if http_mode:
        secret = tokens.signing_secret or ""
        runner = await start_site(web_application(app, health, metrics, secret), host, port)
        stack.push_async_callback(runner.cleanup)
        click.echo(f"habot: serving Slack over HTTP on http://{host}:{port}{EVENTS_PATH}")
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
