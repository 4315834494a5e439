"""A site's own words for what varies between appliance versions (pure): the ``ha-status``
lines habot should read (regular expressions whose named groups fill its fields), the words
that mean a role, a state or a health, the console's confirmation question and its refusals.

Nothing here replaces the built-in rules: a line no pattern matches is read as before, so a
pair with no patterns reads exactly as it always did. Each pattern is checked once, when the
configuration loads; an error names the setting and says what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from habot.core.model import Health, NodeState, Role

#: The named groups a status line pattern may fill, and what each means.
FIELDS: Mapping[str, str] = {
    "role": "which server the line is about (Primary or Secondary)",
    "state": "that server's state (Active, Standby, Demoted, Promoted Active, Failed, Inactive)",
    "ip": "that server's IP address",
    "this_host": "any text: the line marks the server habot is logged in to",
    "health": "the pair's HA health (OK or Degraded)",
    "floating_ip": "the floating IP address",
}

#: What a site's word may stand for: habot's own words for roles, states and health.
MEANINGS: Mapping[str, Role | NodeState | Health] = {
    "primary": Role.PRIMARY,
    "secondary": Role.SECONDARY,
    "active": NodeState.ACTIVE,
    "standby": NodeState.STANDBY,
    "demoted": NodeState.DEMOTED,
    "promoted active": NodeState.PROMOTED_ACTIVE,
    "failed": NodeState.FAILED,
    "inactive": NodeState.INACTIVE,
    "ok": Health.OK,
    "degraded": Health.DEGRADED,
}


@dataclass(frozen=True)
class Patterns:
    """One pair's patterns, compiled (empty: the built-in rules alone)."""

    #: (setting, compiled pattern), tried in order on every line before the built-in rules.
    status_lines: tuple[tuple[str, re.Pattern[str]], ...] = ()
    #: A site's word (lower case) → what it means.
    words: Mapping[str, Role | NodeState | Health] = field(default_factory=dict)
    confirmation: str | None = None
    refusal: str | None = None

    def meaning(self, value: str) -> Role | NodeState | Health | None:
        """What a matched value means: the site's word for it, else habot's own word."""
        word = " ".join(value.lower().replace("_", " ").replace("-", " ").split())
        return self.words.get(word) or MEANINGS.get(word)


BUILT_IN = Patterns()


def regex(value: str, setting: str = "") -> str:
    """A regular expression setting, checked: the value, or ValueError (naming the setting
    when given: the configuration's loader names the key already)."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{_named(setting)}not a regular expression ({exc}): {value!r}") from None
    return value


def _named(setting: str) -> str:
    return f"{setting}: " if setting else ""


def status_line(value: str, setting: str) -> re.Pattern[str]:
    """A status line pattern, checked: it compiles, names at least one field, and names no
    group habot does not fill."""
    pattern = re.compile(regex(value, setting), re.I)
    groups = set(pattern.groupindex)
    if unknown := sorted(groups - set(FIELDS)):
        raise ValueError(
            f"{_named(setting)}(?P<{unknown[0]}>…) is not a field habot fills; name groups "
            f"{', '.join(FIELDS)}"
        )
    if not groups:
        raise ValueError(
            f"{_named(setting)}names no field, so a line it matches would tell habot nothing; name "
            f"what it captures with (?P<state>…) and the like ({', '.join(FIELDS)})"
        )
    return pattern


def word_meaning(
    word: str, meaning: str, setting: str = ""
) -> tuple[str, Role | NodeState | Health]:
    """One ``words`` entry, checked: the site's word (lower case) and what it stands for."""
    known = MEANINGS.get(" ".join(meaning.lower().split()))
    if known is None:
        raise ValueError(
            f"{_named(setting)}{word!r} = {meaning!r}: {meaning!r} is not one of habot's words: "
            f"{', '.join(repr(m) for m in MEANINGS)}"
        )
    return " ".join(word.lower().split()), known


@cache
def compiled(text: str) -> re.Pattern[str]:
    """A checked pattern, compiled once (case-insensitive)."""
    return re.compile(text, re.I)
