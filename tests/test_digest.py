"""The daily digest: uptime per pair over the last day, honest about unobserved time."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from habot.cli.render import digest_text
from habot.config import Settings, parse_settings
from habot.core.cron import weekday_names
from habot.core.digest import MAX_PAIRS_IN_DIGEST, Digest, Sample, digest_message, uptime
from habot.core.freeze import Freeze
from habot.core.model import Health, NodeState, Verdict
from habot.errors import ConfigError
from habot.scheduling import Jobs, build_scheduler
from habot.services.digest import DigestService
from habot.services.freezes import FreezeService
from habot.services.ports import Stores
from tests.kit.digest import CONFIG, settings
from tests.kit.factories import Clock
from tests.kit.fakeslack import FakeSlack
from tests.kit.outbox import worker
from tests.kit.readings import BAD, GOOD, T0
from tests.kit.slackcheck import problems_in_blocks

END = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
START = END - timedelta(days=1)
EVERY = timedelta(minutes=5)
A, SB, PA, U = NodeState.ACTIVE, NodeState.STANDBY, NodeState.PROMOTED_ACTIVE, NodeState.UNREACHABLE
BAU = Sample(START, Verdict.BAU, A, SB, Health.OK)


def day(bad_from: int | None = None, bad_to: int | None = None, **bad: Any) -> list[Sample]:
    """A reading every 5 min for the day; hours [bad_from, bad_to) replaced by ``bad``."""
    samples = []
    at = START
    while at < END:
        hour = (at - START) / timedelta(hours=1)
        broken = bad_from is not None and bad_to is not None and bad_from <= hour < bad_to
        samples.append(Sample(at, **bad) if broken else Sample(at, Verdict.BAU, A, SB))
        at += EVERY
    return samples


def test_a_clean_day_is_fully_observed_and_fully_up() -> None:
    """288 BAU readings: observed all day, serving and BAU 100 %, no episodes."""
    result = uptime("prod", day(), START, END, 2 * EVERY)
    assert result.observed == timedelta(days=1)
    assert (result.share(result.serving), result.share(result.healthy)) == (100.0, 100.0)
    assert result.episodes == 0


def test_an_hour_failed_over_is_served_but_not_bau() -> None:
    """Failed over for one hour: users were served all day, the pair was BAU 23 of 24 hours."""
    samples = day(10, 11, verdict=Verdict.FAILED_OVER, primary=U, secondary=PA)
    result = uptime("prod", samples, START, END, 2 * EVERY)
    assert result.share(result.serving) == 100.0
    assert result.share(result.healthy) == pytest.approx(100 * 23 / 24)
    assert result.episodes == 1


def test_an_outage_of_both_nodes_is_not_serving() -> None:
    """Two hours with neither node reachable count against serving too."""
    samples = day(3, 5, verdict=Verdict.UNREACHABLE, primary=U, secondary=U)
    result = uptime("prod", samples, START, END, 2 * EVERY)
    assert result.share(result.serving) == pytest.approx(100 * 22 / 24)
    assert result.share(result.healthy) == pytest.approx(100 * 22 / 24)


def test_time_without_readings_is_unobserved_not_up() -> None:
    """habot stopped for six hours: those hours are neither up nor down, and the post says so."""
    samples = [
        s for s in day() if not (START + timedelta(hours=6) <= s.at < START + timedelta(hours=12))
    ]
    result = uptime("prod", samples, START, END, 2 * EVERY)
    # the reading just before the gap stands for 2 intervals (max_gap), i.e. one extra
    assert result.observed == timedelta(hours=18) + EVERY
    assert result.share(result.healthy) == 100.0
    text = digest_message(Digest(tuple([result]), {}, END, 24)).blocks[1]["text"]["text"]
    assert "observed 75.3% of the window" in text


def test_flapping_counts_each_episode() -> None:
    """BAU and Degraded alternating: every return to trouble is a new episode."""
    samples = [
        Sample(START + i * EVERY, Verdict.BAU, A, SB, Health.DEGRADED if i % 2 else Health.OK)
        for i in range(10)
    ]
    assert uptime("prod", samples, START, END, 2 * EVERY).episodes == 5


def test_readings_outside_the_window_are_ignored() -> None:
    """A reading from before the window does not stretch into it."""
    old = Sample(START - timedelta(hours=1), Verdict.UNREACHABLE, U, U)
    assert uptime("prod", [old], START, END, 2 * EVERY).latest is None


def test_the_digest_lists_worst_first_and_names_a_silent_pair() -> None:
    """Pairs are ranked by BAU share; a pair with no readings says habot may not be polling."""
    good = uptime("prod", day(), START, END, 2 * EVERY)
    bad = uptime(
        "dr",
        day(12, 24, verdict=Verdict.SPLIT_BRAIN, primary=A, secondary=PA),
        START,
        END,
        2 * EVERY,
    )
    silent = uptime("lab", [], START, END, 2 * EVERY)
    message = digest_message(
        Digest(tuple([good, bad, silent]), {"dr": END + timedelta(hours=2)}, END, 24)
    )
    lines = [b["text"]["text"] for b in message.blocks if b["type"] == "section"][1:]
    assert [line.split("*")[1] for line in lines] == ["lab", "dr", "prod"]
    assert "no readings in this window" in lines[0]
    assert "serving 100% · BAU 50.0% · 1 episode off BAU" in lines[1]
    assert "muted until <!date^1795690800^{date_short_pretty} at {time}|11:00 UTC>" in lines[1]
    assert "serving 100% · BAU 100% · 0 episodes" in lines[2]
    assert message.text == "HA daily summary: 3 pairs, 2 not in BAU now"
    assert message.in_channel


def test_a_digest_of_many_pairs_stays_within_slack_limits() -> None:
    """Sixty pairs: valid Block Kit, ≤ 50 blocks, and the pairs left out are still named."""
    items = [uptime(f"pair{i:02d}", day(), START, END, 2 * EVERY) for i in range(60)]
    message = digest_message(Digest(tuple(items), {}, END, 24))
    assert problems_in_blocks(message.blocks) == []
    assert len([b for b in message.blocks if b["type"] == "section"]) == 1 + MAX_PAIRS_IN_DIGEST
    assert "pair59" in message.blocks[-2]["elements"][0]["text"]


async def nothing() -> None:
    """A job that does nothing."""


def digest_service(settings: Settings, stores: Stores, clock: Clock) -> DigestService:
    return DigestService(
        settings=settings,
        readings=stores.readings,
        alerts=stores.alerts,
        outbox=stores.outbox,
        clock=clock,
    )


async def test_the_digest_goes_to_the_alert_channel_through_the_outbox(
    memory: Stores, fake: FakeSlack
) -> None:
    """Stored readings → digest queued → delivered to the alert channel by the outbox worker."""
    clock = Clock(T0 + timedelta(hours=1))
    for minutes, status in ((0, GOOD), (5, BAD), (10, BAD), (15, GOOD)):
        await memory.readings.add(replace(status, observed_at=T0 + timedelta(minutes=minutes)))
    service = digest_service(settings(), memory, clock)
    assert await service.post() is not None
    assert await worker(memory.outbox, fake, clock).deliver_due() == 1
    [post] = fake.calls_to("chat.postMessage")
    assert post.args["channel"] == "C0ALERTS"
    text = json.dumps(post.args["blocks"])
    # observed: 3 × 5 min + the last reading's 10 min (2 × the 5 min interval) = 25 min;
    # BAU for 5 + 10 of them
    assert "BAU 60.0%" in text
    assert "1 episode off BAU" in text


async def test_the_digest_shows_a_freeze_and_its_end(memory: Stores) -> None:
    """A pair under a change freeze says so in the digest — in Slack as a Slack date, on the
    command line in UTC — with its reason."""
    clock = Clock(T0 + timedelta(hours=1))
    ends = T0 + timedelta(days=2)
    await memory.freezes.add(Freeze("f1", ("prod",), T0, ends, "month-end close", "U0LEAD1"), None)
    service = DigestService(
        settings=settings(), readings=memory.readings, alerts=memory.alerts,
        outbox=memory.outbox, clock=clock, freezes=FreezeService(memory.freezes, clock),
    )  # fmt: skip
    digest = await service.build()
    text = json.dumps(digest_message(digest).blocks)
    assert f":snowflake: frozen until <!date^{int(ends.timestamp())}^" in text
    assert "month-end close" in text
    assert f"frozen until {ends:%Y-%m-%d %H:%M} UTC: month-end close" in digest_text(digest)


async def test_no_alert_channel_means_no_digest(memory: Stores) -> None:
    """Without an alert channel there is nowhere to post: nothing is queued."""
    bare = parse_settings({**CONFIG, "slack": {}}, "test")
    service = digest_service(bare, memory, Clock())
    assert await service.post() is None
    assert await memory.outbox.lanes() == []


def test_digest_runs_on_its_cron_in_the_configured_zone() -> None:
    """ "0 9 * * 1-5" in Europe/London: after Saturday noon the next run is Monday 09:00 BST."""
    scheduler = build_scheduler(
        settings(digest_cron="0 9 * * 1-5", timezone="Europe/London"),
        Jobs(nothing, nothing, nothing, nothing),
    )
    trigger = scheduler.get_job("digest").trigger
    saturday = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, saturday)
    assert (fire.date().isoformat(), fire.hour, fire.utcoffset()) == (
        "2026-07-06",
        9,
        timedelta(hours=1),
    )


def test_an_empty_digest_cron_means_no_digest() -> None:
    """digest_cron = "" turns the digest off."""
    scheduler = build_scheduler(settings(digest_cron=""), Jobs(nothing, nothing, nothing, nothing))
    assert scheduler.get_job("digest") is None


def test_a_digest_needs_a_day_of_readings_kept() -> None:
    """keep_readings shorter than the digest's day is refused with the reason."""
    with pytest.raises(ConfigError, match="keep_readings must be at least 1d"):
        settings(keep_readings="6h")
    assert settings(keep_readings="6h", digest_cron="").schedule.keep_readings == timedelta(hours=6)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("mon,wed", "mon,wed"),
        ("MON-FRI", "mon,tue,wed,thu,fri"),
        ("1/3", "mon,thu"),
    ],
)
def test_weekdays_are_numbered_as_cron_numbers_them(field: str, names: str) -> None:
    """0 and 7 are Sunday, 1 is Monday (APScheduler 3.x alone would read 1-5 as Tue-Sat)."""
    assert weekday_names(field) == names


@pytest.mark.parametrize("field", ["8", "5-1", "*/0", "funday", "1-"])
def test_a_bad_weekday_field_is_refused(field: str) -> None:
    """Out of range, backwards, a zero step or a made-up name: ValueError with the reason."""
    with pytest.raises(ValueError, match=r"weekday|step|not a"):
        weekday_names(field)


def test_a_bad_digest_cron_is_a_config_error_naming_the_field() -> None:
    """A crontab line with a bad weekday is refused when the configuration is loaded."""
    with pytest.raises(ConfigError, match=r"digest_cron.*weekdays are 0-7"):
        settings(digest_cron="0 9 * * 9")
