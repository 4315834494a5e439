"""Readings behind status cards, by an unguessable id (the raw output button's value)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import Engine, text

from habot.core.serialize import status_from_dict, status_to_dict
from habot.core.verdict import PairStatus
from habot.store.db import store_errors, threaded, writing

_RECENT = 64  # readings remembered by identity


def _failed(put: asyncio.Future[str]) -> bool:
    return put.done() and (put.cancelled() or put.exception() is not None)


class KeptReadingStore:
    """The kept_readings table; the async methods are the CommandService's keeper port."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._recent: OrderedDict[int, tuple[PairStatus, asyncio.Future[str]]] = OrderedDict()

    @store_errors
    async def put(self, status: PairStatus) -> str:
        """Keep a reading; return its id. The same reading shown to many people (one shared
        ``ha-status``) is kept once, under one id."""
        key = id(status)
        recent = self._recent.get(key)
        if recent is None or recent[0] is not status or _failed(recent[1]):
            recent = (status, asyncio.ensure_future(asyncio.to_thread(self.put_sync, status)))
            self._recent[key] = recent
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return await asyncio.shield(recent[1])

    def put_sync(self, status: PairStatus) -> str:
        """See :meth:`put`."""
        reading_id = secrets.token_hex(8)
        with writing(self._engine) as conn:
            conn.execute(
                text(
                    "INSERT INTO kept_readings (id, pair, at, body) VALUES (:id, :pair, :at, :body)"
                ),
                {
                    "id": reading_id,
                    "pair": status.pair,
                    "at": status.observed_at.isoformat(),
                    "body": json.dumps(status_to_dict(status)),
                },
            )
        return reading_id

    def get_sync(self, reading_id: str) -> PairStatus | None:
        """A kept reading, or None once pruned (or never kept)."""
        with self._engine.connect() as conn:
            body = conn.execute(
                text("SELECT body FROM kept_readings WHERE id = :id"), {"id": reading_id}
            ).scalar()
        return status_from_dict(json.loads(body)) if body else None

    def prune_sync(self, before: datetime) -> int:
        """Forget readings taken before ``before``."""
        with writing(self._engine) as conn:
            result = conn.execute(
                text("DELETE FROM kept_readings WHERE at < :before"), {"before": before.isoformat()}
            )
        return int(result.rowcount)

    # -- the async API (the services' port) --

    get = threaded(get_sync)
    prune = threaded(prune_sync)
