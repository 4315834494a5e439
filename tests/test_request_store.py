"""Requests move only by compare-and-set; one open request per pair; approvals count once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy
from sqlalchemy import Engine

from habot.core.approvals import RequestState
from habot.errors import PairBusy
from habot.services.ports import Stores
from habot.store.db import upgrade
from habot.store.requests import RequestStore
from tests.kit.requests import PLAN, T0, request, said


@pytest.fixture
def url(database_url: str, engines: Callable[[str], Engine]) -> str:
    """A migrated database (SQLite, then PostgreSQL)."""
    upgrade(engines(database_url))
    return database_url


async def test_request_round_trips(stores: Stores) -> None:
    """What is stored is what is read back, approvals included."""
    store = stores.requests
    await store.create(request(required=2), "C0HAOPS", PLAN)
    await store.add_approval("r1", "U0LEAD", T0)
    assert await store.get("r1") == replace(
        request(required=2), approvals=("U0LEAD",), version=1
    )  # an approval is a change: the version counts it
    assert await store.card("r1") == ("C0HAOPS", None)
    assert await store.plan("r1") == PLAN
    await store.set_card("r1", "C0HAOPS", 42)
    assert await store.card("r1") == ("C0HAOPS", 42)


async def test_one_open_request_per_pair(stores: Stores) -> None:
    """A second open request for the same pair is refused with the open one's id."""
    store = stores.requests
    await store.create(request("r1"), None, PLAN)
    await store.create(request("r2", pair="dr"), None, PLAN)  # another pair is fine
    with pytest.raises(PairBusy) as info:
        await store.create(request("r3"), None, PLAN)
    assert info.value.open_id == "r1"
    assert await store.transition("r1", RequestState.PENDING, RequestState.CANCELLED)
    await store.create(request("r4"), None, PLAN)  # once closed, the pair is free again


async def test_an_unknown_outcome_holds_the_pair_until_resolved(stores: Stores) -> None:
    """unknown keeps the pair closed (the database says so, for every replica); resolved
    frees it."""
    store = stores.requests
    await store.create(request("r1"), None, PLAN)
    assert await store.transition("r1", RequestState.PENDING, RequestState.EXECUTING)
    assert await store.transition("r1", RequestState.EXECUTING, RequestState.UNKNOWN)
    with pytest.raises(PairBusy) as info:
        await store.create(request("r2"), None, PLAN)
    assert info.value.open_id == "r1"
    assert await store.transition("r1", RequestState.UNKNOWN, RequestState.RESOLVED)
    await store.create(request("r3"), None, PLAN)


async def test_approvals_count_once_per_approver(stores: Stores) -> None:
    """Double clicks by one approver count once; a request with the approvals it needs
    takes no more (fifty racing clicks count two, not fifty); a closed one takes none."""
    store = stores.requests
    await store.create(request(required=2), None, PLAN)
    assert await store.add_approval("r1", "U0LEAD", T0) == 1
    assert await store.add_approval("r1", "U0LEAD", T0) == 1
    assert await store.add_approval("r1", "U0LEAD2", T0) == 2
    assert await store.add_approval("r1", "U0LEAD3", T0) is None  # enough: not counted
    assert (await store.get("r1")).approvals == ("U0LEAD", "U0LEAD2")  # type: ignore[union-attr]
    await store.transition("r1", RequestState.PENDING, RequestState.EXPIRED)
    assert await store.add_approval("r1", "U0LEAD3", T0) is None


def test_exactly_one_of_twenty_racing_transitions_wins(
    url: str, engines: Callable[[str], Engine]
) -> None:
    """Twenty threads on two engines (two replicas) race pending→executing: one wins."""
    stores = [RequestStore(engines(url)), RequestStore(engines(url))]
    stores[0].create_sync(request(), None, PLAN)
    wins: list[bool] = []
    start = threading.Barrier(20)

    def click(i: int) -> None:
        start.wait()
        wins.append(
            stores[i % 2].transition_sync("r1", RequestState.PENDING, RequestState.EXECUTING)
        )

    threads = [threading.Thread(target=click, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    assert stores[1].get_sync("r1").state is RequestState.EXECUTING  # type: ignore[union-attr]


async def test_states_and_role_changes(stores: Stores) -> None:
    """Requests can be listed by state; a pair's last role change is remembered."""
    store = stores.requests
    await store.create(request("r1"), None, PLAN)
    await store.create(request("r2", pair="dr"), None, PLAN)
    await store.transition("r2", RequestState.PENDING, RequestState.EXECUTING)
    assert [r.id for r in await store.in_states(RequestState.EXECUTING)] == ["r2"]
    assert await store.last_change("prod") is None
    await store.record_change("prod", T0)
    await store.record_change("prod", T0 + timedelta(minutes=1))
    assert await store.last_change("prod") == T0 + timedelta(minutes=1)


async def test_each_change_and_its_audit_event_commit_together(stores: Stores) -> None:
    """A change carries its audit event into its own transaction: the chain holds exactly
    the changes that were made, in their order — a lost race writes no event, and a
    double click by one approver is neither counted nor audited twice."""
    store, audit = stores.requests, stores.audit
    await store.create(request(required=2), "C0HAOPS", PLAN, said("requested"))
    assert await store.add_approval("r1", "U0LEAD", T0, said("approved")) == 1
    assert await store.add_approval("r1", "U0LEAD", T0, said("approved")) == 1  # twice
    assert await store.transition(
        "r1", RequestState.PENDING, RequestState.CANCELLED, said=said("cancelled")
    )
    assert not await store.transition(  # lost the race: nothing moved, nothing said
        "r1", RequestState.PENDING, RequestState.EXPIRED, said=said("expired")
    )
    assert await store.add_approval("r1", "U0LEAD2", T0, said("approved")) is None
    events = [(r.event.kind, dict(r.event.detail)) async for r in audit.records()]
    assert events == [
        ("requested", {"request": "r1"}),
        ("approved", {"request": "r1", "approvals": 1}),
        ("cancelled", {"request": "r1"}),
    ]
    assert (await store.get("r1")).version == 2  # type: ignore[union-attr]
    assert (await audit.verify()).ok


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM requests",
        "UPDATE requests SET requester = 'U0EVIL'",
        "UPDATE requests SET operation = 'failover'",
        "UPDATE requests SET state = 'pending' WHERE id = 'r2'",  # reopen an ended one
        "DELETE FROM approvals",
        "UPDATE approvals SET approver = 'U0EVIL'",
    ],
)
def test_requests_and_approvals_refuse_quiet_edits(
    url: str, engines: Callable[[str], Engine], statement: str
) -> None:
    """What was asked, who approved, and an ended request's outcome cannot be changed or
    removed behind habot's back (SQLite and PostgreSQL triggers); habot's own changes
    still work."""
    engine = engines(url)
    store = RequestStore(engine)
    store.create_sync(request(required=2), None, PLAN)
    store.add_approval_sync("r1", "U0LEAD", T0)
    store.create_sync(request("r2", pair="dr"), None, PLAN)
    assert store.transition_sync("r2", RequestState.PENDING, RequestState.CANCELLED)
    with (
        pytest.raises(sqlalchemy.exc.DatabaseError, match="only through habot"),
        engine.begin() as conn,
    ):
        conn.execute(sqlalchemy.text(statement))
    assert store.transition_sync("r1", RequestState.PENDING, RequestState.EXECUTING, runner="A")
    assert store.still_runs_sync("r1", "A")
    store.set_card_sync("r1", "C0HAOPS", 7)
