"""Crontab lines read the way cron reads them.

APScheduler 3.x's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0, so the
crontab line ``0 9 * * 1-5`` would run Tuesday to Saturday (agronholm/apscheduler#286).
Here the day-of-week field is read with cron's numbering (0 and 7 are Sunday, 1 is
Monday) and rewritten as weekday names, which APScheduler cannot misread.
"""

from __future__ import annotations

from dataclasses import dataclass

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class CronFields:
    """A crontab line's five fields, the weekday field as names."""

    minute: str
    hour: str
    day: str
    month: str
    day_of_week: str


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
#: The first four fields: name, lowest, highest, names (months may be named).
_RANGES = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
)


def parse_crontab(line: str) -> CronFields:
    """``m h dom mon dow`` → fields, every one checked (so the configuration can be
    validated without loading a scheduler); ValueError naming what is wrong."""
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (m h dom mon dow), got {len(fields)}")
    for text, (name, low, high, names) in zip(fields, _RANGES, strict=False):
        check_field(text, name, low, high, names)
    minute, hour, day, month, dow = fields
    return CronFields(minute, hour, day, month, weekday_names(dow))


def check_field(text: str, name: str, low: int, high: int, names: tuple[str, ...] = ()) -> None:
    """One of the first four fields: ``*``, a value, a range, a step, or a list of those,
    each value within ``low``-``high`` (or one of ``names``); ValueError naming the field."""
    for part in text.lower().split(","):
        span, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) < 1):
            raise ValueError(f"{name} {part!r}: a step must be a number of at least 1")
        if span == "*":
            continue
        first, dash, last = span.partition("-")
        values = [_value(first, name, low, high, names)]
        if dash:
            values.append(_value(last, name, low, high, names))
            if values[0] > values[1]:
                raise ValueError(f"{name} {part!r}: a range must run forwards")


def _value(token: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if token.isdigit() and low <= int(token) <= high:
        return int(token)
    if token in names:
        return names.index(token) + low
    also = f" or {names[0]}-{names[-1]}" if names else ""
    raise ValueError(f"{name} {token!r}: must be {low}-{high}{also}")


def weekday_names(field: str) -> str:
    """A cron day-of-week field (numbers, names, ranges, lists, steps) as a list of names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        days |= _days(part)
    return ",".join(_NAMES[d] for d in sorted(days))


def _days(part: str) -> set[int]:
    span, slash, step_text = part.partition("/")
    step = _number(step_text, "step") if slash else 1
    if step < 1:
        raise ValueError(f"{part!r}: a step must be at least 1")
    if span == "*":
        low, high = 0, 6
    elif "-" in span:
        first, _, last = span.partition("-")
        low, high = _day(first), _day(last)
    else:
        low = _day(span)
        high = 6 if slash else low
    if low > high:
        raise ValueError(f"{part!r}: a weekday range must run forwards (e.g. 1-5)")
    return {d % 7 for d in range(low, high + 1, step)}


def _day(token: str) -> int:
    if token.isdigit():
        value = int(token)
        if value > 7:
            raise ValueError(f"{token!r}: weekdays are 0-7 (0 and 7 are Sunday)")
        return value
    if token[:3] in _NAMES and len(token) == 3:
        return _NAMES.index(token)
    raise ValueError(f"{token!r} is not a weekday (0-7 or sun, mon, …)")


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a {what}")
    return int(text)
