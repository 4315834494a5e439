"""The store ports' contract, on every store (in memory, SQLite, PostgreSQL): the in-memory
store the service tests use must behave as the database does. Requests, alert states, the
outbox and kept readings have their contract cases beside their own tests; these are the
rest."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from habot.core.approvals import Glass, RequestState
from habot.core.audit import AuditEvent
from habot.core.model import NodeState, Role, Verdict
from habot.core.oncall import FirstLevel
from habot.core.verdict import UNREAD, PairStatus
from habot.errors import PairBusy, StoreError
from habot.services.ports import Stores
from tests.kit.requests import PLAN, request
from tests.kit.statuses import pair_status

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
TTL = timedelta(seconds=15)


def at(
    minutes: int, verdict: Verdict = Verdict.BAU, primary: NodeState = NodeState.ACTIVE
) -> PairStatus:
    """A prod reading ``minutes`` after T0 (the Secondary unreachable)."""
    status = pair_status(verdict)
    return replace(
        status,
        observed_at=T0 + timedelta(minutes=minutes),
        primary=replace(status.primary, state=primary),
    )


async def test_readings_keep_the_last_a_window_and_the_last_readable_state(
    stores: Stores,
) -> None:
    """Readings keep the last one, a window of them, and each node's last readable state."""
    readings = stores.readings
    assert await readings.last("prod") is None
    await readings.add(at(0))
    await readings.add(at(5, Verdict.PRIMARY_UNREACHABLE, NodeState.UNREACHABLE))
    await readings.add(at(10, Verdict.PRIMARY_UNREACHABLE, NodeState.UNREACHABLE))
    last = await readings.last("prod")
    assert last is not None
    assert (last.at, last.primary) == (T0 + timedelta(minutes=10), NodeState.UNREACHABLE)
    known = await readings.last_known("prod", UNREAD)
    assert known[Role.PRIMARY] is NodeState.ACTIVE  # the last state it could be read in
    window = await readings.since("prod", T0 + timedelta(minutes=5))
    assert [r.at.minute for r in window] == [10, 5]  # newest first
    assert await readings.since("dr", T0) == []
    assert await readings.prune(T0 + timedelta(minutes=6)) == 2
    assert [r.at.minute for r in await readings.since("prod", T0)] == [10]


async def test_a_lease_has_one_holder_until_it_lapses_or_is_given_up(stores: Stores) -> None:
    """A lease has one holder until it lapses or is given up."""
    leases = stores.leases
    assert await leases.claim("scheduler", "A", T0, TTL)
    assert not await leases.claim("scheduler", "B", T0 + timedelta(seconds=5), TTL)
    assert await leases.claim("scheduler", "A", T0 + timedelta(seconds=10), TTL)  # renewed
    assert await leases.holder("scheduler", T0 + timedelta(seconds=20)) == "A"
    assert not await leases.claim("scheduler", "B", T0 + timedelta(seconds=20), TTL)
    assert await leases.claim("scheduler", "B", T0 + timedelta(seconds=26), TTL)  # lapsed
    assert not await leases.take_over("scheduler", "A", "C", T0 + timedelta(seconds=27), TTL)
    assert await leases.take_over("scheduler", "B", "C", T0 + timedelta(seconds=27), TTL)
    await leases.release("scheduler", "B")  # not B's any more: nothing happens
    assert await leases.holder("scheduler", T0 + timedelta(seconds=28)) == "C"
    await leases.release("scheduler", "C")
    assert await leases.holder("scheduler", T0 + timedelta(seconds=28)) is None
    assert await leases.claim("scheduler", "A", T0 + timedelta(seconds=28), TTL)
    assert leases.claim_sync("alive:A", "A", T0, TTL)  # the heartbeat's own way in


async def test_home_viewers_are_listed_most_recent_first(stores: Stores) -> None:
    """Home viewers are listed most recent first, within the window asked for."""
    viewers = stores.viewers
    await viewers.opened("U0OLD", T0 - timedelta(days=40))
    await viewers.opened("U0ONE", T0)
    await viewers.opened("U0TWO", T0 + timedelta(minutes=1))
    await viewers.opened("U0ONE", T0 + timedelta(minutes=2))  # again: moves up
    assert await viewers.since(T0 - timedelta(days=30)) == ["U0ONE", "U0TWO"]


