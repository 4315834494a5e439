"""Alert state per pair: the streaks and open incident as JSON (written by the poll), the
mute in its own column (written by /ha mute), so neither overwrites the other."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from habot.core.alerts import (
    Acknowledgement,
    AlertState,
    Announced,
    Incident,
    with_acknowledgement,
)
from habot.core.model import Health, NodeState, Verdict
from habot.store.db import threaded, writing


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def encode(state: AlertState) -> str:
    """AlertState → JSON (the mute is stored apart)."""
    incident = state.incident
    return json.dumps(
        {
            "bad_streak": state.bad_streak,
            "good_streak": state.good_streak,
            "first_bad_at": _iso(state.first_bad_at),
            "reminded": state.reminded,
            "incident": None
            if incident is None
            else {
                "reason": incident.reason,
                "since": _iso(incident.since),
                "last_seen": _iso(incident.last_seen),
                "readings": incident.readings,
                "acknowledged_by": incident.acknowledged_by,
                "acknowledged_at": _iso(incident.acknowledged_at),
                "called_at": _iso(incident.called_at),
                "paged": list(incident.paged),
                "paged_at": _iso(incident.paged_at),
            },
        }
    )


def decode(raw: str) -> AlertState:
    """JSON → AlertState (without the mute, which lives in its own column)."""
    data: dict[str, Any] = json.loads(raw)
    found = data.get("incident")
    incident = None
    if found:
        since, last_seen = _when(found["since"]), _when(found["last_seen"])
        assert since is not None
        assert last_seen is not None
        incident = Incident(
            found["reason"],
            since,
            last_seen,
            int(found["readings"]),
            found.get("acknowledged_by"),
            _when(found.get("acknowledged_at")),
            _when(found.get("called_at")),
            tuple(found.get("paged") or ()),
            _when(found.get("paged_at")),
        )
    return AlertState(
        int(data["bad_streak"]),
        int(data["good_streak"]),
        _when(data["first_bad_at"]),
        incident,
        reminded=bool(data.get("reminded", False)),
    )


def encode_announced(announced: Announced) -> str:
    """Announced → JSON (its own column)."""
    verdict, primary, secondary, health = announced.shape
    return json.dumps(
        {
            "shape": [verdict.value, primary.value, secondary.value, health and health.value],
            "at": announced.at.isoformat(),
            "request": announced.request,
            "operation": announced.operation,
        }
    )


def decode_announced(raw: str | None) -> Announced | None:
    """JSON → Announced (None when nothing is announced)."""
    if not raw:
        return None
    data: dict[str, Any] = json.loads(raw)
    verdict, primary, secondary, health = data["shape"]
    return Announced(
        (
            Verdict(verdict),
            NodeState(primary),
            NodeState(secondary),
            Health(health) if health else None,
        ),
        datetime.fromisoformat(data["at"]),
        data["request"],
        data["operation"],
    )


_SET_OWN_COLUMN = {
    column: text(
        f"INSERT INTO alert_state (pair, state, {column}) VALUES (:p, :s, :v) "  # noqa: S608
        f"ON CONFLICT (pair) DO UPDATE SET {column} = excluded.{column}"
    )
    for column in ("muted_until", "announced")  # fixed names, never input
}


class AlertStateStore:
    """Load and save a pair's alert state and its open card (sync)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load_sync(self, pair: str) -> tuple[AlertState, int | None]:
        """The pair's state (fresh when never seen) and its open card's outbox id."""
        with self._engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT state, card_id, muted_until, announced, ack_since, ack_by, ack_at "
                    "FROM alert_state WHERE pair = :p"
                ),
                {"p": pair},
            ).first()
        if row is None:
            return AlertState(), None
        state = replace(decode(row[0]), muted_until=_when(row[2]))
        state = replace(state, announced=decode_announced(row[3]))
        since, at = _when(row[4]), _when(row[6])
        ack = Acknowledgement(since, row[5], at) if since and at and row[5] else None
        return with_acknowledgement(state, ack), row[1]

    def acknowledge_sync(self, pair: str, ack: Acknowledgement) -> bool:
        """Record who is on the incident that began at ``ack.since`` — unless someone
        already is (True: this one was recorded). The poll's state is untouched."""
        with writing(self._engine) as conn:
            done = conn.execute(
                text(
                    "UPDATE alert_state SET ack_since = :s, ack_by = :b, ack_at = :a "
                    "WHERE pair = :p AND (ack_since IS NULL OR ack_since <> :s)"
                ),
                {"p": pair, "s": _iso(ack.since), "b": ack.by, "a": _iso(ack.at)},
            )
            return done.rowcount == 1

    def announce_sync(self, pair: str, announced: Announced) -> None:
        """Record the shape habot's own operation produced (the rest is untouched)."""
        self._set_own_column(pair, "announced", encode_announced(announced))

    def forget_announced_sync(self, pair: str, seen: Announced) -> None:
        """Forget the announcement the poll saw — only if no newer one replaced it since."""
        with writing(self._engine) as conn:
            conn.execute(
                text("UPDATE alert_state SET announced = NULL WHERE pair = :p AND announced = :a"),
                {"p": pair, "a": encode_announced(seen)},
            )

    def set_mute_sync(self, pair: str, until: datetime | None) -> None:
        """Mute the pair until a time (None: unmute); the rest of its state is untouched."""
        self._set_own_column(pair, "muted_until", _iso(until))

    def _set_own_column(self, pair: str, column: str, value: str | None) -> None:
        """Write one column that has a single writer (the mute, the announcement), never
        the poll's state beside it — so concurrent writers cannot undo each other."""
        with writing(self._engine) as conn:
            conn.execute(
                _SET_OWN_COLUMN[column], {"p": pair, "s": encode(AlertState()), "v": value}
            )

    def save_sync(self, pair: str, state: AlertState, card_id: int | None) -> None:
        """Replace the pair's streaks, incident and card (never its mute)."""
        with writing(self._engine) as conn:
            conn.execute(
                text(
                    "INSERT INTO alert_state (pair, state, card_id) VALUES (:p, :s, :c) "
                    "ON CONFLICT (pair) DO UPDATE SET state = excluded.state, "
                    "card_id = excluded.card_id"
                ),
                {"p": pair, "s": encode(state), "c": card_id},
            )

    # -- the async API (the services' port) --

    load = threaded(load_sync)
    announce = threaded(announce_sync)
    forget_announced = threaded(forget_announced_sync)
    set_mute = threaded(set_mute_sync)
    acknowledge = threaded(acknowledge_sync)
    save = threaded(save_sync)
