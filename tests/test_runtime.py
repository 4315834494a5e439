"""The composition root: Habot.open builds each part once, and closes everything it opened,
in reverse order — running operations finish before the SSH executor closes, the lease is
given up, the heartbeat stops, the database is let go."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from habot.config import Settings
from habot.core.asks import parse_operation
from habot.core.blocks import render
from habot.core.model import NodeState, Role
from habot.core.outbox import Attempt, MessageKind
from habot.core.roles import Access
from habot.runtime import Habot, SlackSide
from habot.secrets import Secrets
from habot.services.leader import SCHEDULER_LEASE
from habot.services.ports import Caller
from habot.sim.simulator import Simulator
from habot.store.memory import memory_stores
from tests.kit.factories import Clock

OPERATOR = Caller("U0OPS", "C0HAOPS", frozenset({Access.VIEWER, Access.OPERATOR}))
LEAD = Caller("U0LEAD", "C0HAOPS", frozenset({Access.VIEWER, Access.APPROVER}))
NO_KEYRING = Secrets({}, keyring_get=lambda _service, _name: None)


class Slack:
    """The Slack side at its ports: every message is taken at once and recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[MessageKind, dict[str, Any]]] = []

    async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        self.sent.append((kind, payload))
        return Attempt(True, ts=f"1.{len(self.sent)}")

    async def tell(self, channel: str, user: str, text: str) -> None:
        self.sent.append((MessageKind.EPHEMERAL, {"text": text}))

    async def roles_of(self, user: str) -> frozenset[Access]:
        return frozenset(Access)

    async def publish(self, user: str, view: dict[str, Any]) -> None:
        return None


def side(slack: Slack) -> SlackSide:
    return SlackSide(sender=slack, secrets=slack, home=slack)


def on_file(settings: Settings, path: Path) -> Settings:
    """The settings with their database in ``path``."""
    database = settings.database.model_copy(update={"url": f"sqlite:///{path}"})
    return settings.model_copy(update={"database": database})


async def test_a_cli_habot_reads_status_and_keeps_nothing(
    sim: Simulator, sim_settings: Settings, tmp_path: Path
) -> None:
    """`habot status` opens SSH and in-memory stores: no database file appears."""
    settings = on_file(sim_settings, tmp_path / "habot.db")
    async with Habot.open(settings, NO_KEYRING, database=False) as habot:
        [status] = await habot.status.read("prod")
        assert habot.serving is None  # no Slack side: nothing serves, no lease is taken
    assert status.primary.state is NodeState.ACTIVE
    assert not (tmp_path / "habot.db").exists()


async def test_without_ssh_asking_for_it_says_so(sim_settings: Settings) -> None:
    """A habot opened without SSH says so when SSH is asked for, and what needs none still
    works."""
    async with Habot.open(sim_settings, NO_KEYRING, ssh=False, database=False) as habot:
        with pytest.raises(RuntimeError, match="ssh=False"):
            _ = habot.status
        assert await habot.digest.build()  # what needs no SSH still works


async def test_closing_lets_a_running_operation_finish_then_lets_go(
    sim: Simulator, sim_settings: Settings
) -> None:
    """An approved switchover is still running when the block ends: it finishes over the
    still-open SSH executor, its outcome is stored and its messages queued; then the lease
    is given up and the heartbeat stops."""
    stores, slack, clock = memory_stores(), Slack(), Clock()
    async with Habot.open(
        sim_settings, NO_KEYRING, slack=side(slack), stores=stores, clock=clock, replica="A"
    ) as habot:
        serving = habot.serving
        assert serving is not None
        assert await serving.leadership.held()  # the lease is this replica's
        names = [p.name for p in sim_settings.pairs]
        ask = parse_operation("switchover prod", names)
        asked = render(await serving.operations.request(OPERATOR, ask))
        request_id = json.dumps(asked.blocks).split("Request `")[1].split("`")[0]
        await serving.operations.approve(LEAD, request_id)
        # leaving at once: the run is in the background
    request = await stores.requests.get(request_id)
    assert request is not None
    assert request.state.value == "succeeded"
    assert sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.PROMOTED_ACTIVE
    assert await stores.leases.holder(SCHEDULER_LEASE, clock()) is None  # given up


async def test_the_database_is_let_go(sim_settings: Settings, tmp_path: Path) -> None:
    """With the SQL stores, the engine is disposed when the block ends: another writer can
    take the whole database at once."""
    settings = on_file(sim_settings, tmp_path / "habot.db")
    async with Habot.open(settings, NO_KEYRING, ssh=False) as habot:
        await habot.stores.audit.head()
    with sqlite3.connect(tmp_path / "habot.db", timeout=0) as conn:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
