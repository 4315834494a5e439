"""The TOML configuration: loaded once at start, validated, and handed down.

Every error names the key and the problem, e.g. ``pairs[0] (prod).secondary: port must be
a number from 1 to 65535, not 'abc'``. Unknown keys are refused, so typos do not pass.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from habot.config.base import Section
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
    Auth,
    PairSettings,
    SshSettings,
    Transport,
)
from habot.core.durations import as_setting
from habot.core.patterns import Patterns
from habot.core.replies import plural
from habot.errors import ConfigError

__all__ = [
    "ApprovalSettings",
    "Auth",
    "DatabaseSettings",
    "FreezeWindow",
    "Login",
    "OperationApproval",
    "PagingSettings",
    "PairSettings",
    "RolesSettings",
    "ScheduleSettings",
    "Settings",
    "SlackSettings",
    "SshSettings",
    "Transport",
    "config_path",
    "load_settings",
    "parse_settings",
]

CONFIG_ENV = "HABOT_CONFIG"
DEFAULT_CONFIG = Path("habot.toml")


@dataclass(frozen=True)
class Login:
    """A pair's login: the account, how it authenticates, and how commands reach it."""

    username: str
    auth: Auth
    transport: Transport = Transport.EXEC
    prompt: str | None = None


#: An approval window longer than this is said as a weakening (the card's reading ages).
LONG_TTL = timedelta(hours=1)


class Settings(Section):
    """The whole configuration."""

    ssh: SshSettings
    pairs: tuple[PairSettings, ...] = Field(min_length=1)
    slack: SlackSettings = SlackSettings()
    roles: RolesSettings = RolesSettings()
    approval: ApprovalSettings = ApprovalSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    database: DatabaseSettings = DatabaseSettings()
    paging: PagingSettings = PagingSettings()
    siem: SiemSettings = SiemSettings()
    #: Recurring change freezes (``[[freeze]]``), e.g. the last days of each month.
    freeze: tuple[FreezeWindow, ...] = ()

    @field_validator("pairs")
    @classmethod
    def _unique_names(cls, pairs: tuple[PairSettings, ...]) -> tuple[PairSettings, ...]:
        names = [p.name for p in pairs]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"pair names must be unique; repeated: {', '.join(dupes)}")
        return pairs

    @model_validator(mode="after")
    def _keys_when_needed(self) -> Settings:
        keyed = [p.name for p in self.pairs if self.login(p).auth is Auth.KEY]
        if keyed and not self.ssh.client_keys:
            raise ValueError(
                f"ssh.client_keys: needed by {plural(len(keyed), 'pair')} logging in with a key "
                f'({", ".join(keyed)}; auth = "key", the default); list the key files, or set '
                'auth = "password"'
            )
        return self

    @model_validator(mode="after")
    def _pages_follow_alerts(self) -> Settings:
        if self.paging.pagers and not self.slack.alert_channel:
            raise ValueError(
                "paging: a page follows an alert card, so [slack] alert_channel must be set "
                "too (or turn paging off)"
            )
        return self

    @model_validator(mode="after")
    def _freezes_name_pairs(self) -> Settings:
        names = {p.name for p in self.pairs} | {"all"}
        for n, window in enumerate(self.freeze, 1):
            if unknown := [p for p in window.pairs if p not in names]:
                raise ValueError(
                    f"freeze {n}: no pair {', '.join(unknown)} (pairs: {', '.join(sorted(names))})"
                )
        return self

    @model_validator(mode="after")
    def _oncall_replaces_a_level(self) -> Settings:
        if self.paging.oncall_schedules and not self.approval.escalation:
            raise ValueError(
                "paging: oncall_schedules makes escalation level 1 whoever is on call, so "
                "[approval] escalation must list the levels (its level 1 is asked when the "
                "PagerDuty lookup fails)"
            )
        return self

    def login(self, pair: PairSettings) -> Login:
        """Who habot logs in as on the pair's nodes, and how (the pair's own choice, else
        [ssh]'s)."""
        return Login(
            pair.username or self.ssh.username,
            pair.auth or self.ssh.auth,
            pair.transport or self.ssh.transport,
            pair.prompt or self.ssh.prompt,
        )

    def patterns(self, pair: PairSettings) -> Patterns:
        """The pair's patterns: its own on top of [ssh.patterns] (empty: built-in rules)."""
        return self.ssh.patterns.merged(pair.patterns).compiled()

    def weakened(self) -> tuple[str, ...]:
        """Settings that weaken four eyes without turning it off — said loudly at start and
        by `habot check`, never silently accepted (turning it off is refused outright)."""
        said: list[str] = []
        if "*" in self.roles.approvers:
            said.append(
                'roles.approvers = ["*"]: anyone in the workspace may approve, so four eyes '
                "means any two people; name the approvers (users or a user group)"
            )
        if self.approval.ttl > LONG_TTL:
            said.append(
                f"approval.ttl = {as_setting(self.approval.ttl)}: a request stays "
                "approvable that long, on a card showing the pair as it was when asked; 15m "
                "is the default"
            )
        return tuple(said)

    def pair(self, name: str) -> PairSettings:
        """The pair with this name; ConfigError listing the known names otherwise."""
        for pair in self.pairs:
            if pair.name == name:
                return pair
        known = ", ".join(p.name for p in self.pairs)
        raise ConfigError(f"unknown pair {name!r}; configured pairs: {known}")


