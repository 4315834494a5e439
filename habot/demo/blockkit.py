"""What Slack would refuse in a message or a view: slack_sdk's Block Kit models, plus the
limits they do not enforce (blocks per message, unique ids, a message's total size). The
demo's Slack-like page refuses what Slack refuses, with these; the tests' fake Slack uses
the very same checks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
#: Slack refuses a message whose text and blocks together run much above 12–13k
#: characters (msg_blocks_too_long, SLACK-NOTES §8): refused here from the lower end,
#: counting the blocks as Slack receives them (JSON).
MESSAGE_LIMIT = 12_000


def message_size(text: str, blocks: Sequence[Any] | None) -> int:
    """A message's size as it is checked: its text plus its blocks' JSON."""
    return len(text or "") + (len(json.dumps(list(blocks))) if blocks else 0)


def problems_in_blocks(blocks: Sequence[dict[str, Any]], limit: int = MESSAGE_BLOCKS) -> list[str]:
    """Everything Slack would reject in a list of blocks ([] when valid)."""
    found: list[str] = []
    if len(blocks) > limit:
        found.append(f"{len(blocks)} blocks (limit {limit})")
    block_ids = [b["block_id"] for b in blocks if isinstance(b, dict) and "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        found.append(f"duplicate block_id in {block_ids}")
    for i, raw in enumerate(blocks):
        if not isinstance(raw, dict):
            found.append(f"block {i}: not an object")
            continue
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                found.append(f"block {i}: unknown type {raw.get('type')!r}")
                continue
            parsed.to_dict()
        except Exception as exc:  # SlackObjectFormationError and friends
            found.append(f"block {i}: {exc}")
        action_ids = [e.get("action_id") for e in raw.get("elements", []) if e.get("action_id")]
        if len(action_ids) != len(set(action_ids)):
            found.append(f"block {i}: duplicate action_id {action_ids}")
    return found


def problems_in_view(view: dict[str, Any]) -> list[str]:
    """Everything Slack would reject in a Home or modal view."""
    found = problems_in_blocks(view.get("blocks", []), limit=VIEW_BLOCKS)
    try:
        View(**view).to_dict()
    except Exception as exc:
        found.append(f"view: {exc}")
    return found
