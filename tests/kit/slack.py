"""Slack from the outside, for the end-to-end tests: the bot as a process, asked and clicked
through the fake Slack exactly as Slack would."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from habot.sim.simulator import Simulator
from tests.kit.botproc import CHANNEL, ROLES, SECRET, Bot, start_bot
from tests.kit.fakeslack import (
    ApiCall,
    FakeSlack,
    app_home_opened,
    block_action,
    form_body,
    interaction_body,
    signed_headers,
    slash_command,
    view_submission,
)
from tests.kit.world import APPROVAL

OPS, LEAD, LEAD2 = "U0OPS1", "U0LEAD1", "U0LEAD2"

CONFIG = (
    ROLES.replace('approvers = ["U0LEAD1"]', 'approvers = ["U0LEAD1", "U0LEAD2", "U0OPS1"]')
    + APPROVAL
)


async def started(sim: Simulator, fake: FakeSlack, tmp: Path, extra: str = CONFIG) -> Bot:
    """The bot in HTTP mode with the approval settings above."""
    return await start_bot(sim, fake, tmp, http=True, extra=extra)


@pytest.fixture
async def bot(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """A running bot."""
    running = await started(sim, fake, tmp_path)
    yield running
    await running.stop()


async def post(bot: Bot, body: str) -> int:
    """A signed POST to /slack/events."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            bot.events_url, data=body.encode(), headers=signed_headers(SECRET, body)
        ) as resp,
    ):
        return resp.status


async def ask(bot: Bot, fake: FakeSlack, text: str, user: str = OPS) -> str:
    """A slash command; returns the text of the ephemeral reply (once a request's card,
    which goes through the outbox, has reached Slack too)."""
    before = len(cards(fake))
    url, rid = fake.response_url()
    assert await post(bot, form_body(slash_command(text, user, CHANNEL, url))) == 200
    reply = json.dumps((await fake.response(rid))["blocks"])
    if re.search(r"\d+ approvals? needed", reply):
        await fake.wait_for(lambda: len(cards(fake)) > before)
    return reply


def cards(fake: FakeSlack) -> list[dict[str, Any]]:
    """Approval cards posted so far (in the channel: not thread replies, not DMs)."""
    return [
        c.args
        for c in fake.calls_to("chat.postMessage")
        if "thread_ts" not in c.args and c.args.get("channel") == CHANNEL
    ]


def directs(fake: FakeSlack) -> dict[str, str]:
    """Direct messages so far (chat.postMessage to a user id): user → text."""
    return {
        c.args["channel"]: c.args["text"]
        for c in fake.calls_to("chat.postMessage")
        if str(c.args.get("channel", "")).startswith("U")
    }


async def outcome_told(fake: FakeSlack, operation: str, pair: str) -> str:
    """Wait until the requester is told how ``operation`` on ``pair`` ended — by direct
    message (kept, unlike an ephemeral, which reaches only an open client), sent after the
    run has closed: the pair takes a new request from then on; return its text."""
    opening = f"Your `{operation}` on {pair}: "
    told = await fake.wait_for(
        lambda: [
            text
            for c in direct_messages(fake)
            if (text := str(c.args.get("text", ""))).startswith(opening)
        ]
    )
    return told[-1]


def direct_messages(fake: FakeSlack) -> list[ApiCall]:
    """Every chat.postMessage habot sent to a person (a user id as the channel: their DM
    with habot), in order, refused or not."""
    posted = fake.calls_to("chat.postMessage")
    return [c for c in posted if str(c.args.get("channel", "")).startswith("U")]


async def home_opened(bot: Bot, user: str) -> None:
    """``user`` opens their App Home: a signed app_home_opened event, as Slack sends it."""
    body = json.dumps(app_home_opened(user))
    headers = signed_headers(SECRET, body, content_type="application/json")
    async with (
        aiohttp.ClientSession() as session,
        session.post(bot.events_url, data=body.encode(), headers=headers) as resp,
    ):
        assert resp.status == 200


def button(card: dict[str, Any], action: str) -> tuple[str, str, str]:
    """(action_id, value, block_id) of a button on a card."""
    [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
    [found] = [e for e in actions["elements"] if e["action_id"] == action]
    return found["action_id"], found["value"], actions["block_id"]


async def click(bot: Bot, fake: FakeSlack, card: dict[str, Any], action: str, user: str) -> str:
    """Click a card button; return the ephemeral answer's text."""
    url, rid = fake.response_url()
    action_id, value, block_id = button(card, action)
    payload = block_action(action_id, value, block_id, user, CHANNEL, url)
    assert await post(bot, interaction_body(payload)) == 200
    return json.dumps((await fake.response(rid))["blocks"])


async def opened_form(bot: Bot, fake: FakeSlack, card: dict[str, Any], action: str,
                     user: str) -> dict[str, Any]:  # fmt: skip
    """Click a card's button (Approve on a step-up verb, Reject, Cancel); the form Slack
    opened for it."""
    opened = len(fake.views)
    url, _ = fake.response_url()
    action_id, value, block_id = button(card, action)
    payload = block_action(action_id, value, block_id, user, CHANNEL, url)
    assert await post(bot, interaction_body(payload)) == 200
    views = await fake.wait_for(lambda: fake.views[opened:])
    return views[0]


async def send_form(bot: Bot, fake: FakeSlack, form: dict[str, Any], user: str,
                    values: dict[str, str]) -> str:  # fmt: skip
    """Send a form as ``user`` typed it; the answer shown to them (a form's errors, or
    the ephemeral message that followed)."""
    told = len(fake.calls_to("chat.postEphemeral"))
    body = interaction_body(view_submission(form, user, values))
    async with (
        aiohttp.ClientSession() as session,
        session.post(bot.events_url, data=body.encode(),
                     headers=signed_headers(SECRET, body)) as resp,
    ):  # fmt: skip
        answer = await resp.text()
    if answer.strip():
        return answer
    said = await fake.wait_for(lambda: fake.calls_to("chat.postEphemeral")[told:])
    return str(said[0].args["text"])


async def close_with_form(bot: Bot, fake: FakeSlack, card: dict[str, Any], action: str,
                          user: str, reason: str = "") -> str:  # fmt: skip
    """Reject or Cancel through the card's form; the answer shown to the clicker."""
    form = await opened_form(bot, fake, card, action, user)
    return await send_form(bot, fake, form, user, {"reason": reason})


async def final_card(fake: FakeSlack, words: str) -> str:
    """Wait until a chat.update shows ``words``; return that card's text."""
    updates = await fake.wait_for(
        lambda: [u for u in fake.calls_to("chat.update") if words in json.dumps(u.args["blocks"])]
    )
    return json.dumps(updates[-1].args["blocks"])


async def audit_export(bot: Bot) -> bytes:
    """`habot audit export` (JSON lines) against the bot's database, as an operator runs it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "habot", "audit", "export", stdout=asyncio.subprocess.PIPE,
        env=bot.env(),
    )  # fmt: skip
    out, _ = await proc.communicate()
    return out


def runs(sim: Simulator, pair: str = "prod") -> list[list[str]]:
    """HA commands the simulated appliance ran (ha-status excluded)."""
    return [list(r) for r in sim.pairs[pair].runs if r[1] != "ha-status"]
