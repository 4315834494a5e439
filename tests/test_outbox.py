"""The outbox: a Slack outage delays messages but drops none, and keeps them in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from habot.core.outbox import Attempt, Delivery, after
from habot.services.outbox import OutboxWorker
from habot.slack.sender import SlackSender
from habot.store.db import make_engine, upgrade
from habot.store.outbox import OutboxStore
from tests.botproc import BOT_TOKEN
from tests.conftest import Clock
from tests.fakeslack import FakeSlack

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> OutboxStore:
    """A migrated SQLite outbox."""
    engine = make_engine(f"sqlite:///{tmp_path / 'habot.db'}")
    upgrade(engine)
    return OutboxStore(engine)


def worker(store: OutboxStore, fake: FakeSlack, clock: Clock) -> OutboxWorker:
    """A worker sending through a client with no retries of its own."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[])
    return OutboxWorker(store, SlackSender(client), clock)


@pytest.mark.parametrize(
    ("attempt", "tries", "state", "wait"),
    [
        (Attempt(True, ts="1.2"), 0, Delivery.SENT, 0),
        (Attempt(False, error="ratelimited", retry_after=7), 0, Delivery.QUEUED, 7),
        (Attempt(False, error="internal_error"), 0, Delivery.QUEUED, 1),
        (Attempt(False, error="internal_error"), 3, Delivery.QUEUED, 8),
        (Attempt(False, error="internal_error"), 20, Delivery.QUEUED, 300),
        (Attempt(False, error="channel_not_found"), 0, Delivery.DEAD, 0),
    ],
)
def test_what_happens_after_an_attempt(
    attempt: Attempt, tries: int, state: Delivery, wait: int
) -> None:
    """Sent; Retry-After honoured; back-off doubling up to 5 min; permanent errors set aside."""
    outcome = after(attempt, tries, T0)
    assert (outcome.state, outcome.next_attempt_at) == (state, T0 + timedelta(seconds=wait))


async def test_429_then_500_then_ok_delivers_once_in_order(
    store: OutboxStore, fake: FakeSlack
) -> None:
    """Slack answers 429, then 500, then OK: every message arrives once, in order per lane,
    and a lane that works is not held up by one that does not."""
    clock = Clock()
    first = store.enqueue_sync("prod", "post", "C0HAOPS", {"text": "alert one"}, T0)
    store.enqueue_sync("prod", "post", "C0HAOPS", {"text": "alert two"}, T0)
    store.enqueue_sync("prod", "update", "C0HAOPS", {"ts_of": first, "text": "one, again"}, T0)
    store.enqueue_sync("dr", "post", "C0HAOPS", {"text": "dr alert"}, T0)
    fake.fail_next["chat.postMessage"] = [429, 500]
    deliver = worker(store, fake, clock)
    assert await deliver.deliver_due() == 0  # dr's head got the 429, prod's head the 500
    assert await deliver.deliver_due() == 1  # dr: Retry-After 0 has passed; prod backs off
    assert await deliver.deliver_due() == 0  # prod not due yet
    clock.now += timedelta(seconds=5)
    assert await deliver.deliver_due() == 3  # prod: one, two, then the update, in order
    posts = [c.args["text"] for c in fake.calls_to("chat.postMessage")]
    assert posts == ["dr alert", "alert one", "dr alert", "alert one", "alert two"]
    [update] = fake.calls_to("chat.update")
    assert update.args["ts"] == store.get_sync(first).ts  # type: ignore[union-attr]
    assert store.lanes_sync() == []


async def test_messages_survive_a_restart(store: OutboxStore, fake: FakeSlack) -> None:
    """Queued messages live in the database: a new worker (after a restart) sends them."""
    store.enqueue_sync("prod", "post", "C0HAOPS", {"text": "queued before restart"}, T0)
    assert await worker(store, fake, Clock()).deliver_due() == 1
    assert fake.calls_to("chat.postMessage")[0].args["text"] == "queued before restart"


async def test_a_permanently_refused_message_does_not_block_its_lane(
    store: OutboxStore, fake: FakeSlack
) -> None:
    """Blocks Slack rejects are set aside (logged); the next message still goes."""
    bad = {"text": "x", "blocks": [{"type": "no_such_block"}]}
    dead = store.enqueue_sync("prod", "post", "C0HAOPS", bad, T0)
    store.enqueue_sync("prod", "post", "C0HAOPS", {"text": "after it"}, T0)
    assert await worker(store, fake, Clock()).deliver_due() == 2
    assert store.get_sync(dead).state is Delivery.DEAD  # type: ignore[union-attr]
    assert fake.calls_to("chat.postMessage")[-1].args["text"] == "after it"
