"""The outbox: a Slack outage delays messages but drops none, and keeps them in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Connection, Engine, text

from habot.config import parse_settings
from habot.core.alerts import AlertState
from habot.core.approvals import RequestState
from habot.core.blocks import text_message
from habot.core.outbox import (
    ANCHOR_LANE,
    DIGEST_LANE,
    DIRECT_LANE,
    TS_OF,
    Attempt,
    Delivery,
    MessageKind,
    Next,
    after,
)
from habot.core.replies import say
from habot.errors import ConfigError
from habot.services.outbox import SEND_CLAIM, OutboxNotifier, OutboxWorker
from habot.services.ports import Outbox, Stores
from habot.slack.notifier import SlackSecretTeller
from habot.slack.sender import SlackSender
from habot.store import outbox as outbox_store
from habot.store.db import writing
from habot.store.outbox import OutboxStore
from tests.kit.botproc import BOT_TOKEN
from tests.kit.factories import Clock
from tests.kit.fakeslack import FakeSlack
from tests.kit.outbox import worker
from tests.kit.requests import PLAN, request

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
T = timedelta(seconds=1)


@pytest.fixture
def store(stores: Stores) -> Outbox:
    """An outbox on each store (in memory, SQLite, PostgreSQL)."""
    return stores.outbox


@pytest.mark.parametrize(
    ("attempt", "tries", "state", "wait"),
    [
        (Attempt(True, ts="1.2"), 0, Delivery.SENT, 0),
        (Attempt(False, error="ratelimited", retry_after=7), 0, Delivery.QUEUED, 7),
        (Attempt(False, error="internal_error"), 0, Delivery.QUEUED, 1),
        (Attempt(False, error="internal_error"), 3, Delivery.QUEUED, 8),
        (Attempt(False, error="internal_error"), 20, Delivery.QUEUED, 300),
        (Attempt(False, error="channel_not_found"), 0, Delivery.DEAD, 0),
        (Attempt(False, error="something_new"), 0, Delivery.DEAD, 0),  # not known: at once
        (Attempt(False, error="http_503"), 40, Delivery.QUEUED, 300),  # an outage: hours
        (Attempt(False, error="ServerDisconnectedError"), 40, Delivery.QUEUED, 300),
        (Attempt(False, error="internal_error"), 48, Delivery.QUEUED, 300),
        (Attempt(False, error="internal_error"), 49, Delivery.DEAD, 0),  # the 50th: set aside
        (Attempt(False, error="ratelimited", retry_after=30), 49, Delivery.DEAD, 0),
    ],
)
def test_what_happens_after_an_attempt(
    attempt: Attempt, tries: int, state: Delivery, wait: int
) -> None:
    """Sent; Retry-After honoured; back-off doubling up to 5 min; any error not known to be
    transient set aside at once; Slack's trouble retried for hours, then set aside."""
    outcome = after(attempt, tries, T0)
    assert (outcome.state, outcome.next_attempt_at) == (state, T0 + timedelta(seconds=wait))


async def test_429_then_500_then_ok_delivers_once_in_order(store: Outbox, fake: FakeSlack) -> None:
    """Slack answers 429, then 500, then OK: every message arrives once, in order per lane,
    and a lane that works is not held up by one that does not."""
    clock = Clock()
    first = await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "alert one"}, T0)
    await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "alert two"}, T0)
    await store.enqueue(
        "prod", MessageKind.UPDATE, "C0HAOPS", {TS_OF: first, "text": "one, again"}, T0
    )
    await store.enqueue("dr", MessageKind.POST, "C0HAOPS", {"text": "dr alert"}, T0)
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
    assert update.args["ts"] == (await store.get(first)).ts  # type: ignore[union-attr]
    assert await store.lanes() == []


async def test_a_card_never_goes_back_to_an_older_version(store: Outbox, fake: FakeSlack) -> None:
    """Two writers race to edit one card (an approval's "Waiting, 1 of 2" read before a
    cancel, queued after the cancel's "Cancelled"): the older version is dropped, so Slack
    is only ever told the newest; an equal version is still queued (same state, new words)."""
    clock = Clock()
    notify = notifier(store, fake, clock)
    card = await notify.post_card("prod", "C0HAOPS", text_message("waiting 0 of 2"))
    await notify.update_card("prod", "C0HAOPS", card, text_message("cancelled"), 2)
    await notify.update_card("prod", "C0HAOPS", card, text_message("waiting 1 of 2"), 1)
    await notify.update_card("prod", "C0HAOPS", card, text_message("cancelled by U0OPS"), 2)
    other = await notify.post_card("dr", "C0HAOPS", text_message("another card"))
    await notify.update_card("dr", "C0HAOPS", other, text_message("its own version 1"), 1)
    assert await worker(store, fake, clock).deliver_due() == 5
    edits = [c.args["text"] for c in fake.calls if c.method == "chat.update"]
    prod_edits = [e for e in edits if e != "its own version 1"]
    assert prod_edits == ["cancelled", "cancelled by U0OPS"]  # in order; the stale one dropped
    assert "its own version 1" in edits  # versions are per card


