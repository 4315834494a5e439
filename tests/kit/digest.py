"""Settings with a digest."""

from __future__ import annotations

from typing import Any

from habot.config import Settings, parse_settings

CONFIG: dict[str, Any] = {
    "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
    "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
    "slack": {"alert_channel": "C0ALERTS"},
}


def settings(**schedule: str) -> Settings:
    """CONFIG with a [schedule] section."""
    return parse_settings({**CONFIG, "schedule": schedule}, "test")
