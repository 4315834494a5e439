"""How habot reaches the appliances: [ssh], its patterns, and each [[pairs]]."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import (
    Field,
    field_validator,
)

from habot.config.base import Address, Duration, Section
from habot.core.addresses import NodeAddress
from habot.core.catalogue import DEFAULT_DECLUSTER_LOG_PATH, DEFAULT_LOG_PATH, check_log_path
from habot.core.model import Role
from habot.core.operations import Procedures, SwitchoverVia
from habot.core.patterns import Patterns, regex, status_line, word_meaning

_PAIR_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_RESERVED_PAIR_NAMES = {"all", "help", "primary", "secondary"}


_USERNAME = r"^[A-Za-z0-9._-]+$"


class Auth(StrEnum):
    """How habot logs in to a node: with its client keys, or with a password kept in
    the keyring or the environment (never in the config)."""

    KEY = "key"
    PASSWORD = "password"  # noqa: S105 — the name of an auth method, not a password


class Transport(StrEnum):
    """How commands reach a node: as SSH exec requests, or typed at the appliance's
    interactive HA console (a shell window with a prompt, as the vendor's guide shows)."""

    EXEC = "exec"
    CONSOLE = "console"

    @property
    def console(self) -> bool:
        """Whether commands are typed at the console."""
        return self is Transport.CONSOLE


class PatternSettings(Section):
    """A site's own words for what varies between appliance versions (see
    habot/core/patterns.py): ha-status lines, the words in them, the console's confirmation
    question and its refusals. Unset: the built-in rules. A pair's own [pairs.patterns]
    replaces each setting it sets."""

    #: Regular expressions tried on each ha-status line before the built-in rules; named
    #: groups fill habot's fields: role, state, ip, this_host, health, floating_ip.
    status_lines: tuple[str, ...] = ()
    #: A site's word → habot's: {"MASTER" = "primary", "RUNNING" = "active", "GREEN" = "ok"}.
    words: dict[str, str] = Field(default_factory=dict)
    #: The console's confirmation question (default: any [y/N]-style question).
    confirmation: str | None = Field(None, min_length=1, max_length=200)
    #: The console's words for a refused command (default: not available|not found|invalid).
    refusal: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("status_lines")
    @classmethod
    def _status_lines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for n, line in enumerate(value):
            status_line(line, f"[{n}]")
        return value

    @field_validator("words")
    @classmethod
    def _words(cls, value: dict[str, str]) -> dict[str, str]:
        for word, meaning in value.items():
            word_meaning(word, meaning)
        return value

    @field_validator("confirmation", "refusal")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else regex(value)

    def merged(self, over: PatternSettings | None) -> PatternSettings:
        """These patterns with a pair's own on top (each setting the pair sets wins)."""
        if over is None:
            return self
        return self.model_copy(update=over.model_dump(exclude_unset=True))

    def compiled(self) -> Patterns:
        """The patterns as the parser and the SSH adapter use them."""
        named = [(f"patterns.status_lines[{n}]", line) for n, line in enumerate(self.status_lines)]
        lines = tuple((name, status_line(line, name)) for name, line in named)
        words = dict(word_meaning(w, m) for w, m in self.words.items())
        return Patterns(lines, words, self.confirmation, self.refusal)


class SshSettings(Section):
    """How habot reaches the appliances (``username``, ``auth`` and ``transport`` are the
    defaults every pair may override)."""

    #: The account habot logs in as (a pair may set its own).
    username: str = Field("habot", min_length=1, pattern=_USERNAME)
    #: How it logs in: "key" (client_keys) or "password" (from the keyring or the environment,
    #: never here).
    auth: Auth = Auth.KEY
    #: How commands reach a node: "exec" requests, or typed at the interactive HA "console".
    transport: Transport = Transport.EXEC
    #: habot's private key files (needed while some pair logs in with a key); a passphrase comes
    #: from the keyring entry ssh_key_passphrase or HABOT_SSH_KEY_PASSPHRASE.
    client_keys: tuple[Path, ...] = ()
    #: The nodes' host keys; strict: an unknown or changed key is refused, never trusted on first
    #: use.
    known_hosts: Path
    #: How long a connection (and a console's first prompt) may take.
    connect_timeout: Duration = timedelta(seconds=10)
    #: How long a mutating command may run before it is cut off (its outcome is then checked).
    command_timeout: Duration = timedelta(minutes=10)
    #: How long ha-status may take (less than the mutating commands get).
    status_timeout: Duration = timedelta(seconds=30)
    fresh_for: Duration = timedelta(seconds=2)  # a viewer's status may reuse a reading this young
    #: Output stalled on a question habot does not recognise for this long: the command is aborted.
    prompt_idle: Duration = timedelta(seconds=5)
    #: Beyond this much output its head and tail are kept and it is marked truncated (not trusted).
    max_output_chars: int = Field(1_048_576, ge=4096, le=64 * 1_048_576)
    #: SSH connections kept per node: how many commands run on a node at once (operations first).
    pool_size: int = Field(2, ge=1, le=16)
    #: How often an idle pooled connection is checked.
    keepalive_interval: Duration = timedelta(seconds=30)
    #: The console's prompt for every pair that sets none (a regular expression).
    prompt: str | None = Field(None, min_length=1, max_length=200)
    #: What varies between appliance versions, for every pair (a pair's own override it).
    patterns: PatternSettings = PatternSettings()

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str | None) -> str | None:
        return None if value is None else regex(value)


