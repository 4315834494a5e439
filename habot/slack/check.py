"""`habot check`'s Slack part: is the bot token accepted, does it carry the scopes habot's
manifest asks for, does the app-level token open Socket Mode, and is the bot in every
channel the configuration names? One try each — a check reports, it does not wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from habot.secrets import APP_TOKEN, BOT_TOKEN
from habot.slack.manifest import BOT_SCOPES, ONCALL_SCOPES
from habot.slack.startup import CALL_TIMEOUT


@dataclass(frozen=True)
class SlackCheck:
    """One thing checked: passed (True), failed (False) or not checked (None), and why."""

    step: str
    ok: bool | None
    detail: str


async def check_slack(
    base_url: str,
    bot_token: str | None,
    app_token: str | None,
    channels: Sequence[str],
    oncall: bool = False,
) -> list[SlackCheck]:
    """Every Slack check, in order; those that need the bot token are skipped without it."""
    if not bot_token:
        return [
            SlackCheck("bot token", None, f"not set ({BOT_TOKEN.env_var}); `habot run` needs it")
        ]
    bot = AsyncWebClient(bot_token, base_url=base_url, timeout=CALL_TIMEOUT, retry_handlers=[])
    answer, error = await _once(bot.auth_test)
    if answer is None:
        return [SlackCheck("bot token", False, error)]
    checks = [
        SlackCheck(
            "bot token", True, f"workspace {answer.get('team')}, bot {answer.get('user_id')}"
        ),
        _scopes(answer["headers"], oncall),
        await _app_token(base_url, app_token),
    ]
    for channel in dict.fromkeys(channels):  # each once, in order
        checks.append(await _channel(bot, channel))
    return checks


async def _once(call: Callable[[], Awaitable[Any]]) -> tuple[dict[str, Any] | None, str]:
    """The answer, or None and what went wrong."""
    try:
        response = await call()
    except SlackApiError as exc:
        return None, f"Slack said {exc.response.get('error') or exc.response.status_code}"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return None, f"Slack did not answer ({type(exc).__name__}: {exc})"
    headers = {k.lower(): v for k, v in response.headers.items()}
    return {**response.data, "headers": headers}, ""


def _scopes(headers: dict[str, str], oncall: bool) -> SlackCheck:
    """Every scope the manifest asks for; those only the on-call lookup needs count only
    when [paging] oncall_schedules is set."""
    granted = headers.get("x-oauth-scopes")
    if granted is None:
        return SlackCheck("scopes", None, "Slack did not list the token's scopes")
    missing = [s for s in BOT_SCOPES if s not in {g.strip() for g in granted.split(",")}]
    needed = [s for s in missing if oncall or s not in ONCALL_SCOPES]
    fix = "update the app from `habot manifest` and reinstall it"
    if needed:
        return SlackCheck("scopes", False, f"missing {', '.join(needed)}: {fix}")
    if missing:
        return SlackCheck("scopes", True, f"all habot needs here; {', '.join(missing)} (for "
                          f"[paging] oncall_schedules) not granted: {fix} to use it")  # fmt: skip
    return SlackCheck("scopes", True, "every scope the manifest asks for")


async def _app_token(base_url: str, app_token: str | None) -> SlackCheck:
    if not app_token:
        return SlackCheck(
            "app token", None, f"not set ({APP_TOKEN.env_var}); only Socket Mode needs it"
        )
    app = AsyncWebClient(app_token, base_url=base_url, timeout=CALL_TIMEOUT, retry_handlers=[])
    answer, error = await _once(lambda: app.apps_connections_open(app_token=app_token))
    return SlackCheck("app token", answer is not None, error or "Socket Mode can connect")


async def _channel(bot: AsyncWebClient, channel: str) -> SlackCheck:
    answer, error = await _once(lambda: bot.conversations_info(channel=channel))
    step = f"channel {channel}"
    if answer is None:
        if "channel_not_found" in error:
            error = "not found, or private and habot is not in it: /invite @habot there"
        return SlackCheck(step, False, error)
    name = answer.get("channel", {}).get("name", channel)
    if not answer.get("channel", {}).get("is_member"):
        return SlackCheck(step, False, f"#{name}: habot is not in it — /invite @habot there")
    return SlackCheck(step, True, f"#{name}: habot is in it")
