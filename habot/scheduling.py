"""APScheduler 3.x inside `habot run`: jobs never overlap, missed runs are not replayed in
a burst, and a failing job is logged and tried again at its next interval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from habot.config import Settings
from habot.core.firing import cron_trigger
from habot.errors import StoreError
from habot.services.outage import Outage

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[Any]]
Leader = Callable[[], Awaitable[bool]]
Count = Callable[[str, str], None]
#: A digest delayed by a busy loop or a short stall still goes out; one missed because
#: habot was down for longer is skipped (never posted in a burst on the next start).
DIGEST_GRACE = 15 * 60


def logged(
    name: str,
    job: Job,
    leader: Leader | None = None,
    count: Count | None = None,
    outage: Outage | None = None,
) -> Callable[[], Awaitable[None]]:
    """Wrap a job so it runs only on the leading replica (when there is a ``leader``
    check), an exception is logged once while the scheduler carries on, and each run is
    counted as ok, failed, standby — or cancelled, when shutdown cut it short (then it
    ends quietly: apscheduler would log the cancellation as a failure with a traceback).
    A database failure is no bug: it goes to ``outage``, said once per outage."""
    outage = outage or Outage()

    async def run() -> None:
        outcome = "ok"
        try:
            if leader is not None and not await leader():
                outcome = "standby"
                return
            await job()
        except asyncio.CancelledError:  # the process is stopping while the job runs
            outcome = "cancelled"
            log.info("scheduled job %r stopped: habot is shutting down", name)
        except StoreError as exc:
            outcome = "failed"
            outage.failed(exc, f"scheduled job {name!r}; it runs again at its next interval")
        except Exception:
            outcome = "failed"
            log.exception("scheduled job %r failed; it runs again at its next interval", name)
        finally:
            log.debug("scheduled job %r: %s", name, outcome)
            if count is not None:
                count(name, outcome)

    return run


SIEM_EVERY = 2.0  # seconds between rounds of the SIEM forwarder


@dataclass(frozen=True)
class Jobs:
    """What the scheduler runs (on the leading replica only, when there is a leader). The
    replica heartbeat is not here: it runs on its own thread (services.leader.Heartbeat)."""

    poll: Job  # status of every pair → readings, alerts, Home refresh
    housekeeping: Job  # approval expiry, interrupted operations
    deliver: Job | None = None  # the outbox
    digest: Job | None = None  # on digest_cron
    anchor: Job | None = None  # the audit anchor, every anchor_every
    siem: Job | None = None  # the audit to the SIEM ([siem] target), every 2 s


def build_scheduler(
    settings: Settings,
    jobs: Jobs,
    leader: Leader | None = None,
    count: Count | None = None,
    outage: Outage | None = None,
) -> AsyncIOScheduler:
    """The scheduler: status poll (first run at once), housekeeping, outbox delivery every
    second, the audit anchor every ``anchor_every``, and the digest on
    ``digest_cron`` in the configured time zone. With
    ``leader``, the jobs run only while this replica leads."""
    every = settings.schedule.status_every.total_seconds()
    sweep = max(min(settings.approval.ttl.total_seconds() / 3, 5.0), 0.5)
    zone = ZoneInfo(settings.schedule.timezone)
    scheduler = AsyncIOScheduler(timezone=zone, job_defaults={"coalesce": True, "max_instances": 1})

    def every_(
        name: str, job: Job | None, seconds: float, lead: Leader | None, **extra: Any
    ) -> None:
        if job is not None:
            scheduler.add_job(
                logged(name, job, lead, count, outage),
                "interval",
                seconds=seconds,
                id=name.replace(" ", "_"),
                name=name,
                misfire_grace_time=max(int(seconds), 1),
                **extra,
            )

    every_("status poll", jobs.poll, every, leader, next_run_time=datetime.now(UTC))
    every_("housekeeping", jobs.housekeeping, sweep, leader)
    every_("outbox", jobs.deliver, 1, leader)
    every_("audit anchor", jobs.anchor, settings.schedule.anchor_every.total_seconds(), leader)
    every_("siem", jobs.siem, SIEM_EVERY, leader)
    cron = settings.schedule.digest_cron.strip()
    if jobs.digest is not None and cron:
        scheduler.add_job(
            logged("daily digest", jobs.digest, leader, count, outage),
            cron_trigger(cron, zone),
            id="digest",
            name="daily digest",
            misfire_grace_time=DIGEST_GRACE,
        )
    return scheduler
