"""/metrics, read with Prometheus's own parser: each pair's verdict and reading age, the
scheduled tasks, the outbox backlog, and how long SSH commands, polls and Slack calls took."""

from __future__ import annotations

from pathlib import Path

from habot.core.model import Verdict
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import FakeSlack
from tests.kit.metrics import scrape, value
from tests.kit.slack import CONFIG, LEAD, ask, cards, click, final_card


async def test_metrics_say_each_pairs_verdict_and_what_habot_spent_its_time_on(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """/metrics says each pair's verdict and how long habot's SSH, Slack and operations took."""
    await sim.apply("dr", "primary", "down")
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG)
    try:
        await ask(bot, fake, "switchover prod")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await final_card(fake, "Succeeded")
        found = await scrape(bot)
    finally:
        await bot.stop()
    for pair, verdict in (("prod", Verdict.BAU), ("dr", Verdict.PRIMARY_DOWN)):
        shown = {ls["verdict"]: v for ls, v in found["habot_pair_verdict"] if ls["pair"] == pair}
        assert shown == {v.value: float(v is verdict) for v in Verdict}
        assert 0 <= value(found, "habot_pair_reading_age_seconds", pair=pair) < 120
        assert value(found, "habot_pair_reading_timestamp_seconds", pair=pair) > 1.7e9
    assert value(found, "habot_scheduled_jobs_total", task="status poll", outcome="ok") >= 1
    assert value(found, "habot_duration_seconds_count", task="poll", kind="") >= 1
    assert value(found, "habot_duration_seconds_count", task="ssh", kind="read") >= 4
    assert value(found, "habot_duration_seconds_count", task="ssh", kind="change") == 1
    slack = value(found, "habot_duration_seconds_count", task="slack", kind="chat.postMessage")
    assert slack >= 1  # the approval card, at least
    assert value(found, "habot_outbox_backlog") >= 0
    assert value(found, "habot_scheduler_leader") == 1
    assert "habot_pair_bau" not in found  # declared and never set before: gone