def config_path(explicit: Path | None, env: Mapping[str, str]) -> Path:
    """Where the config lives: --config, then $HABOT_CONFIG, then ./habot.toml."""
    if explicit is not None:
        return explicit
    return Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else DEFAULT_CONFIG


def load_settings(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration; ConfigError says which key is wrong."""
    path = config_path(explicit, os.environ if env is None else env)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (give --config PATH or set {CONFIG_ENV})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_settings(data, source=str(path), env=os.environ if env is None else env)


def load_slack_settings(
    explicit: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[SlackSettings, bool]:
    """[slack] alone — from the config file when there is one, else from the environment's
    overrides only (``HABOT_SLACK__COMMAND=/pam``): what `habot manifest` needs, which works
    before any pair is configured. Also whether a config file was found."""
    env = os.environ if env is None else env
    if config_path(explicit, env).exists():
        return load_settings(explicit, env).slack, True
    given = {key: value for (section, key), (_, value) in env_overrides(env).items()
             if section == "slack"}  # fmt: skip
    try:
        return SlackSettings.model_validate(given), False
    except ValidationError as exc:
        overrides = env_overrides(env)
        located = [{**e, "loc": ("slack", *e["loc"])} for e in exc.errors()]
        problems = [_describe(e, {}) + _from_env(e, overrides) for e in located]
        raise ConfigError("environment: " + "\n  ".join(problems)) from None


DATABASE_ENV = "HABOT_DATABASE_URL"


def parse_settings(
    data: Mapping[str, Any], source: str = "config", env: Mapping[str, str] | None = None
) -> Settings:
    """Validate already-loaded TOML data, with the environment's overrides on top: any
    ``HABOT_SECTION__KEY`` sets ``[section] key`` (``HABOT_SLACK__CHANNELS='["C0A"]'``,
    ``HABOT_SSH__POOL_SIZE=4``; a value that is not TOML is taken as a string), and
    ``HABOT_DATABASE_URL`` is ``[database] url``. A bad override is named as such."""
    env = os.environ if env is None else env
    overrides = env_overrides(env)
    for (section, key), (_, value) in overrides.items():
        data = {**data, section: {**data.get(section, {}), key: value}}
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [
            _describe(e, data) + _from_env(e, overrides) for e in errors if not _is_echo(e, errors)
        ]
        raise ConfigError(f"{source}: " + "\n  ".join(problems)) from None


#: The sections the environment may override (pairs are a list: the file names them).
SECTIONS = ("ssh", "slack", "roles", "approval", "schedule", "database")
ENV_PREFIX = "HABOT_"


Overrides = dict[tuple[str, str], tuple[str, Any]]


def env_overrides(env: Mapping[str, str]) -> Overrides:
    """(section, key) → (the variable, its value) for each override in the environment."""
    found: Overrides = {}
    if env.get(DATABASE_ENV):
        found[("database", "url")] = (DATABASE_ENV, env[DATABASE_ENV])
    for name, raw in sorted(env.items()):
        section, sep, key = name.removeprefix(ENV_PREFIX).lower().partition("__")
        if not name.startswith(ENV_PREFIX) or not sep or not key:
            continue
        if section not in SECTIONS:
            known = ", ".join(f"{ENV_PREFIX}{s.upper()}__…" for s in SECTIONS)
            raise ConfigError(f"{name}: there is no [{section}] section to override ({known})")
        found[(section, key)] = (name, _value(raw))
    return found


def _value(raw: str) -> Any:
    """A TOML value when it reads as one (a number, a list, true), else the text itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _from_env(
    error: Mapping[str, Any], overrides: Mapping[tuple[str, str], tuple[str, Any]]
) -> str:
    loc = tuple(str(part) for part in error["loc"][:2])
    if len(loc) == 2 and loc in overrides:
        return f" (set by {overrides[(loc[0], loc[1])][0]})"
    return ""


def _is_echo(error: Mapping[str, Any], errors: list[Any]) -> bool:
    """A list reported too short only because its items failed: the item errors say it all."""
    loc = tuple(error["loc"])
    return error["type"] == "too_short" and any(
        tuple(other["loc"])[: len(loc)] == loc and len(other["loc"]) > len(loc) for other in errors
    )


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    return f"{_key(error['loc'], data)}: {_message(error)}"


def _key(loc: tuple[Any, ...], data: Mapping[str, Any]) -> str:
    """('pairs', 0, 'secondary') → 'pairs[0] (prod).secondary'."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
            if key.startswith("pairs[") and key.count("[") == 1:
                name = _pair_name(data, part)
                key += f" ({name})" if name else ""
        else:
            key += f".{part}" if key else str(part)
    return key or "(top level)"


def _pair_name(data: Mapping[str, Any], index: int) -> str | None:
    pairs = data.get("pairs")
    if isinstance(pairs, list) and index < len(pairs) and isinstance(pairs[index], dict):
        name = pairs[index].get("name")
        return name if isinstance(name, str) else None
    return None


def _message(error: Mapping[str, Any]) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key (a typo?)"
    if kind == "too_short":
        return f"must list at least {error['ctx']['min_length']}"
    return message.removeprefix("Value error, ")
