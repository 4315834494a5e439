"""Block Kit checks: slack_sdk's models plus the limits they do not enforce — the same
checks the demo's Slack-like page applies (habot/demo/blockkit.py)."""

from __future__ import annotations

from habot.demo.blockkit import (
    MESSAGE_BLOCKS,
    MESSAGE_LIMIT,
    message_size,
    problems_in_blocks,
    problems_in_view,
)

__all__ = [
    "MESSAGE_BLOCKS",
    "MESSAGE_LIMIT",
    "message_size",
    "problems_in_blocks",
    "problems_in_view",
]