async def test_messages_survive_a_restart(store: Outbox, fake: FakeSlack) -> None:
    """Queued messages live in the database: a new worker (after a restart) sends them."""
    await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "queued before restart"}, T0)
    assert await worker(store, fake, Clock()).deliver_due() == 1
    assert fake.calls_to("chat.postMessage")[0].args["text"] == "queued before restart"


class FirstSendHangs:
    """A Sender whose first call waits for the test (a slow Slack), then all succeed."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.started, self.gate = asyncio.Event(), asyncio.Event()

    async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        self.sent.append(str(payload["text"]))
        if len(self.sent) == 1:
            self.started.set()
            await self.gate.wait()
        return Attempt(True, ts=f"1700000000.{len(self.sent):06d}")


async def test_two_replicas_that_both_think_they_lead_send_each_message_once(
    store: Outbox,
) -> None:
    """For a moment two replicas may both believe they lead (one's lease lapsed while it
    was sending). Each message is claimed before it is sent, so the second waits behind
    the first's send instead of posting the same card again."""
    for n in range(3):
        await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": f"m{n}"}, T0)
    sender = FirstSendHangs()
    a = OutboxWorker(store=store, sender=sender, clock=Clock(T0), me="A")
    b = OutboxWorker(store=store, sender=sender, clock=Clock(T0), me="B")
    first = asyncio.ensure_future(a.deliver_due())
    await sender.started.wait()
    assert await b.deliver_due() == 0  # the head is A's, being sent: B's lane waits
    sender.gate.set()
    assert await first == 3
    assert await b.deliver_due() == 0
    assert sender.sent == ["m0", "m1", "m2"]


async def test_a_message_claimed_by_a_replica_that_died_is_sent_at_once(store: Outbox) -> None:
    """The replica sending a card was killed mid-send: another takes its claim as soon as
    the dead one's heartbeat says it is gone — the lane does not wait out SEND_CLAIM."""
    await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "m0"}, T0)
    sender = FirstSendHangs()
    a = OutboxWorker(store=store, sender=sender, clock=Clock(T0), me="A")
    dying = asyncio.ensure_future(a.deliver_due())
    await sender.started.wait()
    dying.cancel()  # killed mid-send: its claim stays behind
    alive = {"A": True}

    async def is_alive(replica: str) -> bool:
        return alive.get(replica, False)

    b = OutboxWorker(store=store, sender=sender, clock=Clock(T0 + T), me="B", alive=is_alive)
    assert await b.deliver_due() == 0  # A may still be sending it
    alive["A"] = False
    assert await b.deliver_due() == 1
    assert sender.sent == ["m0", "m0"]  # A's try may or may not have reached Slack
    assert await store.head("prod") is None


async def test_a_claim_lapses_so_a_dead_senders_message_is_sent_by_another(
    store: Outbox,
) -> None:
    """A sender that died mid-send holds its message for SEND_CLAIM; then another sends
    it. A recorded attempt gives the claim up at once (a retry is anyone's)."""
    message = await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "m"}, T0)
    assert await store.claim(message, "A", T0, SEND_CLAIM)
    assert await store.claim(message, "A", T0 + T, SEND_CLAIM)  # its own: still A's
    lapsed = T0 + T + SEND_CLAIM  # A renewed it at T0 + T
    assert not await store.claim(message, "B", lapsed, SEND_CLAIM)
    assert await store.claim(message, "B", lapsed + T, SEND_CLAIM)
    await store.record(message, Next(Delivery.QUEUED, lapsed + 2 * T), None, "internal_error")
    assert await store.claim(message, "A", lapsed + T, SEND_CLAIM)
    await store.record(message, Next(Delivery.SENT, T0), "1.2", None)
    assert not await store.claim(message, "B", T0 + 10 * SEND_CLAIM, SEND_CLAIM)  # sent


