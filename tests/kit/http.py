"""Signed requests to a bot in HTTP mode, and what came back."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.kit.botproc import CHANNEL, SECRET, Bot
from tests.kit.fakeslack import (
    FakeSlack,
    block_action,
    form_body,
    interaction_body,
    signed_headers,
    slash_command,
)

VIEWER, OPERATOR, GROUPIE = "U0VIEW1", "U0OPS1", "U0GROUPIE"


async def post(bot: Bot, body: str, headers: dict[str, str]) -> tuple[int, str]:
    """POST to /slack/events; return status and body."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(bot.events_url, data=body.encode(), headers=headers) as resp,
    ):
        return resp.status, await resp.text()


async def command(
    bot: Bot, fake: FakeSlack, text: str, user: str = VIEWER, channel: str = CHANNEL
) -> tuple[int, str]:
    """Send a signed /ha command; return (status, response_url id)."""
    url, rid = fake.response_url()
    body = form_body(slash_command(text, user, channel, url))
    status, _ = await post(bot, body, signed_headers(SECRET, body))
    return status, rid


async def reply(
    bot: Bot, fake: FakeSlack, text: str, user: str = VIEWER, channel: str = CHANNEL
) -> dict[str, Any]:
    """Send a signed /ha command and return the message posted to its response_url."""
    status, rid = await command(bot, fake, text, user, channel)
    assert status == 200
    return await fake.response(rid)


def shown(message: dict[str, Any]) -> str:
    """All the text a person would read in a message."""
    return json.dumps(message["blocks"], ensure_ascii=False)


async def click_raw(bot: Bot, fake: FakeSlack, card: dict[str, Any]) -> dict[str, Any]:
    """Click a status card's "Raw ha-status output" button; return the answer."""
    [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
    button = actions["elements"][0]
    url, rid = fake.response_url()
    payload = block_action(
        button["action_id"], button["value"], actions["block_id"], VIEWER, CHANNEL, url
    )
    body = interaction_body(payload)
    status, _ = await post(bot, body, signed_headers(SECRET, body))
    assert status == 200
    return await fake.response(rid)
