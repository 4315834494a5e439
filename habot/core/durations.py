"""Durations: as settings write them ("500ms", "10s", "5m", "1h", also "1h30m"), and
as people read them ("10 min 15 s")."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> timedelta:
    """Parse a duration string; raise ValueError saying what a valid one looks like."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; write e.g. '500ms', '10s', '5m', '1h'")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """A duration as people read it, in its two largest units: "850 ms", "45 s",
    "10 min 15 s", "2 h 5 min", "3 d 4 h" (the one helper for every text people read)."""
    total = value.total_seconds()
    if total < 1:
        return f"{round(total * 1000)} ms"
    minutes, seconds = divmod(round(total), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "min"),
        (minutes, "min", seconds, "s"),
    ):
        if big:
            return f"{big} {big_unit}" + (f" {small} {small_unit}" if small else "")
    return f"{seconds} s"


def as_setting(value: timedelta) -> str:
    """A duration as a setting is written ("8h", "1h30m", "90s", "500ms"): what a
    message about the configuration quotes, and what parse_duration reads back."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms < 1000:
        return f"{total_ms}ms"
    seconds = total_ms // 1000
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
