"""The composition root: settings, secrets and adapters are built here once and handed down."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from habot.config import Settings
from habot.errors import ConfigError
from habot.secrets import SSH_KEY_PASSPHRASE, Secrets
from habot.services.status import StatusService
from habot.ssh.executor import SshExecutor
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
    """Read keys and known_hosts and open the SSH executor for these settings."""
    passphrase = Secrets(os.environ).get(SSH_KEY_PASSPHRASE)
    async with SshExecutor(settings.ssh, passphrase) as executor:
        yield Runtime(settings, executor, StatusService(settings, executor, utc_now))


def open_store(settings: Settings) -> tuple[Engine, AuditStore]:
    """The database engine (schema migrated to the newest version) and the audit store."""
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        raise ConfigError(f"database.url: cannot open or migrate the database: {exc}") from exc
    return engine, AuditStore(engine)