class PairSettings(Section):
    """One HA pair."""

    #: The pair's name in commands: 1-32 lower-case letters, digits, "-" or "_" ("all" is
    #: reserved).
    name: str
    #: The Primary node: "host", "host:port" or "[v6addr]:port" (port 22 by default).
    primary: Address
    #: The Secondary node, written the same way.
    secondary: Address
    #: The floating IP, compared with what the nodes report (unset: not compared).
    floating_ip: str | None = None
    #: The log `/ha logs PAIR` reads (an absolute path).
    log_path: str = DEFAULT_LOG_PATH
    #: The log `/ha logs PAIR decluster` reads.
    decluster_log_path: str = DEFAULT_DECLUSTER_LOG_PATH
    #: The node ha-failback runs on (the vendor's documents disagree).
    failback_on: Role = Role.SECONDARY
    #: How a switchover is done: "failover-on-primary", "failover-on-secondary" or "demote-
    #: primary".
    switchover_via: SwitchoverVia = SwitchoverVia.FAILOVER_ON_PRIMARY
    username: str | None = Field(None, min_length=1, pattern=_USERNAME)  # else [ssh]'s
    auth: Auth | None = None  # else [ssh]'s
    transport: Transport | None = None  # else [ssh]'s
    prompt: str | None = Field(None, min_length=1, max_length=200)  # the console's, if unusual
    patterns: PatternSettings | None = None  # on top of [ssh.patterns]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _PAIR_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a pair name: use 1-32 lower-case letters, digits, '-' or '_'"
            )
        if value in _RESERVED_PAIR_NAMES:
            raise ValueError(f"{value!r} is reserved in commands; choose another pair name")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str | None) -> str | None:
        return None if value is None else regex(value)

    @field_validator("floating_ip")
    @classmethod
    def _floating_ip(cls, value: str | None) -> str | None:
        return None if value is None else str(ipaddress.ip_address(value))

    @field_validator("log_path", "decluster_log_path")
    @classmethod
    def _log_path(cls, value: str) -> str:
        return check_log_path(value)

    def address(self, role: Role) -> NodeAddress:
        """The address of the node with this role."""
        return self.primary if role is Role.PRIMARY else self.secondary

    @property
    def procedures(self) -> Procedures:
        """The pair's choices where the vendor's documents disagree."""
        return Procedures(failback_on=self.failback_on, switchover_via=self.switchover_via)