async def test_the_audit_chain_appends_reads_back_and_verifies(stores: Stores) -> None:
    """The audit chain appends, reads back in order and verifies on every store."""
    audit = stores.audit
    assert await audit.head() is None
    for n, pair in enumerate(("prod", "dr", "prod"), 1):
        await audit.append(AuditEvent("status", f"U{n}", "bau", T0, pair=pair))
    head = await audit.head()
    assert head is not None
    assert head.seq == 3
    assert [r.seq for r in await audit.recent(2)] == [3, 2]
    assert [r.seq for r in await audit.recent(10, "prod")] == [3, 1]
    assert [r.seq async for r in audit.records()] == [1, 2, 3]
    check = await audit.verify()
    assert (check.ok, check.rows) == (True, 3)


async def test_request_rows_say_state_and_approvers(stores: Stores) -> None:
    """Request rows say each request's state and approvers."""
    requests = stores.requests
    await requests.create(request(required=2), "C0HAOPS", PLAN)
    await requests.add_approval("r1", "U0LEAD", T0)
    [row] = await requests.rows()
    assert (row.id, row.state, row.approvers) == ("r1", "pending", frozenset({"U0LEAD"}))
    assert await requests.open_for("prod") == "r1"
    assert await requests.runner("r1") is None
    with pytest.raises(PairBusy):
        await requests.create(request("r2"), None, PLAN)


async def test_a_request_keeps_the_alert_it_was_asked_under(stores: Stores) -> None:
    """The alert card whose thread is told how the request ends survives the store (and
    a request asked with no alert open has none)."""
    await stores.requests.create(replace(request(), alert=("C0ALERTS", 42)), "C0HAOPS", PLAN)
    await stores.requests.create(request("r2", pair="dr"), "C0HAOPS", PLAN)
    kept = await stores.requests.get("r1")
    plain = await stores.requests.get("r2")
    assert kept is not None
    assert kept.alert == ("C0ALERTS", 42)
    assert plain is not None
    assert plain.alert is None


async def test_a_store_failure_is_a_habot_error_not_a_library_one(stores: Stores) -> None:
    """The plan of a request that does not exist: a StoreError on every store — the SQL
    stores translate SQLAlchemy's own error, so nothing above the store sees it."""
    with pytest.raises(StoreError, match=r"no-such-request|No row"):
        await stores.requests.plan("no-such-request")


async def test_a_signature_is_taken_once_by_every_replica_for_its_window(
    stores: Stores,
) -> None:
    """The first offer of a signature is taken, any later one (from any replica on the
    store) is a replay; long after its window it may be taken again (its timestamp is
    refused by then anyway)."""
    window = timedelta(minutes=5)
    assert await stores.seen.first("v0=aa", T0, window)
    assert not await stores.seen.first("v0=aa", T0 + timedelta(seconds=30), window)
    assert await stores.seen.first("v0=bb", T0 + timedelta(seconds=30), window)


async def test_break_glass_starts_once_and_holds_every_other_until_reviewed(
    stores: Stores,
) -> None:
    """A break-glass moves its pending request to executing once; while its review is owed,
    no other request anywhere can break the glass; the review is recorded once, and a
    reminder only over the last one seen."""
    requests = stores.requests
    await requests.create(request("r1"), "C1", PLAN)
    await requests.create(request("r2", pair="dr"), "C1", PLAN)
    assert await requests.offer_glass("r1", T0)
    assert not await requests.offer_glass("r1", T0 + TTL)  # once
    offered = await requests.get("r1")
    assert offered is not None
    assert offered.offered == T0
    glass = Glass("U0OPS", T0 + TTL, "INC-1: the Primary lost power")
    said = AuditEvent(kind="executing", actor="U0OPS", outcome="executing", at=T0)
    assert await requests.break_glass("r1", glass, "replica-a", said)
    assert not await requests.break_glass("r1", glass, "replica-b")  # not pending any more
    broken = await requests.get("r1")
    assert broken is not None
    assert (broken.state, broken.glass) == (RequestState.EXECUTING, glass)
    assert await requests.runner("r1") == "replica-a"
    assert [r.id for r in await requests.unreviewed()] == ["r1"]
    assert not await requests.break_glass("r2", replace(glass, by="U0OPS2"), "replica-a")
    still = await requests.get("r2")
    assert still is not None
    assert still.state is RequestState.PENDING
    assert not await requests.remind_glass("r1", T0, T0 + timedelta(days=1))  # not the last
    assert await requests.remind_glass("r1", glass.at, T0 + timedelta(days=1))
    assert not await requests.remind_glass("r1", glass.at, T0 + timedelta(days=1))
    assert await requests.review_glass("r1", "U0LEAD", T0 + timedelta(days=1), "checked")
    assert not await requests.review_glass("r1", "U0LEAD2", T0 + timedelta(days=1), "again")
    reviewed = await requests.get("r1")
    assert reviewed is not None
    assert reviewed.glass == replace(
        glass, reviewed_by="U0LEAD", reviewed_at=T0 + timedelta(days=1), review="checked",
        reminded_at=T0 + timedelta(days=1),
    )  # fmt: skip
    assert await requests.unreviewed() == []
    assert await requests.break_glass("r2", replace(glass, by="U0OPS2"), "replica-a")
    kinds = [r.event.kind async for r in stores.audit.records()]
    assert kinds == ["executing"]


