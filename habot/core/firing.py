"""When a crontab line fires, through APScheduler's CronTrigger (weekdays numbered as cron
numbers them: :mod:`habot.core.cron`). Kept apart from the crontab checks, so loading the
configuration never loads the scheduler."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from habot.core.cron import parse_crontab


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


def starts_between(line: str, zone: ZoneInfo, since: datetime, until: datetime) -> list[datetime]:
    """Every moment the crontab line fires from ``since`` to ``until`` (at most 100)."""
    trigger = cron_trigger(line, zone)
    found: list[datetime] = []
    at = trigger.get_next_fire_time(None, since)
    while at is not None and at <= until and len(found) < 100:
        found.append(at)
        at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    return found