async def test_a_permanently_refused_message_does_not_block_its_lane(
    store: Outbox, fake: FakeSlack
) -> None:
    """Blocks Slack rejects are set aside (logged); the next message still goes."""
    bad = {"text": "x", "blocks": [{"type": "no_such_block"}]}
    dead = await store.enqueue("prod", MessageKind.POST, "C0HAOPS", bad, T0)
    await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "after it"}, T0)
    assert await worker(store, fake, Clock()).deliver_due() == 2
    assert (await store.get(dead)).state is Delivery.DEAD  # type: ignore[union-attr]
    assert fake.calls_to("chat.postMessage")[-1].args["text"] == "after it"


async def test_a_private_note_slack_will_not_show_goes_to_a_direct_message(
    store: Outbox, fake: FakeSlack
) -> None:
    """The requester left the channel: chat.postEphemeral says user_not_in_channel, so the
    outcome goes to their DM with habot (saying why), and the lane moves on."""
    note = {"user": "U0OPS1", "text": "switchover of *prod* succeeded"}
    await store.enqueue("prod", MessageKind.EPHEMERAL, "C0HAOPS", note, T0)
    await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "next card"}, T0)
    fake.fail_next["chat.postEphemeral"] = ["user_not_in_channel"]
    deliver = worker(store, fake, Clock())
    await deliver.deliver_due()
    await deliver.deliver_due()
    posts = {c.args["channel"]: c.args["text"] for c in fake.calls_to("chat.postMessage")}
    assert posts["C0HAOPS"] == "next card"
    direct = posts["U0OPS1"]
    assert direct.endswith("\nswitchover of *prod* succeeded")
    assert "could not tell you this in <#C0HAOPS>" in direct
    assert "`user_not_in_channel`" in direct


async def test_a_direct_message_that_fails_is_not_retried_as_another(
    store: Outbox, fake: FakeSlack
) -> None:
    """Only a private note falls back to a DM: a refused DM or card is set aside, once."""
    await store.enqueue("direct", MessageKind.POST, "U0GONE", {"text": "hello"}, T0)
    fake.fail_next["chat.postMessage"] = ["user_not_found"]
    deliver = worker(store, fake, Clock())
    await deliver.deliver_due()
    await deliver.deliver_due()
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert await store.queued() == 0


async def test_an_error_habot_does_not_know_sets_the_message_aside_at_once(
    store: Outbox, fake: FakeSlack
) -> None:
    """A message Slack refuses with an error habot does not know to be transient is set
    aside and counted at once, and the lane moves on; a Slack outage (500s) is waited out."""
    clock, dead = Clock(), []
    deliver = OutboxWorker(
        store=store,
        sender=SlackSender(
            AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[])
        ),
        clock=clock,
        on_dead=dead.append,
    )

    async def rounds(n: int) -> None:
        for _ in range(n):
            await deliver.deliver_due()
            clock.now += timedelta(minutes=10)

    odd = await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "odd one"}, T0)
    await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "after it"}, T0)
    fake.fail_next["chat.postMessage"] = ["weird_new_error"]
    await rounds(1)
    assert (await store.get(odd)).state is Delivery.DEAD  # type: ignore[union-attr]
    assert dead == ["weird_new_error"]
    texts = [c.args["text"] for c in fake.calls_to("chat.postMessage")]
    assert texts == ["odd one", "after it"]
    waiting = await store.enqueue(
        "dr", MessageKind.POST, "C0HAOPS", {"text": "through an outage"}, T0
    )
    fake.fail_next["chat.postMessage"] = [500] * 8
    await rounds(8)
    assert (await store.get(waiting)).state is Delivery.QUEUED  # type: ignore[union-attr]
    await rounds(1)
    assert (await store.get(waiting)).state is Delivery.SENT  # type: ignore[union-attr]
    assert dead == ["weird_new_error"]


