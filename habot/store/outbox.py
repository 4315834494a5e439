"""Outbox rows: enqueued before sending, delivered head-first per lane."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from habot.core.approvals import OPEN
from habot.core.outbox import Delivery, MessageKind, Next, OutboxMessage, Withdrawn, update_of
from habot.store.db import LaneOrder, threaded, writing


class OutboxStore:
    """The outbox table (sync; the worker runs it in a thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        #: A lane's order is its ids' order, given at commit: two writers into one lane on
        #: worker threads commit in any order, so each lane's writes go one at a time, in
        #: the order they were called (a progress reply could land above the one before).
        self._order = LaneOrder()

    def enqueue_sync(
        self, lane: str, kind: MessageKind, channel: str, payload: dict[str, Any], now: datetime
    ) -> int:
        """Store a message to send; return its id (an 'update' may refer to it by id)."""
        with writing(self._engine) as conn:
            return _insert(conn, lane, kind, channel, payload, now)

    def enqueue_update_sync(
        self,
        lane: str,
        channel: str,
        card: int,
        version: int,
        payload: dict[str, Any],
        now: datetime,
    ) -> int | None:
        """Queue an edit of ``card`` showing its request at ``version`` — or drop it (None)
        when an edit showing a newer version is already queued or sent: two writers racing
        (an approval and a cancel) can never leave the card on the older state."""
        with writing(self._engine) as conn:
            if conn.dialect.name == "postgresql":  # serialise edits of one card
                conn.execute(text("SELECT pg_advisory_xact_lock(:k, :c)"), {"k": 7, "c": card})
            newest = conn.execute(
                text("SELECT max(version) FROM outbox WHERE card_of = :c"), {"c": card}
            ).scalar()
            if newest is not None and version < newest:
                return None
            payload = update_of(card, payload)
            return _insert(conn, lane, MessageKind.UPDATE, channel, payload, now, (card, version))

    def head_sync(self, lane: str) -> OutboxMessage | None:
        """The oldest queued message of a lane (later ones wait behind it: order holds)."""
        rows = self._select(
            "WHERE lane = :lane AND state = 'queued' ORDER BY id LIMIT 1", {"lane": lane}
        )
        return rows[0] if rows else None

    def queued_in_sync(self, lane: str) -> list[OutboxMessage]:
        """A lane's queued messages, head first."""
        return self._select("WHERE lane = :lane AND state = 'queued' ORDER BY id", {"lane": lane})

    def drop_sync(self, message_id: int) -> bool:
        """Forget a queued message without sending it (it was overtaken)."""
        with writing(self._engine) as conn:
            dropped = conn.execute(
                text("DELETE FROM outbox WHERE id = :id AND state = 'queued'"), {"id": message_id}
            )
            return bool(dropped.rowcount == 1)

    def lanes_sync(self) -> list[str]:
        """Lanes with queued messages."""
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT DISTINCT lane FROM outbox WHERE state = 'queued' ORDER BY lane")
                ).scalars()
            )

    def get_sync(self, message_id: int) -> OutboxMessage | None:
        """One message by id."""
        rows = self._select("WHERE id = :id", {"id": message_id})
        return rows[0] if rows else None

    def claim_sync(self, message_id: int, sender: str, now: datetime, ttl: timedelta) -> bool:
        """Take a queued message for sending until ``now + ttl``; False while another
        sender's claim holds (or the message is no longer queued)."""
        with writing(self._engine) as conn:
            claimed = conn.execute(
                text(
                    "UPDATE outbox SET claimed_by = :me, claimed_until = :until "
                    "WHERE id = :id AND state = 'queued' AND (claimed_by IS NULL "
                    "OR claimed_by = :me OR claimed_until < :now)"
                ),
                {
                    "id": message_id,
                    "me": sender,
                    "now": now.isoformat(),
                    "until": (now + ttl).isoformat(),
                },
            )
            return bool(claimed.rowcount == 1)

    def claimant_sync(self, message_id: int, now: datetime) -> str | None:
        """Who is sending a queued message right now (its claim still holds), if anyone."""
        with self._engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT claimed_by FROM outbox WHERE id = :id AND state = 'queued' "
                    "AND claimed_until >= :now"
                ),
                {"id": message_id, "now": now.isoformat()},
            ).scalar()

    def take_claim_sync(
        self, message_id: int, dead: str, sender: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take a message claimed by a sender known to be dead (only if it still holds it)."""
        with writing(self._engine) as conn:
            taken = conn.execute(
                text(
                    "UPDATE outbox SET claimed_by = :me, claimed_until = :until "
                    "WHERE id = :id AND state = 'queued' AND claimed_by = :dead"
                ),
                {"id": message_id, "me": sender, "dead": dead,
                 "until": (now + ttl).isoformat()},
            )  # fmt: skip
            return bool(taken.rowcount == 1)

    def withdraw_undelivered_sync(self, lane: str, now: datetime) -> Withdrawn | None:
        """Drop ``lane``'s queued messages if none of the lane's messages was delivered or
        is being sent right now; None (nothing dropped) when one was or is."""
        lock = " FOR UPDATE" if self._engine.dialect.name == "postgresql" else ""
        with writing(self._engine) as conn:
            query = "SELECT * FROM outbox WHERE lane = :l" + lock  # noqa: S608
            rows = conn.execute(text(query), {"l": lane}).mappings().all()
            if any(_out_or_going(r, now) for r in rows):
                return None
            queued = [r for r in rows if r["state"] == "queued"]
            for row in queued:
                conn.execute(text("DELETE FROM outbox WHERE id = :id"), {"id": row["id"]})
            tried = any(r["attempts"] or r["claimed_by"] for r in queued)
            return Withdrawn(len(queued), tried)

    def record_sync(
        self, message_id: int, outcome: Next, ts: str | None, error: str | None
    ) -> None:
        """Store an attempt's result (and let the claim go)."""
        with writing(self._engine) as conn:
            conn.execute(
                text(
                    "UPDATE outbox SET state = :state, attempts = attempts + 1, "
                    "next_attempt_at = :next, ts = COALESCE(:ts, ts), error = :error, "
                    "claimed_by = NULL, claimed_until = NULL WHERE id = :id"
                ),
                {
                    "state": outcome.state.value,
                    "next": outcome.next_attempt_at.isoformat(),
                    "ts": ts,
                    "error": error,
                    "id": message_id,
                },
            )

    def queued_sync(self) -> int:
        """How many messages wait to be delivered."""
        with self._engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM outbox WHERE state = 'queued'")).scalar()
                or 0
            )

    def prune_sync(self, before: datetime) -> int:
        """Delete delivered and set-aside messages created before ``before``, except cards
        something may still edit (an open alert's card, an open request's card: waiting,
        scheduled, running, or of unknown outcome until it is resolved)."""
        query = text(
            "DELETE FROM outbox WHERE state != 'queued' AND created_at < :before "
            "AND id NOT IN (SELECT card_id FROM alert_state WHERE card_id IS NOT NULL) "
            "AND id NOT IN (SELECT card_id FROM requests WHERE card_id IS NOT NULL "
            "AND state IN :open)"
        ).bindparams(bindparam("open", expanding=True))
        with writing(self._engine) as conn:
            result = conn.execute(query, {"before": before.isoformat(), "open": sorted(OPEN)})
        return int(result.rowcount)

    def _select(self, where: str, params: dict[str, Any]) -> list[OutboxMessage]:
        with self._engine.connect() as conn:
            rows = conn.execute(text(f"SELECT * FROM outbox {where}"), params).mappings().all()  # noqa: S608 (fixed clauses)
        return [
            OutboxMessage(
                row["id"],
                row["lane"],
                MessageKind(row["kind"]),
                row["channel"],
                json.loads(row["payload"]),
                row["attempts"],
                datetime.fromisoformat(row["next_attempt_at"]),
                Delivery(row["state"]),
                row["ts"],
                row["error"],
            )
            for row in rows
        ]

    # -- the async API (the services' port) --

    _enqueue = threaded(enqueue_sync)
    _enqueue_update = threaded(enqueue_update_sync)

    async def enqueue(
        self, lane: str, kind: MessageKind, channel: str, payload: dict[str, Any], now: datetime
    ) -> int:
        """Store a message to send, after every write into its lane called before it."""
        async with self._order.of(lane):
            return await self._enqueue(lane, kind, channel, payload, now)

    async def enqueue_update(
        self, lane: str, channel: str, card: int, version: int, payload: dict[str, Any],
        now: datetime,
    ) -> int | None:  # fmt: skip
        """Queue an edit of ``card`` (see enqueue_update_sync), in its lane's order."""
        async with self._order.of(lane):
            return await self._enqueue_update(lane, channel, card, version, payload, now)

    head = threaded(head_sync)
    queued_in = threaded(queued_in_sync)
    drop = threaded(drop_sync)
    lanes = threaded(lanes_sync)
    get = threaded(get_sync)
    claim = threaded(claim_sync)
    claimant = threaded(claimant_sync)
    take_claim = threaded(take_claim_sync)
    withdraw_undelivered = threaded(withdraw_undelivered_sync)
    record = threaded(record_sync)
    prune = threaded(prune_sync)
    queued = threaded(queued_sync)


def _out_or_going(row: Any, now: datetime) -> bool:
    """A message delivered, or claimed by a sender whose claim still holds."""
    claimed = row["claimed_until"] is not None and row["claimed_until"] >= now.isoformat()
    return bool(row["state"] == "sent" or claimed)


def _insert(
    conn: Connection,
    lane: str,
    kind: MessageKind,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
    card_version: tuple[int, int] | None = None,
) -> int:
    """One outbox row (an edit of a card also names the card and the version it shows)."""
    card, version = card_version or (None, None)
    result = conn.execute(
        text(
            "INSERT INTO outbox (lane, kind, channel, payload, created_at, next_attempt_at, "
            "card_of, version) VALUES (:lane, :kind, :channel, :payload, :now, :now, :card, "
            ":version) RETURNING id"
        ),
        {
            "lane": lane,
            "kind": kind.value,
            "channel": channel,
            "payload": json.dumps(payload),
            "now": now.isoformat(),
            "card": card,
            "version": version,
        },
    )
    return int(result.scalar_one())
