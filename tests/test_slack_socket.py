"""`habot run` in Socket Mode as a real process: envelopes in, acks and replies out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from habot.sim.simulator import Simulator
from tests.kit.botproc import APP_TOKEN, CHANNEL, Bot, start_bot
from tests.kit.fakeslack import FakeSlack, app_home_opened, block_action, slash_command

VIEWER = "U0VIEW1"


@pytest.fixture
async def bot(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot in Socket Mode (the default)."""
    running = await start_bot(sim, fake, tmp_path, http=False)
    yield running
    await running.stop()


async def test_socket_mode_connects_with_the_app_token(bot: Bot, fake: FakeSlack) -> None:
    """apps.connections.open is called with the app-level token, through HABOT_SLACK_API_URL:
    once to check the token at start, once to connect. The bot token is checked first."""
    checked, connected = fake.calls_to("apps.connections.open")
    assert checked.token == connected.token == APP_TOKEN
    [auth] = [c for c in fake.calls if c.method == "auth.test"][:1]
    assert fake.calls.index(auth) < fake.calls.index(checked)


async def test_slash_command_envelope_is_acked_then_answered(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """A slash_commands envelope gets an ack with its envelope_id, then the status card."""
    await sim.apply("prod", "secondary", "slow", "1")
    url, rid = fake.response_url()
    envelope = await fake.send_envelope(
        "slash_commands", slash_command("status prod", VIEWER, CHANNEL, url)
    )
    ack = await fake.wait_for(lambda: fake.acks.get(envelope))
    assert ack["envelope_id"] == envelope
    assert fake.responses[rid] == []  # acked before the slow node answered
    message = await fake.response(rid)
    assert message["response_type"] == "in_channel"
    assert message["text"] == "prod: BAU"
    assert fake.invalid == []


async def test_interactive_envelope_shows_raw_output(bot: Bot, fake: FakeSlack) -> None:
    """The raw-output button works over Socket Mode too."""
    url, rid = fake.response_url()
    await fake.send_envelope("slash_commands", slash_command("status dr", VIEWER, CHANNEL, url))
    card = await fake.response(rid)
    [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
    button = actions["elements"][0]
    url2, rid2 = fake.response_url()
    envelope = await fake.send_envelope(
        "interactive",
        block_action(
            button["action_id"], button["value"], actions["block_id"], VIEWER, CHANNEL, url2
        ),
    )
    await fake.wait_for(lambda: fake.acks.get(envelope))
    raw = await fake.response(rid2)
    assert "10.20.1.12" in json.dumps(raw["blocks"])


async def test_app_home_event_publishes_a_valid_view(bot: Bot, fake: FakeSlack) -> None:
    """app_home_opened over Socket Mode publishes the Home tab for that user."""
    envelope = await fake.send_envelope(
        "events_api", app_home_opened(VIEWER), retry_attempt=0, retry_reason=""
    )
    await fake.wait_for(lambda: fake.acks.get(envelope))
    [call] = await fake.wait_for(lambda: fake.calls_to("views.publish"))
    assert call.args["user_id"] == VIEWER
    assert fake.invalid == []


async def test_stops_cleanly_on_sigterm(bot: Bot) -> None:
    """SIGTERM ends the bot with status 0 and a goodbye line."""
    output = await bot.stop()
    assert bot.process.returncode == 0
    assert "habot: stopping" in output
