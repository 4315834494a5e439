"""Break-glass requests, and asking and clicking through the world to try them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from habot.core.approvals import Request
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation
from tests.kit.botproc import CHANNEL, SECRET, Bot
from tests.kit.fakeslack import (
    FakeSlack,
    form_body,
    interaction_body,
    signed_headers,
    slash_command,
)
from tests.kit.http import post as post_signed
from tests.kit.slack import (
    OPS,
    post,
)
from tests.kit.world import OPERATOR

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


FIVE = timedelta(minutes=5)


def _request(**changes: object) -> Request:
    base = Request(
        id="0a1b2c3d",
        operation=Operation.FAILOVER,
        pair="prod",
        node=Role.SECONDARY,
        requester=OPERATOR.user,
        created_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        required=1,
        snapshot=(Verdict.PRIMARY_DOWN, NodeState.UNREACHABLE, NodeState.STANDBY),
        asked=(T0, T0 + FIVE),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def said(bot: Bot, fake: FakeSlack, text: str, user: str = OPS) -> str:
    """A slash command; the ephemeral reply's text."""
    url, rid = fake.response_url()
    assert await post(bot, form_body(slash_command(text, user, CHANNEL, url))) == 200
    return json.dumps((await fake.response(rid))["blocks"], ensure_ascii=False)


async def interact(bot: Bot, payload: dict[str, Any]) -> str:
    """A signed interaction; the HTTP answer's body (a form's errors come back there)."""
    body = interaction_body(payload)
    status, text = await post_signed(bot, body, signed_headers(SECRET, body))
    assert status == 200
    return text
