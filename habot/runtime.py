"""The composition root: settings, secrets and adapters are built here once and handed down."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from habot.config import Auth, Settings
from habot.core.addresses import NodeAddress
from habot.core.model import Role
from habot.errors import ConfigError
from habot.secrets import SSH_KEY_PASSPHRASE, Secrets, ssh_password_names
from habot.services.status import StatusService
from habot.ssh.executor import NodeLogin, SshExecutor
from habot.store.audit import AuditStore
from habot.store.db import make_engine, upgrade


def utc_now() -> datetime:
    """The real clock, injected wherever time is needed."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """Everything a command needs, built from one configuration."""

    settings: Settings
    executor: SshExecutor
    status: StatusService


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Read keys, known_hosts and passwords, and open the SSH executor for these settings."""
    secrets = Secrets(os.environ)
    passphrase = secrets.get(SSH_KEY_PASSPHRASE)
    logins = node_logins(settings, secrets)
    async with SshExecutor(settings.ssh, passphrase, logins) as executor:
        yield Runtime(settings, executor, StatusService(settings, executor, utc_now))


def node_logins(settings: Settings, secrets: Secrets) -> dict[NodeAddress, NodeLogin]:
    """How to log in to every configured node; a pair with password auth and no password
    anywhere is a ConfigError naming where habot looked."""
    logins: dict[NodeAddress, NodeLogin] = {}
    for pair in settings.pairs:
        login = settings.login(pair)
        password = None
        if login.auth is Auth.PASSWORD:
            password = secrets.ssh_password(pair.name)
            if password is None:
                raise ConfigError(_no_password(pair.name))
        for role in Role:
            logins[pair.address(role)] = NodeLogin(
                login.username, password, login.transport.console, login.prompt
            )
    return logins


def _no_password(pair: str) -> str:
    own, shared = ssh_password_names(pair)
    return (
        f'pair {pair}: auth = "password" but no password was found. Put it in the keyring '
        f"(`keyring set habot {own.keyring_name}`, or `{shared.keyring_name}` for every "
        f"pair) or in the environment ({own.env_var}, or {shared.env_var})."
    )


def open_store(settings: Settings) -> tuple[Engine, AuditStore]:
    """The database engine (schema migrated to the newest version) and the audit store."""
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        raise ConfigError(f"database.url: cannot open or migrate the database: {exc}") from exc
    return engine, AuditStore(engine)
