"""The Slack app manifest (v1 format) for Socket Mode or HTTP mode, for a command name."""

from __future__ import annotations

from typing import Any

from habot.core.grammar import USAGE
from habot.slack.app import EVENTS_PATH

#: Every subcommand, as `/ha help` writes it (Slack shows this under the command name).
USAGE_HINT = " | ".join(USAGE.values())
#: Only for [paging] oncall_schedules: PagerDuty's on-call people matched to Slack users by
#: email (users.lookupByEmail).
ONCALL_SCOPES = ("users:read", "users:read.email")
BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "usergroups:read",
    "channels:read",  # habot check: is the bot in the configured channels?
    "groups:read",  # … and in the private ones
    "im:write",  # open a direct message: long output goes there as a file
    "files:write",  # … uploaded with Slack's external upload flow
    *ONCALL_SCOPES,
]


def render_manifest(command: str = "/ha", http_url: str | None = None) -> dict[str, Any]:
    """The manifest; with ``http_url`` (the bot's public base URL) it is for HTTP mode."""
    request_url = http_url.rstrip("/") + EVENTS_PATH if http_url else None
    slash: dict[str, Any] = {
        "command": command,
        "description": "Osirium PAM HA status and four-eyes operations",
        "usage_hint": USAGE_HINT,
        "should_escape": False,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": ["app_home_opened"]}
    if request_url:
        slash["url"] = request_url
        interactivity["request_url"] = request_url
        events["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "habot",
            "description": "Status and safe, approved HA operations for Osirium PAM pairs.",
            "background_color": "#1d3c5a",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                # habot writes to people there (long output as files, approvers told of
                # a new request); it reads nothing there, so people cannot write back.
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "habot", "always_online": True},
            "slash_commands": [slash],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }
