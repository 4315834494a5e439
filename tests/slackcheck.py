"""Block Kit checks: slack_sdk's models plus the limits they do not enforce."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50


def problems_in_blocks(blocks: Sequence[dict[str, Any]], limit: int = MESSAGE_BLOCKS) -> list[str]:
    """Everything Slack would reject in a list of blocks ([] when valid)."""
    found: list[str] = []
    if len(blocks) > limit:
        found.append(f"{len(blocks)} blocks (limit {limit})")
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        found.append(f"duplicate block_id in {block_ids}")
    for i, raw in enumerate(blocks):
        try:
            parsed = Block.parse(raw)  # type: ignore[arg-type]
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
    found = problems_in_blocks(view.get("blocks", []), limit=100)
    try:
        View(**view).to_dict()
    except Exception as exc:
        found.append(f"view: {exc}")
    return found
