"""Requests on SQLModel: created once per pair at a time, moved only by compare-and-set.

Every state change is ``UPDATE … WHERE id = ? AND state = ?``: of two replicas, two
clicks or a click and an expiry sweep, exactly one sees a row change; the others lose and
are told so. The database enforces one open request per pair (a partial unique index).
A change and the audit event that records it (``said``) commit in one transaction, so the
chain holds every change, in the order the changes were made.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, text
from sqlalchemy.exc import IntegrityError

from habot.core.approvals import OPEN, WAITING, Glass, Request, RequestState
from habot.core.audit import AuditEvent, RequestRow
from habot.core.catalogue import HaCommand
from habot.core.checks import from_json as checks_from
from habot.core.checks import to_json as checks_json
from habot.core.model import NodeState, Role, Verdict
from habot.core.oncall import FirstLevel
from habot.core.operations import Operation, OperationPlan
from habot.errors import PairBusy
from habot.store.audit import append_in
from habot.store.db import WRITE_LOCK, threaded

#: The advisory lock (PostgreSQL) that serialises break-glass across replicas: "habot" + 1.
_GLASS_LOCK = 0x6861626F74 + 1


class RequestStore:
    """Requests, approvals and role-change times: blocking ``*_sync`` methods (for the CLI
    and tests) and the async API the services use, on a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _write(self) -> Connection:
        """A connection whose transactions take the write lock before reading."""
        return self._engine.connect().execution_options(**{WRITE_LOCK: True})

    def _set_once(
        self,
        update: str | TextClause,
        params: dict[str, Any],
        said: AuditEvent | None = None,
        across_rows: bool = False,
    ) -> bool:
        """Run one compare-and-set ``UPDATE`` (its ``WHERE`` says what must still hold);
        True only for the one caller whose update changed the row. ``said`` is appended in
        the same transaction, only then. ``across_rows``: its condition reads other rows
        too, so on PostgreSQL every such update takes one lock first (a row's lock is not
        enough; SQLite's write lock already is)."""
        with self._write() as conn, conn.begin():
            if across_rows and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GLASS_LOCK})
            query = text(update) if isinstance(update, str) else update
            changed = conn.execute(query, params).rowcount
            if changed == 1 and said is not None:
                append_in(conn, said)
        return bool(changed == 1)

    # -- creating and reading -----------------------------------------------------------

    def create_sync(
        self,
        request: Request,
        channel: str | None,
        plan: OperationPlan,
        said: AuditEvent | None = None,
    ) -> None:
        """Store a new pending request; PairBusy if the pair already has an open one.
        ``said`` (the audit event recording it) is appended in the same transaction."""
        row = _row(request) | {"channel": channel, "plan": _plan_json(plan)}
        with self._write() as conn:
            try:
                with conn.begin():
                    conn.execute(
                        text(
                            "INSERT INTO requests (id, operation, pair, node, requester, channel, "
                            "created_at, expires_at, required, snapshot, state, override, plan, "
                            "asked, reason, ticket, checks, run_at, alert_channel, alert_card) "
                            "VALUES (:id, :operation, :pair, :node, :requester, :channel, "
                            ":created_at, :expires_at, :required, :snapshot, :state, :override, "
                            ":plan, :asked, :reason, :ticket, :checks, :run_at, :alert_channel, "
                            ":alert_card)"
                        ),
                        row,
                    )
                    if said is not None:
                        append_in(conn, said)
            except IntegrityError:
                open_id = self.open_for_sync(request.pair)
                raise PairBusy(open_id or "?") from None

    def open_for_sync(self, pair: str) -> str | None:
        """The id of the pair's open request, if any."""
        with self._engine.connect() as conn:
            query = text(
                "SELECT id FROM requests WHERE pair = :pair AND state IN :open"
            ).bindparams(bindparam("open", expanding=True))
            return conn.execute(query, {"pair": pair, "open": sorted(OPEN)}).scalar()

    def get_sync(self, request_id: str) -> Request | None:
        """A request with its approvals, or None."""
        with self._engine.connect() as conn:
            row = (
                conn.execute(text("SELECT * FROM requests WHERE id = :id"), {"id": request_id})
                .mappings()
                .first()
            )
            if row is None:
                return None
            approvers = (
                conn.execute(
                    text(
                        "SELECT approver FROM approvals "
                        "WHERE request_id = :id ORDER BY at, approver"
                    ),
                    {"id": request_id},
                )
                .scalars()
                .all()
            )
        return _request(row, tuple(approvers))

    def plan_sync(self, request_id: str) -> OperationPlan:
        """The plan the request was approved on (for its card)."""
        with self._engine.connect() as conn:
            raw = conn.execute(
                text("SELECT plan FROM requests WHERE id = :id"), {"id": request_id}
            ).scalar_one()
        data = json.loads(raw)
        return OperationPlan(
            Operation(data["operation"]),
            data["pair"],
            Role(data["node"]),
            data["address"],
            HaCommand(data["command"]),
            data["why"],
            tuple(
                (Role(r), frozenset(NodeState(s) for s in states)) for r, states in data["expected"]
            ),
            data["warning"],
        )

    def card_sync(self, request_id: str) -> tuple[str | None, int | None]:
        """Where the request's card is: (channel, the card's outbox id)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                text("SELECT channel, card_id FROM requests WHERE id = :id"), {"id": request_id}
            ).first()
        return (row[0], row[1]) if row else (None, None)

    def set_card_sync(self, request_id: str, channel: str, card_id: int) -> None:
        """Remember the approval card (by its outbox id; its ts is known once delivered)."""
        with self._write() as conn, conn.begin():
            conn.execute(
                text("UPDATE requests SET channel = :c, card_id = :card WHERE id = :id"),
                {"c": channel, "card": card_id, "id": request_id},
            )

    def rows_sync(self) -> list[RequestRow]:
        """Every request's state and approvers (for checking the table against the chain)."""
        with self._engine.connect() as conn:
            states = conn.execute(text("SELECT id, state FROM requests")).all()
            approvals = conn.execute(text("SELECT request_id, approver FROM approvals")).all()
        approvers: dict[str, set[str]] = {}
        for request_id, approver in approvals:
            approvers.setdefault(request_id, set()).add(approver)
        return [RequestRow(rid, state, frozenset(approvers.get(rid, ()))) for rid, state in states]

    def in_states_sync(self, *states: RequestState) -> list[Request]:
        """Requests in any of these states, oldest first."""
        names = [s.value for s in states]
        with self._engine.connect() as conn:
            query = text(
                "SELECT id FROM requests WHERE state IN :states ORDER BY created_at"
            ).bindparams(bindparam("states", expanding=True))
            ids = conn.execute(query, {"states": names}).scalars().all()
        return [r for i in ids if (r := self.get_sync(i))]

    # -- changing -------------------------------------------------------------------------

    def add_approval_sync(
        self, request_id: str, approver: str, at: datetime, said: AuditEvent | None = None
    ) -> int | None:
        """Record an approval (once per approver) on a pending request that still needs
        one; return the count — or None when it is no longer pending, or already has the
        approvals it needs (fifty clicks at once count ``required``, not fifty). ``said`` is
        appended in the same transaction, with the count in its detail."""
        lock = " FOR UPDATE" if self._engine.dialect.name == "postgresql" else ""
        with self._write() as conn, conn.begin():
            row = conn.execute(
                text(f"SELECT state, required FROM requests WHERE id = :id{lock}"),  # noqa: S608
                {"id": request_id},
            ).first()
            if row is None or row.state != RequestState.PENDING.value:
                return None
            approvers = set(
                conn.execute(
                    text("SELECT approver FROM approvals WHERE request_id = :id"),
                    {"id": request_id},
                ).scalars()
            )
            if approver in approvers:
                return len(approvers)  # a double click: counted once
            if len(approvers) >= row.required:
                return None
            conn.execute(
                text("INSERT INTO approvals (request_id, approver, at) VALUES (:id, :a, :at)"),
                {"id": request_id, "a": approver, "at": at.isoformat()},
            )
            conn.execute(
                text("UPDATE requests SET version = version + 1 WHERE id = :id"),
                {"id": request_id},
            )
            count = len(approvers) + 1
            if said is not None:
                append_in(conn, replace(said, detail={**said.detail, "approvals": count}))
        return count

    def escalate_sync(
        self,
        request_id: str,
        asked: tuple[datetime, ...],
        now: datetime,
        said: AuditEvent | None = None,
        first: FirstLevel | None = None,
    ) -> bool:
        """Record that the next level was asked at ``now`` (and who level 1 was, with
        ``first``) — only while the request is pending and its levels asked are still
        ``asked`` (of two replicas' sweeps, one asks). ``said`` is appended in the same
        transaction."""
        return self._set_once(
            "UPDATE requests SET asked = :new, version = version + 1, "
            "first_level = COALESCE(:first, first_level) "
            "WHERE id = :id AND state = 'pending' AND asked = :old",
            {
                "id": request_id,
                "old": _times(asked),
                "new": _times((*asked, now)),
                "first": first.to_json() if first else None,
            },
            said,
        )

    def transition_sync(
        self,
        request_id: str,
        expected: RequestState,
        new: RequestState,
        detail: dict[str, Any] | None = None,
        runner: str | None = None,
        said: AuditEvent | None = None,
    ) -> bool:
        """Compare-and-set the state (and, when given, the replica running it); True only
        for the one caller that moved it. ``said`` is appended in the same transaction,
        only when the state moved."""
        return self._set_once(
            "UPDATE requests SET state = :new, detail = :detail, "
            "runner = COALESCE(:runner, runner), version = version + 1 "
            "WHERE id = :id AND state = :expected",
            {
                "new": new.value,
                "expected": expected.value,
                "id": request_id,
                "detail": json.dumps(detail or {}),
                "runner": runner,
            },
            said,
        )

    def remind_run_sync(self, request_id: str, at: datetime) -> bool:
        """Record that the thread of a request with a time was reminded it runs soon (once,
        while it waits); True only for the one sweep that did."""
        query = text(
            "UPDATE requests SET run_reminded_at = :at, version = version + 1 "
            "WHERE id = :id AND run_reminded_at IS NULL AND state IN :waiting"
        ).bindparams(bindparam("waiting", expanding=True))
        return self._set_once(query, {"id": request_id, "at": at.isoformat(),
                                      "waiting": sorted(WAITING)})  # fmt: skip

    # -- break-glass ----------------------------------------------------------------------

    def offer_glass_sync(self, request_id: str, at: datetime) -> bool:
        """Record that the card began offering break-glass (once, while pending)."""
        return self._set_once(
            "UPDATE requests SET offered_at = :at, version = version + 1 "
            "WHERE id = :id AND state = 'pending' AND offered_at IS NULL",
            {"id": request_id, "at": at.isoformat()},
        )

    def break_glass_sync(
        self, request_id: str, glass: Glass, runner: str, said: AuditEvent | None = None
    ) -> bool:
        """Move pending → executing as a break-glass, owned by ``runner`` — only while no
        other break-glass anywhere still owes its review (checked under one lock across
        replicas); True only for the one caller that moved it."""
        return self._set_once(
            "UPDATE requests SET state = 'executing', runner = :runner, "
            "glass_by = :by, glass_at = :at, glass_reason = :reason, version = version + 1 "
            "WHERE id = :id AND state = 'pending' AND NOT EXISTS ("
            "SELECT 1 FROM requests AS o WHERE o.glass_at IS NOT NULL "
            "AND o.reviewed_at IS NULL)",
            {
                "id": request_id,
                "runner": runner,
                "by": glass.by,
                "at": glass.at.isoformat(),
                "reason": glass.reason,
            },
            said,
            across_rows=True,
        )

    def review_glass_sync(
        self, request_id: str, by: str, at: datetime, note: str, said: AuditEvent | None = None
    ) -> bool:
        """Record the review a break-glass owes (once); True only for the one reviewer."""
        return self._set_once(
            "UPDATE requests SET reviewed_by = :by, reviewed_at = :at, "
            "review_note = :note, version = version + 1 "
            "WHERE id = :id AND glass_at IS NOT NULL AND reviewed_at IS NULL",
            {"id": request_id, "by": by, "at": at.isoformat(), "note": note},
            said,
        )

    def remind_glass_sync(self, request_id: str, last: datetime, at: datetime) -> bool:
        """Record a reminder of the missing review, if the last one (or the break-glass
        itself, before any) is still at ``last``; True only for the one sweep that did."""
        return self._set_once(
            "UPDATE requests SET reminded_at = :at "
            "WHERE id = :id AND reviewed_at IS NULL AND glass_at IS NOT NULL "
            "AND COALESCE(reminded_at, glass_at) = :last",
            {"id": request_id, "at": at.isoformat(), "last": last.isoformat()},
        )

    def unreviewed_sync(self) -> list[Request]:
        """Break-glass runs whose review is still owed, oldest first."""
        with self._engine.connect() as conn:
            ids = (
                conn.execute(
                    text(
                        "SELECT id FROM requests WHERE glass_at IS NOT NULL "
                        "AND reviewed_at IS NULL ORDER BY glass_at"
                    )
                )
                .scalars()
                .all()
            )
        return [r for i in ids if (r := self.get_sync(i)) is not None]

    def still_runs_sync(self, request_id: str, runner: str) -> bool:
        """Compare-and-set at the point of no return: True only while the request is
        executing *and* owned by ``runner`` — serialised with any replica's transition."""
        with self._write() as conn, conn.begin():
            held = conn.execute(
                text(
                    "UPDATE requests SET runner = :runner "
                    "WHERE id = :id AND state = 'executing' AND runner = :runner"
                ),
                {"id": request_id, "runner": runner},
            ).rowcount
        return bool(held == 1)

    def runner_sync(self, request_id: str) -> str | None:
        """The replica that started running the request (None before, or if unrecorded)."""
        with self._engine.connect() as conn:
            value = conn.execute(
                text("SELECT runner FROM requests WHERE id = :id"), {"id": request_id}
            ).scalar()
        return str(value) if value else None

    def last_change_sync(self, pair: str) -> datetime | None:
        """When the pair last changed roles, as far as habot knows."""
        with self._engine.connect() as conn:
            value = conn.execute(
                text("SELECT changed_at FROM pair_changes WHERE pair = :p"), {"p": pair}
            ).scalar()
        return datetime.fromisoformat(value) if value else None

    def record_change_sync(self, pair: str, at: datetime) -> None:
        """Remember a role change (starts the cooldown)."""
        with self._write() as conn, conn.begin():
            conn.execute(
                text(
                    "INSERT INTO pair_changes (pair, changed_at) VALUES (:p, :at) "
                    "ON CONFLICT (pair) DO UPDATE SET changed_at = excluded.changed_at"
                ),
                {"p": pair, "at": at.isoformat()},
            )

    # -- the async API (the services' port) ------------------------------------------------

    create = threaded(create_sync)
    open_for = threaded(open_for_sync)
    get = threaded(get_sync)
    plan = threaded(plan_sync)
    card = threaded(card_sync)
    set_card = threaded(set_card_sync)
    in_states = threaded(in_states_sync)
    rows = threaded(rows_sync)
    add_approval = threaded(add_approval_sync)
    transition = threaded(transition_sync)
    escalate = threaded(escalate_sync)
    offer_glass = threaded(offer_glass_sync)
    break_glass = threaded(break_glass_sync)
    review_glass = threaded(review_glass_sync)
    remind_glass = threaded(remind_glass_sync)
    remind_run = threaded(remind_run_sync)
    unreviewed = threaded(unreviewed_sync)
    still_runs = threaded(still_runs_sync)
    runner = threaded(runner_sync)
    last_change = threaded(last_change_sync)
    record_change = threaded(record_change_sync)


