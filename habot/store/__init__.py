"""Persistence adapters (SQLModel/SQLAlchemy); the schema is managed by Alembic migrations.

:func:`sql_stores` builds every store over one engine — the composition root's only way in.
"""

from __future__ import annotations

from sqlalchemy import Engine

from habot.services.ports import Stores
from habot.store.alert_state import AlertStateStore
from habot.store.audit import AuditStore
from habot.store.cursors import CursorStore
from habot.store.db import OwnThread, ping, threaded
from habot.store.freezes import FreezeStore
from habot.store.home_viewers import ViewerStore
from habot.store.kept_readings import KeptReadingStore
from habot.store.leases import LeaseStore
from habot.store.outbox import OutboxStore
from habot.store.readings import ReadingStore
from habot.store.requests import RequestStore
from habot.store.seen_requests import SeenRequestStore
from habot.store.shared_time import server_time
from habot.store.totp import TotpStore


def sql_stores(engine: Engine) -> Stores:
    """Every store over ``engine``, once each."""
    return Stores(
        audit=AuditStore(engine),
        requests=RequestStore(engine),
        readings=ReadingStore(engine),
        kept=KeptReadingStore(engine),
        alerts=AlertStateStore(engine),
        outbox=OutboxStore(engine),
        viewers=ViewerStore(engine),
        cursors=CursorStore(engine),
        leases=LeaseStore(engine),
        seen=SeenRequestStore(engine),
        totp=TotpStore(engine),
        freezes=FreezeStore(engine),
        ping=_Ping(engine).check,
        shared_clock=server_time(engine),
    )


class _Ping:
    """The health check's query, on a thread of its own: a flood of requests filling the
    default executor must not make /healthz say 503 while the database is fine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.own_thread = OwnThread("habot-health")

    def check_sync(self) -> None:
        ping(self._engine)

    check = threaded(check_sync)
