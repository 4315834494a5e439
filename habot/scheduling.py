"""APScheduler 3.x inside `habot run`: jobs never overlap, missed runs are not replayed in
a burst, and a failing job is logged and tried again at its next interval."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from habot.core.cron import parse_crontab

if TYPE_CHECKING:
    from habot.config import Settings

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[Any]]
#: A digest delayed by a busy loop or a short stall still goes out; one missed because
#: habot was down for longer is skipped (never posted in a burst on the next start).
DIGEST_GRACE = 15 * 60


def cron_trigger(line: str, zone: ZoneInfo) -> CronTrigger:
    """A crontab line as a trigger, weekdays numbered as cron numbers them."""
    f = parse_crontab(line)
    return CronTrigger(
        minute=f.minute,
        hour=f.hour,
        day=f.day,
        month=f.month,
        day_of_week=f.day_of_week,
        timezone=zone,
    )


def logged(name: str, job: Job) -> Callable[[], Awaitable[None]]:
    """Wrap a job so an exception is logged once and the scheduler carries on."""

    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled job %r failed; it runs again at its next interval", name)

    return run


def build_scheduler(
    settings: Settings,
    poll: Job,
    expire: Job,
    deliver: Job | None = None,
    digest: Job | None = None,
) -> AsyncIOScheduler:
    """The scheduler: status poll, approval expiry sweep and (optionally) outbox delivery
    and the daily digest on ``digest_cron`` in the configured time zone."""
    every = settings.schedule.status_every.total_seconds()
    sweep = max(min(settings.approval.ttl.total_seconds() / 3, 5.0), 0.5)
    scheduler = AsyncIOScheduler(
        timezone=ZoneInfo(settings.schedule.timezone),
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    scheduler.add_job(
        logged("status poll", poll),
        "interval",
        seconds=every,
        id="status_poll",
        misfire_grace_time=max(int(every), 1),
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        logged("approval expiry", expire),
        "interval",
        seconds=sweep,
        id="approval_expiry",
        misfire_grace_time=max(int(sweep), 1),
    )
    if deliver is not None:
        scheduler.add_job(
            logged("outbox delivery", deliver),
            "interval",
            seconds=1,
            id="outbox",
            misfire_grace_time=1,
        )
    cron = settings.schedule.digest_cron.strip()
    if digest is not None and cron:
        scheduler.add_job(
            logged("daily digest", digest),
            cron_trigger(cron, ZoneInfo(settings.schedule.timezone)),
            id="digest",
            misfire_grace_time=DIGEST_GRACE,
        )
    return scheduler
