"""The vendor's procedures run end to end through the bot."""

from __future__ import annotations

import json
import sqlite3

from tests.kit.botproc import CHANNEL, Bot
from tests.kit.fakeslack import FakeSlack, form_body, slash_command
from tests.kit.slack import (
    OPS,
    post,
)


async def say(bot: Bot, fake: FakeSlack, text: str, user: str = OPS) -> str:
    """Any slash command; the ephemeral or channel reply's blocks as text."""
    url, rid = fake.response_url()
    assert await post(bot, form_body(slash_command(text, user, CHANNEL, url))) == 200
    return json.dumps((await fake.response(rid))["blocks"])


def everything_stored(database: str) -> str:
    """Every row of every table of the bot's SQLite database, as text."""
    path = database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in conn.execute(f"SELECT * FROM {table}")
        )
