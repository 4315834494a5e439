"""`habot run --http` as a real process: signed requests in, Slack-shaped replies out."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from habot.core.model import Role
from habot.sim.simulator import Simulator
from tests.kit.botproc import CHANNEL, SECRET, Bot, start_bot
from tests.kit.fakeslack import (
    FakeSlack,
    app_home_opened,
    block_action,
    form_body,
    interaction_body,
    signed_headers,
    slash_command,
)
from tests.kit.http import GROUPIE, OPERATOR, VIEWER, click_raw, command, post, reply, shown


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fake Slack on 127.0.0.1; U0GROUPIE is in the on-call user group."""
    slack = FakeSlack(groups={"S0ONCALL": [GROUPIE]})
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
async def bot(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot in HTTP mode."""
    running = await start_bot(sim, fake, tmp_path, http=True)
    yield running
    await running.stop()


async def audit_rows(bot: Bot) -> list[dict[str, Any]]:
    """The audit log, read through `habot audit list --json` (another real process)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "habot",
        "audit",
        "list",
        "--json",
        "--limit",
        "100",
        stdout=asyncio.subprocess.PIPE,
        env=bot.env(),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return [json.loads(line) for line in out.decode().splitlines()]


async def test_status_card_is_posted_to_the_channel(bot: Bot, fake: FakeSlack) -> None:
    """/ha status prod: ack, then an in-channel card from both nodes over real SSH."""
    message = await reply(bot, fake, "status prod")
    assert message["response_type"] == "in_channel"
    assert message["text"] == "prod: BAU"
    assert ":large_green_circle: *prod*: BAU" in shown(message)
    assert "10.20.0.12" in shown(message)
    assert fake.invalid == []
    [row] = [r for r in await audit_rows(bot) if r["kind"] == "status"]
    assert (row["actor"], row["pair"], row["outcome"]) == (VIEWER, "prod", "bau")
    assert (row["channel"], row["detail"]) == (
        CHANNEL,
        {"primary": "active", "secondary": "standby"},
    )
    assert row["duration_ms"] >= 0


async def test_ack_does_not_wait_for_ssh(bot: Bot, fake: FakeSlack, sim: Simulator) -> None:
    """With a slow node the HTTP ack returns before the status reply is posted."""
    await sim.apply("prod", "primary", "slow", "2")
    status, rid = await command(bot, fake, "status prod")
    assert status == 200
    assert fake.responses[rid] == []  # acked while SSH is still running
    message = await fake.response(rid)
    assert message["text"] == "prod: BAU"


async def test_forged_or_stale_signatures_get_401_and_run_nothing(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """A wrong signature or a timestamp older than 300 s is refused; nothing runs or is audited."""
    url, rid = fake.response_url()
    runs_before = len(sim.pairs["prod"].runs)
    body = form_body(slash_command("status prod", VIEWER, CHANNEL, url))
    forged = signed_headers("not-the-secret", body)
    stale = signed_headers(SECRET, body, timestamp=int(time.time()) - 301)
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    for headers in (forged, stale, unsigned):
        status, _ = await post(bot, body, headers)
        assert status == 401
    await asyncio.sleep(0.5)
    assert fake.responses[rid] == []
    assert len(sim.pairs["prod"].runs) == runs_before  # only the scheduler's own polls
    assert await audit_rows(bot) == []


async def test_unauthenticated_noise_gets_a_short_4xx_and_one_short_log_line(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Unsigned junk, a malformed or non-ASCII timestamp, a non-ASCII signature, a signed
    but unreadable payload and an oversized body: 401/400/413 (never 500), nothing runs,
    and at -v each costs one short log line that never holds the body (a newline in it
    cannot forge a log line)."""
    bot = await start_bot(sim, fake, tmp_path, http=True, verbose=1)
    forged_line = "payload=not-json\nERROR habot: FORGED LINE"
    junk_form = {"Content-Type": "application/x-www-form-urlencoded"}
    bad_time = {**signed_headers(SECRET, "x"), "X-Slack-Request-Timestamp": "soon"}
    signed_junk = "payload=not-json"
    # "²³" is a digit to str.isdigit() but not to int(); a non-ASCII signature breaks the
    # constant-time compare: each was an HTTP 500
    superscript = {**signed_headers(SECRET, "x"), "X-Slack-Request-Timestamp": "²³"}
    accented = {**signed_headers(SECRET, "x"), "X-Slack-Signature": "v0=ä" + "0" * 63}
    cases = [
        (forged_line, junk_form, 401),
        ("payload=%7B%7D", bad_time, 401),
        ("x", superscript, 401),
        ("x", accented, 401),
        (signed_junk, signed_headers(SECRET, signed_junk), 400),
        ("x" * 1_048_576, junk_form, 413),
    ]
    try:
        for body, headers, expected in cases:
            status, text = await post(bot, body, headers)
            assert (status, len(text) < 100) == (expected, True)
    finally:
        log = await bot.stop()
    assert "Traceback" not in log
    assert "FORGED LINE" not in log
    assert "not-json" not in log
    refused = [line for line in log.splitlines() if "refused a request" in line]
    assert len(refused) == 6
    assert all(len(line) < 200 for line in refused)
    assert fake.responses == {}


async def test_raw_output_is_one_click_away(bot: Bot, fake: FakeSlack) -> None:
    """The card's button shows both nodes' raw ha-status to the clicker only."""
    raw = await click_raw(bot, fake, await reply(bot, fake, "status prod"))
    assert raw["response_type"] == "ephemeral"
    assert raw["replace_original"] is False
    assert "High Availability status: OK" in shown(raw)
    assert "- this host" in shown(raw)


@pytest.mark.parametrize(
    ("action_id", "value"),
    [("raw_output", None), ("alert_fresh_status", "prod"), ("alert_open_request", "prod"),
     ("alert_acknowledge", "prod")],
)  # fmt: skip
async def test_every_button_is_refused_from_another_workspace(
    bot: Bot, fake: FakeSlack, action_id: str, value: str | None
) -> None:
    """Raw output, an alert's Fresh status, its remedy and Acknowledge: a click carrying
    another workspace's `team` (signed, as a Slack Connect channel could deliver it) is
    refused like an approval is — nothing shown, nothing done."""
    if value is None:  # the raw output of a real reading
        card = await reply(bot, fake, "status prod")
        [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
        value = actions["elements"][0]["value"]
    url, rid = fake.response_url()
    payload = block_action(action_id, value, "b1", VIEWER, CHANNEL, url)
    payload["team"]["id"] = payload["user"]["team_id"] = "T0OTHERORG"
    body = interaction_body(payload)
    status, _ = await post(bot, body, signed_headers(SECRET, body))
    assert status == 200
    answer = shown(await fake.response(rid))
    assert "another workspace than the one habot serves" in answer
    assert "High Availability status" not in answer


async def test_raw_output_survives_a_restart(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """The reading behind a card is kept in the database: after a restart (or on another
    replica) the button still shows it."""
    first = await start_bot(sim, fake, tmp_path, http=True)
    try:
        card = await reply(first, fake, "status prod")
    finally:
        await first.stop()
    second = await start_bot(sim, fake, tmp_path, http=True)
    try:
        raw = await click_raw(second, fake, card)
    finally:
        await second.stop()
    assert "High Availability status: OK" in shown(raw)


async def test_logs_are_shown_only_to_the_asker(bot: Bot, fake: FakeSlack, sim: Simulator) -> None:
    """/ha logs prod secondary 5: the tail of that node's HA log, ephemeral, audited."""
    sim.pairs["prod"].nodes[Role.SECONDARY].log.extend(f"line {i}" for i in range(10))
    message = await reply(bot, fake, "logs prod secondary 5")
    assert message["response_type"] == "ephemeral"
    text = shown(message)
    assert "line 9" in text
    assert "line 4" not in text
    assert "last 5 lines" in text
    [row] = [r for r in await audit_rows(bot) if r["kind"] == "logs"]
    assert row["node"] == "secondary"
    assert row["output_digest"].startswith("sha256:")


def long_log(sim: Simulator, lines: int = 200) -> list[str]:
    """Fill the Secondary's HA log with long lines (about 69,000 characters in 200)."""
    log = [f"line {i:03d} " + "x" * 330 for i in range(lines)]
    sim.pairs["prod"].nodes[Role.SECONDARY].log.extend(log)
    return log


async def test_long_logs_arrive_whole_as_a_file_with_their_head_inline(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """/ha logs prod secondary 200 (≈69k characters): the answer stays under Slack's size
    limit and shows the first lines; all 200 go to the asker's DM with habot as a file."""
    log = long_log(sim)
    message = await reply(bot, fake, "logs prod secondary 200")
    assert message["response_type"] == "ephemeral"
    text = shown(message)
    assert "line 000" in text
    assert "line 199" not in text
    assert "only its first part" in text
    assert "200 lines" in text
    [file] = fake.files.values()
    assert file.channel == "D" + VIEWER[1:]  # the asker's DM (conversations.open), not the channel
    assert file.content is not None
    assert file.content.decode().splitlines() == log
    assert file.title
    assert "last 200 lines of the HA command log" in file.title


async def test_a_file_slack_refuses_is_said_and_the_head_still_shown(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """When Slack will not take the file, the answer says so (with Slack's error) and what to
    do instead; it still fits and still shows the first lines."""
    long_log(sim)
    fake.fail_next["files.getUploadURLExternal"].append("not_allowed_token_type")
    message = await reply(bot, fake, "logs prod secondary 200")
    text = shown(message)
    assert "line 000" in text
    assert "could not send the whole of it as a file" in text
    assert "not_allowed_token_type" in text
    assert "fewer lines" in text
    assert not [f for f in fake.files.values() if f.content is not None]


async def test_missing_role_is_refused_and_audited(bot: Bot, fake: FakeSlack) -> None:
    """A viewer asking for a failover is told which role is missing; the refusal is audited."""
    message = await reply(bot, fake, "failover prod", user=VIEWER)
    assert message["response_type"] == "ephemeral"
    assert "needs the *operator* role" in shown(message)
    [row] = await audit_rows(bot)
    assert (row["kind"], row["outcome"], row["actor"]) == ("refused", "refused", VIEWER)


async def test_operator_through_user_group_may_request(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """A member of an operator user group passes the role check: a card is posted, and
    nothing runs before approval."""
    message = await reply(bot, fake, "switchover prod", user=GROUPIE)
    assert "approval needed" in shown(message)
    assert fake.calls_to("usergroups.users.list")[0].args["usergroup"] == "S0ONCALL"
    [card] = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))  # via the outbox
    assert card.args["channel"] == CHANNEL
    assert [r for r in sim.pairs["prod"].runs if r[1] != "ha-status"] == []


async def test_help_lists_only_what_the_caller_may_do(bot: Bot, fake: FakeSlack) -> None:
    """A viewer's help has no operations; an operator's has them."""
    viewer = shown(await reply(bot, fake, "help", user=VIEWER))
    operator = shown(await reply(bot, fake, "help", user=OPERATOR))
    assert "/ha status" in viewer
    assert "/ha failover" not in viewer
    assert "/ha cancel" not in viewer  # a viewer can have no request of their own to cancel
    assert "/ha failover" in operator
    assert "/ha cancel" in operator


@pytest.mark.parametrize(
    "text",
    [
        "status prod; rm -rf /",
        "status `reboot`",
        "logs prod secondary\n; reboot",
        "status " + "é" * 600,
        "logs $(id) 5",
        "nonsense",
    ],
)
async def test_hostile_input_gets_usage_and_reaches_no_node(
    bot: Bot, fake: FakeSlack, sim: Simulator, text: str
) -> None:
    """Injection attempts and junk get an ephemeral usage message; no SSH command runs."""
    runs_before = len(sim.pairs["prod"].runs)
    message = await reply(bot, fake, text)
    assert message["response_type"] == "ephemeral"
    assert ":grey_question:" in shown(message)
    assert len(sim.pairs["prod"].runs) == runs_before


async def test_commands_outside_the_allowed_channels_are_refused(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """Only the configured channels take commands; elsewhere the reply says where to go."""
    runs_before = len(sim.pairs["prod"].runs)
    message = await reply(bot, fake, "status prod", channel="C0ELSEWHERE")
    assert "only takes commands in <#C0HAOPS>" in shown(message)
    assert len(sim.pairs["prod"].runs) == runs_before


async def test_history_reads_as_a_timeline_and_a_long_one_comes_whole_as_a_file(
    bot: Bot, fake: FakeSlack
) -> None:
    """/ha history: one sentence per event, newest first, the asker as a mention; past
    the first 15 events, all of them go to the asker's DM as a file, linked."""
    await reply(bot, fake, "status dr")
    message = await reply(bot, fake, "history 5")
    assert message["response_type"] == "ephemeral"
    assert f"<@{VIEWER}> read the status on dr: BAU" in shown(message)
    assert not fake.files
    for _ in range(16):
        await reply(bot, fake, "status dr")
    text = shown(await reply(bot, fake, "history 20"))
    assert text.count("read the status on dr") == 15
    # 17 reads in the audit (the history asked for 20): all 17 in the file
    assert "The newest 15 events are here. The whole recent events (17 lines) is in" in text
    [file] = fake.files.values()
    assert file.channel == "D" + VIEWER[1:]
    assert file.content is not None
    assert len(file.content.decode().splitlines()) == 17
    assert f"@{VIEWER} read the status on dr: BAU" in file.content.decode()


async def test_history_of_roles_says_who_serves_since_when(bot: Bot, fake: FakeSlack) -> None:
    """/ha history prod roles: from the readings the bot keeps (its first poll runs at
    start), who serves and since when — here the Primary, since the first reading."""
    for _ in range(40):
        text = shown(await reply(bot, fake, "history prod roles"))
        if "who served" in text:
            break
        await asyncio.sleep(0.25)
    assert "*prod*: who served (1 stretch)" in text
    assert "the Primary serves · the first reading kept" in text
    assert "→ now (" in text


async def test_health_and_metrics(bot: Bot, fake: FakeSlack) -> None:
    """/healthz answers 200 with a small JSON body; /metrics is Prometheus text — on the
    port the bot took itself (`--port 0`) and printed."""
    assert bot.port is not None
    assert bot.port > 0
    await reply(bot, fake, "help")
    async with aiohttp.ClientSession() as session:
        async with session.get(bot.url("/healthz")) as resp:
            assert resp.status == 200
            body = await resp.json()
            assert (body["database"], body["scheduler"]) == ("ok", "running")
        async with session.get(bot.url("/metrics")) as resp:
            text = await resp.text()
    assert "habot_up 1.0" in text
    assert 'habot_slack_requests_total{kind="command",outcome="ok"}' in text


async def test_app_home_is_published_despite_rate_limits(bot: Bot, fake: FakeSlack) -> None:
    """views.publish answered 429 then 500 is retried (Retry-After honoured) and lands."""
    fake.fail_next["views.publish"] = [429, 500]
    body = json.dumps(app_home_opened(VIEWER))
    status, _ = await post(bot, body, signed_headers(SECRET, body, content_type="application/json"))
    assert status == 200
    await fake.wait_for(lambda: len(fake.calls_to("views.publish")) == 3)
    await asyncio.sleep(0.3)
    assert len(fake.calls_to("views.publish")) == 3
    assert fake.invalid == []


async def test_slack_outage_is_logged_and_the_bot_keeps_serving(bot: Bot, fake: FakeSlack) -> None:
    """When Slack keeps failing a Web API call past the retries, the bot logs it and goes on."""
    fake.fail_next["views.publish"] = [500] * 10
    body = json.dumps(app_home_opened(VIEWER))
    status, _ = await post(bot, body, signed_headers(SECRET, body, content_type="application/json"))
    assert status == 200
    await fake.wait_for(lambda: len(fake.calls_to("views.publish")) >= 3)
    message = await reply(bot, fake, "status prod")
    assert message["text"] == "prod: BAU"
