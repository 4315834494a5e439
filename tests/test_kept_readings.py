"""Readings behind status cards survive in the database, exactly, until pruned."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from habot.core.model import Verdict
from habot.core.serialize import status_from_dict, status_to_dict
from habot.services.ports import Stores
from tests.kit.statuses import pair_status


@pytest.mark.parametrize("verdict", list(Verdict))
def test_a_status_survives_a_round_trip_through_json(verdict: Verdict) -> None:
    """Everything the card and the raw output show comes back as it was."""
    status = pair_status(verdict, noise=3, raw="Primary: Active\nSecondary: Standby")
    assert status_from_dict(status_to_dict(status)) == status


async def test_kept_readings_come_back_until_pruned(stores: Stores) -> None:
    """put → get returns the same reading; ids are unguessable; the very same reading (one
    shared ha-status shown to many) is kept once, another reading gets its own id; pruning
    by age forgets them (on every store)."""
    store = stores.kept
    status = pair_status(Verdict.PRIMARY_DOWN, raw="x" * 20_000)
    first, again = await store.put(status), await store.put(status)
    assert again == first
    second = await store.put(replace(status))  # equal, but read again
    assert first != second
    assert len(first) == 16
    assert await store.get(first) == status
    assert await store.get("0123456789abcdef") is None
    assert await store.prune(status.observed_at + timedelta(seconds=1)) == 2
    assert await store.get(first) is None
