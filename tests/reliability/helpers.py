"""Small helpers the fault tests share."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.kit.botproc import Bot
from tests.kit.slack import audit_export, button


async def until(predicate: Callable[[], Any], within: float = 30, every: float = 0.05) -> Any:
    """Poll ``predicate`` until it is truthy (state outside the fake Slack, which has no
    events to wait on: the simulator, the database)."""
    deadline = time.monotonic() + within
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {predicate}")
        await asyncio.sleep(every)
    return result


async def trail_with(bot: Bot, rid: str, kind: str, within: float) -> list[dict[str, Any]]:
    """The request's audit trail, once it holds an event of ``kind``."""
    deadline = time.monotonic() + within
    while True:
        trail = await events(bot, rid)
        if any(e["kind"] == kind for e in trail):
            return trail
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} event for {rid} within {within} s: {trail}")
        await asyncio.sleep(0.5)


async def events(bot: Bot, request_id: str | None = None) -> list[dict[str, Any]]:
    """The audit log as `habot audit export` gives it (one request's events, if named)."""
    rows = [json.loads(line) for line in (await audit_export(bot)).splitlines()]
    if request_id is None:
        return rows
    return [r for r in rows if r["detail"].get("request") == request_id]


def request_id(card: dict[str, Any]) -> str:
    """The request id an approval card's buttons carry."""
    return button(card, "approve_request")[1]


def signal_tree(pid: int, sig: signal.Signals) -> list[int]:
    """Send ``sig`` to a process and all its descendants (found through /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    for member in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, sig)
    return tree