def notifier(store: Outbox, fake: FakeSlack, clock: Clock) -> OutboxNotifier:
    """The operations' notifier on this outbox (secrets straight to the fake)."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    return OutboxNotifier(store=store, secrets=SlackSecretTeller(client), clock=clock)


async def test_operation_messages_wait_out_an_outage_and_arrive_in_order(
    store: Outbox, fake: FakeSlack
) -> None:
    """An approval card, its update, a progress reply and the private result, queued while
    Slack fails: once Slack answers, all four arrive in order, the update and the reply
    naming the card's real ts."""
    clock = Clock()
    notify = notifier(store, fake, clock)
    card = await notify.post_card("prod", "C0HAOPS", text_message("approve me"))
    await notify.update_card("prod", "C0HAOPS", card, text_message("approved"), 1)
    await notify.thread("prod", "C0HAOPS", card, say("progress"))
    await notify.tell("prod", "C0HAOPS", "U0OPS", say("your switchover succeeded"))
    assert await notify.link(card) is None  # not delivered yet
    fake.fail_next["chat.postMessage"] = [500, 500, 503]
    deliver = worker(store, fake, clock)
    for _ in range(3):
        assert await deliver.deliver_due() == 0
        clock.now += timedelta(minutes=1)
    assert await deliver.deliver_due() == 4
    sent = [c for c in fake.calls if c.method.startswith("chat.")][3:]
    assert [c.method for c in sent] == [
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
        "chat.postEphemeral",
    ]
    ts = (await store.get(card)).ts  # type: ignore[union-attr]
    assert ts
    assert sent[1].args["ts"] == ts
    assert sent[2].args["thread_ts"] == ts
    assert sent[3].args["user"] == "U0OPS"
    assert await notify.link(card) == f"https://slack.com/archives/C0HAOPS/p{ts.replace('.', '')}"


async def test_a_secret_is_sent_directly_and_never_stored(store: Outbox, fake: FakeSlack) -> None:
    """The joining code goes to chat.postEphemeral at once; the outbox table never sees it."""
    await notifier(store, fake, Clock()).tell_secret("C0HAOPS", "U0OPS", say("code 123456"))
    [call] = fake.calls_to("chat.postEphemeral")
    assert (call.args["user"], call.args["text"]) == ("U0OPS", "code 123456")
    assert await store.lanes() == []
    assert await store.get(1) is None  # nothing was ever written, not even set aside
    if isinstance(store, OutboxStore):
        with store._engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM outbox")).scalar() == 0


async def test_a_kick_delivers_without_waiting_for_the_next_round(
    store: Outbox, fake: FakeSlack
) -> None:
    """Someone clicked and is waiting: queuing kicks the worker, and rounds never overlap."""
    clock = Clock()
    deliver = worker(store, fake, clock)
    notify = OutboxNotifier(
        store=store, secrets=SlackSecretTeller(AsyncWebClient()), clock=clock, kick=deliver.kick
    )
    for n in range(5):
        await notify.post_card("prod", "C0HAOPS", text_message(f"card {n}"))
    await deliver.close()
    await deliver.deliver_due()  # a concurrent scheduled round finds nothing left to send
    posts = [c.args["text"] for c in fake.calls_to("chat.postMessage")]
    assert posts == [f"card {n}" for n in range(5)]


async def test_pruning_keeps_queued_messages_and_cards_still_in_use(
    store: Outbox, stores: Stores
) -> None:
    """Old delivered rows go; a queued one, an open alert's card and a pending request's card
    stay (later edits need their ts)."""
    sent = Next(Delivery.SENT, T0)
    old = [
        await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": str(n)}, T0)
        for n in range(4)
    ]
    for message in old[:3]:
        await store.record(message, sent, f"1.{message}", None)
    await stores.alerts.save("prod", AlertState(bad_streak=2), old[1])
    await stores.requests.create(request(), "C0HAOPS", PLAN)
    await stores.requests.set_card("r1", "C0HAOPS", old[2])
    assert await store.prune(T0 + timedelta(days=8)) == 1
    assert await store.get(old[0]) is None
    assert [await store.get(m) is not None for m in old[1:]] == [True, True, True]


@pytest.mark.parametrize(
    ("state", "kept"),
    [(RequestState.UNKNOWN, True), (RequestState.SCHEDULED, True),
     (RequestState.SUCCEEDED, False)],
)  # fmt: skip
async def test_the_card_of_a_request_still_open_is_never_pruned(
    store: Outbox, stores: Stores, state: RequestState, kept: bool
) -> None:
    """An unknown outcome's card is edited by `/ha resolve`, a scheduled one's when it runs,
    however long after: pruned, that edit would go out with no ts and be set aside (the
    channel kept saying "outcome unknown"). A finished request's card may go."""
    card = await store.enqueue("prod", MessageKind.POST, "C0HAOPS", {"text": "card"}, T0)
    await store.record(card, Next(Delivery.SENT, T0), "1.5", None)
    await stores.requests.create(request(), "C0HAOPS", PLAN)
    await stores.requests.set_card("r1", "C0HAOPS", card)
    assert await stores.requests.transition("r1", RequestState.PENDING, state)
    await store.prune(T0 + timedelta(days=8))
    assert (await store.get(card) is not None) is kept