def _row(request: Request) -> dict[str, Any]:
    verdict, primary, secondary = request.snapshot
    return {
        "id": request.id,
        "operation": request.operation.value,
        "pair": request.pair,
        "node": request.node.value,
        "requester": request.requester,
        "created_at": request.created_at.isoformat(),
        "expires_at": request.expires_at.isoformat(),
        "required": request.required,
        "state": request.state.value,
        "override": request.override,
        "snapshot": json.dumps([verdict.value, primary.value, secondary.value]),
        "asked": _times(request.asked),
        "reason": request.reason,
        "ticket": request.ticket,
        "checks": checks_json(request.checks) if request.checks else None,
        "run_at": request.run_at.isoformat() if request.run_at else None,
        "alert_channel": request.alert[0] if request.alert else None,
        "alert_card": request.alert[1] if request.alert else None,
    }


def _times(times: tuple[datetime, ...]) -> str:
    return json.dumps([t.isoformat() for t in times])


def _plan_json(plan: OperationPlan) -> str:
    return json.dumps(
        {
            "operation": plan.operation.value,
            "pair": plan.pair,
            "node": plan.node.value,
            "address": plan.address,
            "command": plan.command.value,
            "why": plan.why,
            "expected": [[r.value, sorted(s.value for s in states)] for r, states in plan.expected],
            "warning": plan.warning,
        }
    )


