"""`habot init`'s starter ``habot.toml``: the values a person gave (pairs, the way in), and
every other setting commented out with its default and what it means — read from the
settings' own models, so the file can never list a setting habot does not take, nor miss
one it does."""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from habot.config import SECTIONS as ENV_SECTIONS
from habot.config.outside import (
    PagingSettings,
    SiemSettings,
)
from habot.config.sections import (
    ApprovalSettings,
    DatabaseSettings,
    FreezeWindow,
    OperationApproval,
    RolesSettings,
    ScheduleSettings,
    SlackSettings,
)
from habot.config.ssh import (
    PairSettings,
    PatternSettings,
    SshSettings,
)
from habot.core.durations import as_setting

#: The step-by-step guide, and where each section's settings are explained.
DOCS = "docs/first-pair.md"
SECTIONS: Mapping[str, type[BaseModel]] = {
    "slack": SlackSettings,
    "roles": RolesSettings,
    "approval": ApprovalSettings,
    "schedule": ScheduleSettings,
    "database": DatabaseSettings,
    "paging": PagingSettings,
    "siem": SiemSettings,
}
EXPLAINED: Mapping[str, str] = {
    "ssh": "docs/settings.md#ssh",
    "ssh.patterns": "docs/settings.md#sshpatterns and docs/first-pair.md",
    "pairs": "docs/settings.md#pairs",
    **{name: f"docs/settings.md#{name}" for name in SECTIONS},
}
WIDTH = 92


@dataclass(frozen=True)
class StarterPair:
    """One pair as `habot init` was told it."""

    name: str
    primary: str
    secondary: str


@dataclass(frozen=True)
class Start:
    """What `habot init` asked for (or took from flags)."""

    pairs: Sequence[StarterPair]
    known_hosts: Path
    client_keys: Sequence[Path] = ()
    username: str = "habot"
    auth: str = "key"
    transport: str = "exec"


def starter_toml(start: Start, today: date) -> str:
    """The starter file: valid TOML that loads as it is, given values set, the rest shown."""
    given = {"known_hosts": str(start.known_hosts), "username": start.username,
             "auth": start.auth, "transport": start.transport,
             "client_keys": [str(k) for k in start.client_keys]}  # fmt: skip
    out = [
        f"# habot's configuration, written by `habot init` on {today.isoformat()}.",
        "# Set: what you gave. Commented out: every other setting, with its default.",
        f"# The way from here to a working pair, step by step: {DOCS}",
        "# Every setting explained: docs/settings.md. Check it with: habot check",
        *_header("ssh"),
        *_section(SshSettings, given, skip={"patterns"}),
        "",
        "# What varies between appliance versions (ha-status lines, their words, the",
        "# console's question and refusals); `habot probe PAIR` shows what they match.",
        *_header("ssh.patterns", blank=False),
        *_section(PatternSettings, {}),
    ]
    for pair in start.pairs:
        named = {"name": pair.name, "primary": pair.primary, "secondary": pair.secondary}
        out += [*_header("pairs", table="[[pairs]]"), *_section(PairSettings, named, {"patterns"})]
    for name, model in SECTIONS.items():
        out += [*_header(name), *_section(model, {})]
    return "\n".join(out) + "\n"


def _header(name: str, table: str | None = None, blank: bool = True) -> list[str]:
    return [*([""] if blank else []), f"# Explained in {EXPLAINED[name]}", table or f"[{name}]"]


def _section(
    model: type[BaseModel], given: Mapping[str, Any], skip: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """One section's lines: each given value set, each other setting commented with its
    default (or as not set) and its note."""
    notes = field_notes(model)
    out: list[str] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        out += [f"# {line}" for line in textwrap.wrap(_sentence(notes.get(name, "")), WIDTH)]
        if name in given:
            out.append(f"{name} = {toml_value(given[name])}")
            continue
        default = info.get_default(call_default_factory=True)
        if default is PydanticUndefined:
            out.append(f"# {name} = (required)")
        elif default is None or isinstance(default, BaseModel):
            out.append(f"# {name} =   (not set)")
        else:
            out.append(f"# {name} = {toml_value(default)}")
    return out


def toml_value(value: Any) -> str:
    """A default as it is written in habot.toml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return _string(as_setting(value))
    if isinstance(value, Enum):
        return _string(str(value.value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Path | str):
        return _string(str(value))
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{_string(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return _string(str(value))


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_FIELD = re.compile(r"^    (\w+): [^=#]+?(?:=.*?)?(?:#\s*(?P<trailing>.+))?$")


@cache
def field_notes(model: type[BaseModel]) -> dict[str, str]:
    """Each field's note, from its ``#:`` comment lines above it or its trailing comment."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    notes: dict[str, str] = {}
    above: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            above.append(stripped[2:].strip())
            continue
        match = _FIELD.match(line)
        if match and match.group(1) in model.model_fields:
            trailing = (match.group("trailing") or "").strip()
            note = " ".join(above) or trailing
            if note and not note.startswith(("noqa", "type:", "fmt:")):
                notes[match.group(1)] = note
        above = []
    return notes


#: The settings page's sections, in the order a habot.toml is written.
REFERENCE: tuple[tuple[str, type[BaseModel]], ...] = (
    ("[ssh]", SshSettings),
    ("[ssh.patterns]", PatternSettings),
    ("[[pairs]]", PairSettings),
    ("[slack]", SlackSettings),
    ("[roles]", RolesSettings),
    ("[approval]", ApprovalSettings),
    ("[approval.operations.OPERATION]", OperationApproval),
    ("[schedule]", ScheduleSettings),
    ("[database]", DatabaseSettings),
    ("[paging]", PagingSettings),
    ("[siem]", SiemSettings),
    ("[[freeze]]", FreezeWindow),
)


def settings_reference() -> str:
    """docs/settings.md: every setting, its default and what it does, from the models."""
    out = [
        "# Settings",
        "",
        "<!-- Generated from habot/config/sections.py by `python -m habot.config.starter`;",
        "     a test fails when this page and the settings differ. Do not edit by hand. -->",
        "",
        "Every setting of `habot.toml`, its default and what it does. Unknown keys are",
        'refused; every error names its key. Durations are strings (`"500ms"`, `"10s"`,',
        '`"5m"`, `"1h30m"`). A key of ' + ", ".join(f"`[{s}]`" for s in ENV_SECTIONS),
        "may also be set from the environment as `HABOT_SECTION__KEY`",
        "(`HABOT_SLACK__COMMAND=/pam`), and `HABOT_DATABASE_URL` sets `[database] url`.",
        "`habot init` writes a starter file with every setting.",
    ]
    for title, model in REFERENCE:
        notes = field_notes(model)
        out += ["", f"## {title}", "", " ".join((model.__doc__ or "").split()), ""]
        out += ["| setting | default | what it does |", "|---|---|---|"]
        for name, info in model.model_fields.items():
            out.append(f"| `{name}` | {_default(info)} | {_cell(_sentence(notes.get(name, '')))} |")
    return "\n".join(out) + "\n"


def _default(info: Any) -> str:
    default = info.get_default(call_default_factory=True)
    if default is PydanticUndefined:
        return "required"
    if default is None or isinstance(default, BaseModel):
        return "not set"
    return f"`{toml_value(default)}`".replace("|", "\\|")


def _sentence(note: str) -> str:
    return note[:1].upper() + note[1:]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


if __name__ == "__main__":
    print(settings_reference(), end="")