async def test_settle_reports_sent_refused_or_still_queued(store: Outbox, fake: FakeSlack) -> None:
    """Waiting on a card: sent (with its link), set aside (with Slack's own error), or — when
    Slack keeps failing — still queued once the wait is over."""
    clock = Clock()
    deliver = worker(store, fake, clock)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    notify = OutboxNotifier(
        store=store,
        secrets=SlackSecretTeller(client),
        clock=clock,
        kick=deliver.kick,
        settle_within=0.5,
    )
    sent = await notify.settle(await notify.post_card("prod", "C0HAOPS", text_message("a")))
    assert sent.state is Delivery.SENT
    assert sent.link
    assert sent.link.startswith("https://slack.com/archives/C0HAOPS/p")
    fake.fail_next["chat.postMessage"] = ["not_in_channel"]
    refused = await notify.settle(await notify.post_card("dr", "C0PRIV", text_message("b")))
    assert (refused.state, refused.error) == (Delivery.DEAD, "not_in_channel")
    fake.fail_next["chat.postMessage"] = [500] * 5
    slow = await notify.settle(await notify.post_card("lab", "C0HAOPS", text_message("c")))
    assert slow.state is Delivery.QUEUED


class FirstWriteCommitsLast:
    """The outbox's ``writing`` with the first write held until a second has committed (or a
    second has passed): two writers racing into one lane, the first one slow to commit."""

    def __init__(self) -> None:
        self.calls = 0
        self._second_done = threading.Event()

    @contextmanager
    def __call__(self, engine: Engine) -> Iterator[Connection]:
        self.calls += 1
        if self.calls == 1:
            self._second_done.wait(timeout=1.0)
            with writing(engine) as conn:
                yield conn
            return
        with writing(engine) as conn:
            yield conn
        self._second_done.set()


async def test_writes_into_one_lane_keep_the_order_they_were_made(
    migrated: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers into one lane — a progress reply still committing when the next is
    written — are sent in the order they were written, whichever would commit first."""
    racing = FirstWriteCommitsLast()
    monkeypatch.setattr(outbox_store, "writing", racing)
    store = OutboxStore(migrated)

    async def reply(words: str) -> int:
        return await store.enqueue("prod", MessageKind.REPLY, "C0HAOPS", {"text": words}, T0)

    first = asyncio.ensure_future(reply("first"))
    await asyncio.sleep(0.05)  # the first is under way
    await reply("second")
    await first
    assert racing.calls == 2
    sent = []
    while (head := await store.head("prod")) is not None:
        sent.append(head.payload["text"])
        await store.record(head.id, Next(Delivery.SENT, T0), "1.1", None)
    assert sent == ["first", "second"]


async def test_many_writers_into_many_lanes_keep_each_lanes_order(migrated: Engine) -> None:
    """Under load — forty writes into each of five lanes at once, on worker threads — each
    lane is sent in the order its writes were made."""
    store = OutboxStore(migrated)
    lanes = ["prod", "dr", "lab", "direct", "digest"]

    async def write(lane: str, n: int) -> int:
        return await store.enqueue(lane, MessageKind.REPLY, "C0HAOPS", {"text": str(n)}, T0)

    await asyncio.gather(*(write(lane, n) for n in range(40) for lane in lanes))
    for lane in lanes:
        sent = []
        while (head := await store.head(lane)) is not None:
            sent.append(int(head.payload["text"]))
            await store.record(head.id, Next(Delivery.SENT, T0), "1.1", None)
        assert sent == list(range(40)), lane


@pytest.mark.parametrize("name", ["digest", "direct", "audit-anchor", "habot"])
def test_a_pair_never_shares_a_lane_with_habots_own_messages(name: str) -> None:
    """A pair's lane is its name; habot's own lanes (the digest, direct messages, the
    anchor) hold a ':' no pair name may have — so a pair named "digest" is accepted and
    its alerts never queue behind, or hold up, the digest."""

    def config(pair: str) -> dict[str, object]:
        return {"ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
                "pairs": [{"name": pair, "primary": "a", "secondary": "b"}]}  # fmt: skip

    assert parse_settings(config(name)).pairs[0].name not in {DIGEST_LANE, DIRECT_LANE, ANCHOR_LANE}
    with pytest.raises(ConfigError, match="is not a pair name"):
        parse_settings(config(DIGEST_LANE))