def _request(row: Any, approvals: tuple[str, ...]) -> Request:
    verdict, primary, secondary = json.loads(row["snapshot"])
    return Request(
        id=row["id"],
        operation=Operation(row["operation"]),
        pair=row["pair"],
        node=Role(row["node"]),
        requester=row["requester"],
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        required=row["required"],
        snapshot=(Verdict(verdict), NodeState(primary), NodeState(secondary)),
        state=RequestState(row["state"]),
        approvals=approvals,
        override=row["override"],
        version=row["version"],
        asked=tuple(datetime.fromisoformat(t) for t in json.loads(row["asked"] or "[]")),
        offered=_when(row["offered_at"]),
        glass=_glass(row),
        first=FirstLevel.from_json(row["first_level"]),
        reason=row["reason"],
        ticket=row["ticket"],
        checks=checks_from(row["checks"]),
        run_at=_when(row["run_at"]),
        run_reminded=_when(row["run_reminded_at"]),
        alert=(row["alert_channel"], row["alert_card"]) if row["alert_card"] is not None else None,
    )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _glass(row: Any) -> Glass | None:
    if not row["glass_at"]:
        return None
    return Glass(
        by=row["glass_by"],
        at=datetime.fromisoformat(row["glass_at"]),
        reason=row["glass_reason"],
        reviewed_by=row["reviewed_by"],
        reviewed_at=_when(row["reviewed_at"]),
        review=row["review_note"],
        reminded_at=_when(row["reminded_at"]),
    )