async def test_two_break_glasses_at_once_on_two_pairs_start_one(stores: Stores) -> None:
    """Two replicas breaking the glass on two pairs in the same instant: one starts, the
    other is held by the first one's owed review (rows of two pairs: a lock, not a row)."""
    requests = stores.requests
    for n in range(4):
        for rid, pair in ((f"p{n}", "prod"), (f"d{n}", "dr")):
            await requests.create(request(rid, pair=pair), "C1", PLAN)
        won = await asyncio.gather(
            requests.break_glass(f"p{n}", Glass("U1", T0, "INC-1 power lost at DC one"), "a"),
            requests.break_glass(f"d{n}", Glass("U2", T0, "INC-1 power lost at DC two"), "b"),
        )
        assert sorted(won) == [False, True]
        [owed] = await requests.unreviewed()
        assert await requests.review_glass(owed.id, "U0LEAD", T0, "checked")
        for rid in (f"p{n}", f"d{n}"):  # both pairs free again for the next round
            await requests.transition(rid, RequestState.EXECUTING, RequestState.SUCCEEDED)
            await requests.transition(rid, RequestState.PENDING, RequestState.CANCELLED)


async def test_an_escalation_level_is_recorded_once_with_who_level_one_was(
    stores: Stores,
) -> None:
    """Each level is recorded by one caller (compare-and-set on the levels asked so far);
    who level 1 asked is kept when later levels are asked, and only while pending."""
    requests = stores.requests
    await requests.create(request("r1"), "C1", PLAN)
    first = FirstLevel(("U0LEAD2",))
    assert await requests.escalate("r1", (), T0, first=first)
    assert not await requests.escalate("r1", (), T0, first=FirstLevel(("U0X",)))  # stale
    assert await requests.escalate("r1", (T0,), T0 + TTL)
    held = await requests.get("r1")
    assert held is not None
    assert (held.asked, held.first) == ((T0, T0 + TTL), first)
    await requests.transition("r1", RequestState.PENDING, RequestState.CANCELLED)
    assert not await requests.escalate("r1", (T0, T0 + TTL), T0 + 2 * TTL)


async def test_a_siem_cursor_starts_at_nothing_and_only_moves_forward(stores: Stores) -> None:
    """Each target has its own cursor; a slower replica's older write never moves it back
    (that would resend, never skip — but it must not happen either)."""
    cursors = stores.cursors
    assert await cursors.get("tls://siem:6514") == 0
    await cursors.advance("tls://siem:6514", 7)
    await cursors.advance("tls://siem:6514", 5)
    await cursors.advance("tcp://other:514", 2)
    assert await cursors.get("tls://siem:6514") == 7
    assert await cursors.get("tcp://other:514") == 2


async def test_audit_pages_follow_the_chain(stores: Stores) -> None:
    """A page of the audit after a sequence number: the next events, in chain order."""
    for n in range(5):
        await stores.audit.append(AuditEvent("status", "U0OPS", "bau", T0, detail={"n": n}))
    assert [r.seq for r in await stores.audit.page(2, 2)] == [3, 4]
    assert [r.seq for r in await stores.audit.page(4, 10)] == [5]
    assert await stores.audit.page(5, 10) == []
