"""Logs that help at 3 a.m.: every line has its time; `--log-format json` gives one object
per line with the pair, request and user it is about; the scheduler names its jobs and
does not chatter; libraries that quote request bodies stay capped."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import pytest

from habot import logs
from habot.scheduling import Jobs, build_scheduler
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.digest import settings as digest_settings
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import CONFIG, LEAD, ask, cards, click, final_card


def record(
    name: str = "habot.x", level: int = logging.INFO, msg: str = "hello"
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, (), None)


def shown(formatter: logging.Formatter, rec: logging.LogRecord) -> str:
    logs.AboutFilter().filter(rec)
    return formatter.format(rec)


def test_a_text_line_has_its_time_and_what_it_is_about() -> None:
    """A text log line carries its UTC time, level, logger, message and what it is about."""
    with logs.about(pair="prod", request="a1b2c3d4"):
        line = shown(logs.TextFormatter(), record())
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO habot\.x: hello "
        r"\[pair=prod request=a1b2c3d4\]",
        line,
    )
    assert shown(logs.TextFormatter(), record()).endswith("habot.x: hello")  # left behind


def test_a_json_line_is_one_object_with_the_fields_known() -> None:
    """A JSON log line is one object with only the fields known."""
    with logs.about(user="U0OPS1"), logs.about(pair="dr"):
        line = shown(logs.JsonFormatter(), record(level=logging.WARNING))
    found = json.loads(line)
    assert set(found) == {"time", "level", "logger", "message", "pair", "user"}
    assert (found["level"], found["pair"], found["user"]) == ("WARNING", "dr", "U0OPS1")


def test_a_json_line_carries_an_exception_as_its_words_and_trace() -> None:
    """A JSON log line carries an exception's words and trace, still on one line."""
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        rec = logging.LogRecord("habot.x", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        rec.exc_info = sys.exc_info()
    found = json.loads(shown(logs.JsonFormatter(), rec))
    assert found["error"] == "ValueError: bad\nthing"
    assert "Traceback" in found["traceback"]
    assert "\n" not in shown(logs.JsonFormatter(), rec)  # still one line


def test_node_text_in_a_message_cannot_forge_a_line_or_act_on_a_terminal() -> None:
    """A disconnect reason or a question quoted from a node, with a newline and an escape
    in it, stays on its one text line, written out escaped."""
    rec = record(msg="connection lost: %s")
    rec.args = ("bye\n2026-01-01T00:00:00.000Z ERROR habot: forged\x1b[2J",)
    line = shown(logs.TextFormatter(), rec)
    assert "\n" not in line
    assert "\x1b" not in line
    assert line.endswith(
        "connection lost: bye\\n2026-01-01T00:00:00.000Z ERROR habot: forged\\x1b[2J"
    )


def test_what_a_line_is_about_cannot_forge_another_line_or_flood_it() -> None:
    """What a line is about can neither forge another line nor flood it."""
    with logs.about(request="x\n2026-01-01T00:00:00.000Z ERROR habot: forged"):
        line = shown(logs.TextFormatter(), record())
    assert "\n" not in line
    with logs.about(request="r" * 10_000):
        assert len(shown(logs.TextFormatter(), record())) < 120


@pytest.mark.parametrize("name", [*logs.BODY_LOGGERS, "apscheduler.executors.default"])
def test_noisy_libraries_stay_quiet_even_at_vv(name: str) -> None:
    """Noisy libraries stay at warnings even at -vv, while habot's own logs go to debug."""
    logs.configure(2)
    try:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
        assert logging.getLogger("habot.services").getEffectiveLevel() == logging.DEBUG
    finally:
        logs.configure(0)


async def nothing() -> None:
    """A job that does nothing."""


def test_scheduled_jobs_have_names() -> None:
    """Every scheduled job has a name people can read in the logs."""
    scheduler = build_scheduler(
        digest_settings(), Jobs(nothing, nothing, nothing, nothing, nothing)
    )
    names = {job.id: job.name for job in scheduler.get_jobs()}
    assert names == {
        "status_poll": "status poll",
        "housekeeping": "housekeeping",
        "outbox": "outbox",
        "audit_anchor": "audit anchor",
        "digest": "daily digest",
    }


async def test_the_bot_logs_json_an_operation_can_be_followed_by(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """`habot --log-format json -v run`: every line on stderr is a JSON object with a time;
    a switchover's lines carry its request id and pair, and who asked."""
    bot = await start_bot(
        sim, fake, tmp_path, http=True, extra=CONFIG, verbose=1, log_format="json"
    )
    try:
        await ask(bot, fake, "switchover prod")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await final_card(fake, "Succeeded")
        await asyncio.sleep(0.3)
    finally:
        log = await bot.stop()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    others = [line for line in log.splitlines() if line and not line.startswith("{")]
    assert all(o.startswith("habot: ") for o in others)  # only the CLI's own status lines
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    ran = [line for line in lines if line["message"].startswith("running switchover")]
    assert len(ran) == 1
    request = ran[0]["request"]
    run = [line for line in lines if line["logger"].startswith("habot.services.operations")]
    assert {(line.get("pair"), line.get("request")) for line in run} >= {("prod", request)}
    assert any(line["message"].startswith(f"request {request} ended succeeded") for line in run)
    asked = [line for line in lines if line["message"] == "asked for switchover on prod"]
    assert (asked[0]["user"], asked[0]["pair"]) == ("U0OPS1", "prod")
    [clicked] = [line for line in lines if line["message"].startswith("clicked approve")]
    assert (clicked["user"], clicked["request"]) == (LEAD, request)
    assert not any(line["logger"].startswith("apscheduler") for line in lines)


async def test_shared_background_work_does_not_carry_whoever_set_it_off() -> None:
    """A run started by a click is about that request; an outbox round or a Home refresh it
    kicks serves everyone, so its lines are about nobody."""
    from habot.services.background import Background

    seen: dict[str, str | None] = {}

    async def note(name: str) -> None:
        rec = record()
        logs.AboutFilter().filter(rec)
        seen[name] = getattr(rec, "request", None)

    background = Background()
    with logs.about(request="a1b2c3d4"):
        background.spawn(note("own"))
        background.spawn(note("shared"), shared=True)
    await background.drain()
    assert seen == {"own": "a1b2c3d4", "shared": None}
