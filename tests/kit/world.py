"""A world for the operation service's tests: the service on memory stores against the
simulator, with a notifier that records what people would be told."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from habot.config import Settings
from habot.core.approvals import RequestState
from habot.core.asks import parse_operation
from habot.core.audit import AuditRecord
from habot.core.blocks import Message, mrkdwn, render
from habot.core.outbox import Delivery, Fate
from habot.core.replies import Reply
from habot.core.roles import Access
from habot.services.operations import OperationService
from habot.services.ports import AuditLog, Caller, Requests, Stores
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.factories import Clock, fast_config_file, settings_from
from tests.kit.plainwords import hear

OPERATOR = Caller("U0OPS1", "C0HAOPS", frozenset({Access.VIEWER, Access.OPERATOR}))


LEAD = Caller("U0LEAD1", "C0HAOPS", frozenset({Access.VIEWER, Access.APPROVER}))


LEAD2 = Caller("U0LEAD2", "C0HAOPS", frozenset({Access.VIEWER, Access.APPROVER}))


VIEWER = Caller("U0VIEW", "C0HAOPS", frozenset({Access.VIEWER}))


def shown(answer: Message | Reply) -> str:
    """What Slack would be sent for an answer (a card, or a reply rendered for Slack)."""
    message = answer if isinstance(answer, Message) else render(answer)
    hear("answer", message.text, list(message.blocks))
    return json.dumps(message.blocks)


@dataclass
class Recorder:
    """The Notifier port, recording what Slack would have shown."""

    cards: dict[int, list[Message]] = field(default_factory=dict)
    threads: list[str] = field(default_factory=list)
    told: list[tuple[str, str]] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)
    refuse: str | None = None  # Slack's error for every card
    slow: bool = False  # cards stay queued

    async def post_card(self, pair: str, channel: str, message: Message) -> int:
        hear("card", message.text, list(message.blocks))
        card = len(self.cards) + 1
        self.cards[card] = [message]
        return card

    shown: dict[int, int] = field(default_factory=dict)  # card → newest version shown

    async def update_card(
        self, pair: str, channel: str, card: int, message: Message, version: int
    ) -> None:
        hear("card update", message.text, list(message.blocks))
        if version >= self.shown.get(card, 0):  # the port's contract: older ones dropped
            self.shown[card] = version
            self.cards[card].append(message)

    async def thread(self, pair: str, channel: str, card: int, words: Reply) -> None:
        hear("thread", mrkdwn(words))
        self.threads.append(mrkdwn(words))

    async def tell(self, pair: str, channel: str, user: str, words: Reply) -> None:
        hear("tell", mrkdwn(words))
        self.told.append((user, mrkdwn(words)))

    async def tell_secret(self, channel: str, user: str, words: Reply) -> None:
        self.secrets.append((user, mrkdwn(words)))

    directs: list[tuple[str, str]] = field(default_factory=list)

    async def direct(self, user: str, words: Reply) -> None:
        hear("direct", mrkdwn(words))
        self.directs.append((user, mrkdwn(words)))

    async def link(self, card: int) -> str | None:
        return f"https://slack.example/card/{card}" if card in self.cards else None

    async def settle(self, card: int) -> Fate:
        if self.refuse:
            return Fate(Delivery.DEAD, error=self.refuse)
        if self.slow:
            return Fate(Delivery.QUEUED)
        return Fate(Delivery.SENT, await self.link(card))

    def last(self) -> Message:
        return list(self.cards.values())[-1][-1]

    def everything(self) -> str:
        cards = [shown(m) for ms in self.cards.values() for m in ms]
        return "\n".join([*cards, *self.threads, *(text for _, text in self.told)])


@dataclass
class World:
    """Everything one test needs."""

    sim: Simulator
    service: OperationService
    notifier: Recorder
    clock: Clock
    audit: AuditLog
    requests: Requests
    settings: Settings
    make: Callable[..., OperationService]
    runner: SshExecutor

    def with_service(self, **options: Any) -> OperationService:
        """Another service on the same database and appliance (another replica, say)."""
        return self.make(**options)

    async def ask(self, text: str, who: Caller = OPERATOR) -> str:
        names = [p.name for p in self.settings.pairs]
        ask = parse_operation(text, names, now=self.clock(), zone=ZoneInfo("UTC"))
        reply = await self.service.request(who, ask)
        return shown(reply)

    def request_id(self) -> str:
        text = json.dumps(self.notifier.last().blocks)
        return text.split("request `")[1].split("`")[0]

    async def records(self) -> list[AuditRecord]:
        """The whole audit chain, oldest first."""
        return [r async for r in self.audit.records()]

    async def state(self, request_id: str) -> RequestState:
        """The request's state as the store holds it."""
        request = await self.requests.get(request_id)
        assert request is not None
        return request.state

    def runs(self, pair: str = "prod") -> list[list[str]]:
        return [list(r) for r in self.sim.pairs[pair].runs if r[1] != "ha-status"]


#: Approval settings for the operation tests (no step-up: that has its own tests).
APPROVAL = """
[approval]
ttl = "15m"
cooldown = "10m"
[approval.operations.make-standalone]
required = 2
confirm = "click"  # step-up (typing the pair's name) has its own tests: test_step_up.py
[approval.operations.initialise]
confirm = "click"
[approval.operations.demote-primary]
confirm = "click"
[approval.operations.joining-code]
required = 0
"""


@asynccontextmanager
async def world_on(sim: Simulator, stores: Stores) -> AsyncIterator[World]:
    """The service wired to the simulator, ``stores`` and a recorder."""
    settings = settings_from(fast_config_file(sim, "ops.toml", APPROVAL))
    clock, notifier = Clock(), Recorder()
    async with SshExecutor(settings.ssh) as ex:
        status = StatusService(settings, ex, clock)

        def make(**options: Any) -> OperationService:
            parts: dict[str, Any] = {
                "settings": settings,
                "status": status,
                "runner": ex,
                "requests": stores.requests,
                "audit": stores.audit,
                "notifier": notifier,
                "clock": clock,
            }
            return OperationService(**{**parts, **options})

        service = make()
        yield World(
            sim, service, notifier, clock, stores.audit, stores.requests, settings, make, ex
        )
        await service.drain()


@pytest.fixture
async def world(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    """The service on the simulator and the in-memory stores (the rules, not SQL)."""
    async with world_on(sim, memory) as built:
        yield built


@dataclass
class KnownApprovers:
    """The Approvers port: who holds the role (None: everyone)."""

    who: frozenset[str] | None
    groups: dict[str, frozenset[str]] = field(default_factory=dict)

    async def who_can_approve(self) -> frozenset[str] | None:
        return self.who

    async def members(self, entries: Iterable[str]) -> frozenset[str]:
        named = set(entries)
        users = {e for e in named if not e.startswith("S")}
        return frozenset(users.union(*(self.groups.get(g, frozenset()) for g in named - users)))
