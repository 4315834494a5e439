"""A moment as people type it — `2026-12-24T18:00`, `18:00`, `tomorrow 02:00`, `sat 02:00`
— read in a time zone (pure). Words not understood are a ValueError that says what is."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
EXAMPLES = "2026-12-24T18:00, 18:00, tomorrow 02:00 or sat 02:00"


def parse_when(words: list[str], now: datetime, zone: ZoneInfo) -> tuple[datetime, int]:
    """The moment the first words name, in ``zone`` (as UTC), and how many words it took;
    a bare time is the next one to come (today, else tomorrow)."""
    if not words:
        raise ValueError(f"say when: {EXAMPLES}")
    local = now.astimezone(zone)
    first = words[0].lower()
    try:
        moment = datetime.fromisoformat(words[0])
    except ValueError:
        moment = None
    if moment is not None and ("T" in words[0] or ":" in words[0]):
        return _zoned(moment, zone), 1
    if re.match(r"^\d{4}-\d\d-\d\d$", first) and len(words) > 1 and _TIME.match(words[1]):
        return _zoned(datetime.fromisoformat(f"{first}T{words[1]}"), zone), 2
    if _TIME.match(first):
        at = _at(local, local.date(), first, zone)
        return (at if at > now else _at(local, local.date() + timedelta(days=1), first, zone)), 1
    if (first == "tomorrow" or first[:3] in _DAYS) and len(words) > 1 and _TIME.match(words[1]):
        if first == "tomorrow":
            day = local.date() + timedelta(days=1)
        else:
            ahead = (_DAYS.index(first[:3]) - local.weekday()) % 7
            day = local.date() + timedelta(days=ahead)
            if ahead == 0 and _at(local, day, words[1], zone) <= now:
                day += timedelta(days=7)
        return _at(local, day, words[1], zone), 2
    raise ValueError(f"{words[0]!r} is not a moment habot understands: {EXAMPLES}")


def _at(local: datetime, day: object, hhmm: str, zone: ZoneInfo) -> datetime:
    hour, minute = (int(p) for p in hhmm.split(":"))
    return _zoned(datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}"), zone)


def _zoned(moment: datetime, zone: ZoneInfo) -> datetime:
    """A typed moment as an aware one: naive ones are read in ``zone``. A local time the
    clocks skip (the night they go forward) is refused rather than moved; one they pass
    twice (the night they go back) is the first of the two."""
    if moment.tzinfo:
        return moment.astimezone(UTC)
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(
            f"{moment:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward "
            "then. Say a time before or after the change"
        )
    return local.astimezone(UTC)
