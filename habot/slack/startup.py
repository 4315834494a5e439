"""Before habot serves, Slack must accept its tokens: ``auth.test`` for the bot token and,
in Socket Mode, ``apps.connections.open`` for the app-level token.

A token Slack refuses (revoked, invalid, the wrong kind) cannot start working by waiting:
habot stops at once with one line saying which token and why (exit 2). Slack not
answering (no route, a 5xx, rate limits) may pass: habot tries again with back-off, for at
most ``[slack] start_timeout``, then exits 1 so a supervisor restarts it later — never a
retry loop that fills the log with tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from habot.errors import ConfigError, HabotError
from habot.secrets import APP_TOKEN, BOT_TOKEN, SecretName
from habot.services.outbox import SLACK

log = logging.getLogger(__name__)

#: Slack's answers that mean the token itself is no good: waiting will not fix them.
REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
        "no_permission",
        "missing_scope",
        "team_access_not_granted",
        "org_login_required",
        "ekm_access_denied",
    }
)
FIRST_WAIT = 1.0  # seconds before the second try; doubles up to MAX_WAIT
MAX_WAIT = 15.0
CALL_TIMEOUT = 10  # seconds for one call


class TokenRefused(ConfigError):
    """Slack refused a token: it must be replaced (exit 2)."""


class SlackUnreachable(HabotError):
    """Slack did not answer within the start timeout (exit 1: try again later)."""

    exit_code = 1


@dataclass(frozen=True)
class Identity:
    """Who the bot token says habot is."""

    team_id: str
    team: str
    user_id: str
    scopes: frozenset[str]
    url: str = SLACK  # the workspace's address: message links point there


async def verify_tokens(
    base_url: str,
    bot_token: str,
    app_token: str | None,
    within: timedelta,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Identity:
    """Check the bot token (and the app token, when given) with Slack; TokenRefused or
    SlackUnreachable otherwise. No retries hide inside a call: each try is one request."""
    bot = AsyncWebClient(bot_token, base_url=base_url, timeout=CALL_TIMEOUT, retry_handlers=[])
    answer = await _patiently(lambda: bot.auth_test(), BOT_TOKEN, within, sleep)
    if app_token is not None:
        app = AsyncWebClient(app_token, base_url=base_url, timeout=CALL_TIMEOUT, retry_handlers=[])
        await _patiently(
            lambda: app.apps_connections_open(app_token=app_token), APP_TOKEN, within, sleep
        )
    scopes = answer.get("headers", {}).get("x-oauth-scopes", "")
    return Identity(
        str(answer.get("team_id", "")),
        str(answer.get("team", "")),
        str(answer.get("user_id", "")),
        frozenset(s.strip() for s in scopes.split(",") if s.strip()),
        workspace_url(answer.get("url")),
    )


def workspace_url(answered: object) -> str:
    """The workspace address ``auth.test`` answered, if it is one (else slack.com, which
    redirects a message link to the workspace)."""
    if isinstance(answered, str) and answered.startswith(("https://", "http://")):
        return answered if answered.endswith("/") else answered + "/"
    return SLACK


async def _patiently(
    call: Callable[[], Awaitable[Any]],
    token: SecretName,
    within: timedelta,
    sleep: Callable[[float], Awaitable[None]],
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within.total_seconds()
    wait, tries = FIRST_WAIT, 0
    while True:
        tries += 1
        try:
            response = await call()
            return {**response.data, "headers": dict(response.headers)}
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) or f"HTTP {exc.response.status_code}"
            if error in REFUSED:
                raise TokenRefused(_refused(token, error)) from None
            why = f"Slack answered {error}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            why = f"{type(exc).__name__}: {exc}".rstrip(": ")
        left = deadline - loop.time()
        if left <= 0:
            raise SlackUnreachable(
                f"Slack did not answer {token.env_var}'s check after {tries} tries in "
                f"{within.total_seconds():.0f} s ({why}); exiting so a supervisor can start "
                "habot again later ([slack] start_timeout sets how long it keeps trying)"
            )
        log.warning("Slack is not answering yet (%s); trying again in %.0f s", why, min(wait, left))
        await sleep(min(wait, left))
        wait = min(wait * 2, MAX_WAIT)


def _refused(token: SecretName, error: str) -> str:
    return (
        f"Slack refused {token.env_var} ({error}): replace the token (keyring entry "
        f"habot/{token.keyring_name}, or the environment variable {token.env_var}) and start "
        "habot again"
    )
