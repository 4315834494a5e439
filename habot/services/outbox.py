"""The outbox worker: sends stored messages in order per lane, retrying until Slack takes
them (honouring Retry-After), so an outage delays messages but drops none."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from habot.core.blocks import Message, mrkdwn
from habot.core.budget import cut, cut_note, fits
from habot.core.outbox import (
    DIRECT_LANE,
    TS_OF,
    Attempt,
    Delivery,
    Fate,
    MessageKind,
    OutboxMessage,
    after,
    direct,
    ephemeral_to,
    reply_to,
)
from habot.core.paging import Page, failed_page, overtaken, pager_of
from habot.core.replies import Code, Reply, Room, say, slack_account
from habot.errors import StoreError
from habot.services.background import Background
from habot.services.outage import Outage
from habot.services.ports import Clock, NoTelemetry, Outbox, Telemetry

log = logging.getLogger(__name__)
#: Where message links point when the workspace's own address is not known.
SLACK = "https://slack.com/"
#: How long a claim on a message being sent holds: well over one Slack call (the client
#: gives up after 30 s), so a live sender's claim never lapses mid-send; a dead sender's
#: message waits this long for another.
SEND_CLAIM = timedelta(seconds=90)
#: A trigger waits at most this long for its alert card to be posted (to carry its link):
#: Slack being slow or down must not hold a page back.
PAGE_WAITS_FOR_CARD = timedelta(seconds=20)
_T = TypeVar("_T")


class Sender(Protocol):
    """Sends one message kind ('post', 'update', 'reply') to Slack."""

    async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        """Try once; never raise for Slack or network errors."""
        ...


class PagesApart:
    """A Sender that sends pages through the paging tools' sender and the rest to Slack."""

    def __init__(self, slack: Sender, pages: Sender) -> None:
        self._slack = slack
        self._pages = pages

    async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        """Send once, by the sender for its kind."""
        sender = self._pages if kind == MessageKind.PAGE else self._slack
        return await sender.send(kind, channel, payload)


class SecretTeller(Protocol):
    """Sends a secret to one person directly (secrets never enter the outbox table)."""

    async def tell(self, channel: str, user: str, text: str) -> None:
        """Send once; log, never raise, on failure."""
        ...


class OutboxWorker:
    """Delivers due messages; one call is one round. Rounds never overlap in a process."""

    def __init__(
        self,
        *,
        store: Outbox,
        sender: Sender,
        clock: Clock,
        leader: Callable[[], Awaitable[bool]] | None = None,
        on_dead: Callable[[str], None] | None = None,
        background: Background | None = None,
        telemetry: Telemetry | None = None,
        outage: Outage | None = None,
        me: str | None = None,
        claims: Clock | None = None,
        alive: Callable[[str], Awaitable[bool]] | None = None,
        workspace: str = SLACK,
    ) -> None:
        #: Whether another sender may still be alive (the replicas' heartbeats): a dead
        #: one's claim is taken at once instead of holding its lane for SEND_CLAIM.
        self._alive = alive
        #: The clock claims are judged by (the one every replica shares).
        self._claims = claims or clock
        #: Who claims the messages this worker sends (the replica).
        self._me = me or f"outbox-{secrets.token_hex(6)}"
        self._outage = outage or Outage()
        self._telemetry = telemetry or NoTelemetry()
        self._background = background or Background()
        self._leader = leader
        self._on_dead = on_dead  # counts set-aside messages (by Slack's error)
        self._store = store
        self._sender = sender
        self._clock = clock
        self._workspace = workspace
        self._lock = asyncio.Lock()
        self._kicked: asyncio.Task[int] | None = None

    async def deliver_due(self) -> int:
        """For every lane, send messages in order until one is not yet due or fails."""
        if self._leader is not None and not await self._leader():
            return 0  # another replica delivers
        async with self._lock:
            sent, lanes = 0, await self._store.lanes()
            for lane in lanes:
                sent += await self._drain_lane(lane)
            # Every second on the leader: count only when something was waiting.
            self._telemetry.backlog(await self._store.queued() if lanes else 0)
            return sent

    def kick(self) -> None:
        """Deliver soon instead of at the next scheduled round (someone is waiting)."""
        if self._kicked is None or self._kicked.done():
            self._kicked = self._background.spawn(
                self._deliver_logged(), name="outbox-kick", shared=True
            )

    async def _deliver_logged(self) -> int:
        try:
            return await self.deliver_due()
        except StoreError as exc:
            self._outage.failed(exc, "outbox delivery; the scheduled round will retry")
            return 0
        except Exception:
            log.exception("outbox delivery failed; the scheduled round will retry")
            return 0

    async def close(self) -> None:
        """Let a kicked round finish (at shutdown)."""
        if self._kicked is not None:
            await asyncio.gather(self._kicked, return_exceptions=True)

    async def _drain_lane(self, lane: str) -> int:
        sent = 0
        while (head := await self._store.head(lane)) is not None:
            if head.next_attempt_at > self._clock() or await self._waits_for_card(head):
                break
            if not await self._deliver(head):
                break
            sent += 1
        return sent

    async def _deliver(self, message: OutboxMessage) -> bool:
        """Send the lane's head once. Claimed first: a replica that still thinks it leads
        while another has taken over must not send the same message too (the lane waits
        behind the other's send instead)."""
        if not await self._claimed(message):
            return False
        if await self._overtaken(message):
            return True
        payload = await self._resolve(message)
        attempt = await self._sender.send(message.kind, message.channel, payload)
        outcome = after(attempt, message.attempts, self._clock())
        await self._store.record(message.id, outcome, attempt.ts, attempt.error)
        if outcome.state is Delivery.DEAD:
            log.error(
                "outbox message %s set aside after %d tries: %s said %s", message.id,
                message.attempts + 1, _receiver(message), attempt.error,
            )  # fmt: skip
            if self._on_dead is not None:
                self._on_dead(attempt.error or "unknown")
            if message.kind == MessageKind.EPHEMERAL:
                await self._direct_instead(message, attempt.error)
            if message.kind == MessageKind.PAGE:
                await self._page_failed(message, attempt.error)
            return True  # a message no retry can fix must not block its lane forever
        return outcome.state is Delivery.SENT

    async def _overtaken(self, message: OutboxMessage) -> bool:
        """Drop a trigger a resolve of its incident has overtaken (see core.paging.overtaken)."""
        if message.kind != MessageKind.PAGE:
            return False
        behind = [Page.of(m.payload) for m in await self._store.queued_in(message.lane)
                  if m.id != message.id and m.kind == MessageKind.PAGE]  # fmt: skip
        if not overtaken(Page.of(message.payload), behind):
            return False
        log.info("a %s for %s was not sent: its incident ended before it got through",
                 message.payload.get("action"), message.payload.get("pair"))  # fmt: skip
        return await self._store.drop(message.id)

    async def _direct_instead(self, message: OutboxMessage, error: str | None) -> None:
        """A private note Slack would not show where it was asked (the person left the
        channel, it was archived …): send it to their DM with habot instead — an outcome
        someone waits on is never lost for want of a channel."""
        user, text = str(message.payload.get("user", "")), str(message.payload.get("text", ""))
        if not user:
            return
        why = say("habot could not tell you this in ", Room(message.channel), " (Slack said ",
                  Code(error or "unknown"), "), so here it is:")  # fmt: skip
        payload = direct(f"{mrkdwn(why)}\n{text}")
        await self._store.enqueue(DIRECT_LANE, MessageKind.POST, user, payload, self._clock())
        log.info("a private note for %s went to their direct messages instead", user)

    async def _claimed(self, message: OutboxMessage) -> bool:
        """Claim the message for this sender — or take it from a sender that died while
        sending it (its replica gone, its heartbeat lapsed)."""
        now = self._claims()
        if await self._store.claim(message.id, self._me, now, SEND_CLAIM):
            return True
        holder = await self._store.claimant(message.id, now)
        if holder is None or self._alive is None or await self._alive(holder):
            return False
        log.info(
            "outbox message %s was being sent by %s, which is gone: sending it", message.id, holder
        )
        return await self._store.take_claim(message.id, holder, self._me, now, SEND_CLAIM)

    async def _waits_for_card(self, message: OutboxMessage) -> bool:
        """Whether a page should wait for its alert card (not posted yet, and asked for
        less than PAGE_WAITS_FOR_CARD ago), so the page can link to it."""
        card = message.payload.get("card") if message.kind == MessageKind.PAGE else None
        if card is None or message.attempts:
            return False
        row = await self._store.get(int(card))
        if row is None or row.state is not Delivery.QUEUED:
            return False
        return self._clock() - message.next_attempt_at < PAGE_WAITS_FOR_CARD

    async def _page_failed(self, message: OutboxMessage, error: str | None) -> None:
        """A page the paging tool will never take: say so in its alert's thread, so
        nobody believes the on-call was woken."""
        page = Page.of(message.payload)
        card = await self._store.get(page.card) if page.card is not None else None
        if card is None:
            return
        pager = pager_of(message.channel)
        words = failed_page(pager, page.action, error)
        reply = reply_to(card.id, mrkdwn(words))
        await self._store.enqueue(page.pair, MessageKind.REPLY, card.channel, reply, self._clock())
        log.warning("a %s %s for %s was set aside: %s", pager.label, page.action, page.pair, error)

    async def _resolve(self, message: OutboxMessage) -> dict[str, Any]:
        """An update or thread reply names its card by outbox id; use that card's ts. A
        page gets its alert card's link (once the card is posted)."""
        payload = dict(message.payload)
        if message.kind == MessageKind.PAGE:
            card = payload.get("card")
            row = await self._store.get(int(card)) if card is not None else None
            payload["link"] = (
                message_link(row.channel, row.ts, self._workspace) if row and row.ts else None
            )
            return payload
        ref = payload.pop(TS_OF, None)
        if ref is not None:
            card = await self._store.get(int(ref))
            payload["ts" if message.kind == MessageKind.UPDATE else "thread_ts"] = (
                card.ts if card else None
            )
        return payload


class OutboxNotifier:
    """The operations' Notifier on the outbox: cards, updates, thread replies and private
    notes are stored first and delivered in order per pair; only a secret goes direct."""

    def __init__(
        self,
        *,
        store: Outbox,
        secrets: SecretTeller,
        clock: Clock,
        kick: Callable[[], None] | None = None,
        settle_within: float = 3.0,
        workspace: str = SLACK,
    ) -> None:
        self._workspace = workspace
        self._settle_within = settle_within
        self._store = store
        self._secrets = secrets
        self._clock = clock
        self._kick = kick

    async def post_card(self, pair: str, channel: str, message: Message) -> int:
        """Queue the card; its outbox id is the handle."""
        return await self._queue(pair, MessageKind.POST, channel, message_payload(message))

    async def update_card(
        self, pair: str, channel: str, card: int, message: Message, version: int
    ) -> None:
        """Queue an in-place edit of the card (dropped if it shows an older version of its
        request than an edit already queued)."""
        payload = message_payload(message)
        now = self._clock()
        await self._enqueued(self._store.enqueue_update(pair, channel, card, version, payload, now))

    async def thread(self, pair: str, channel: str, card: int, words: Reply) -> None:
        """Queue a reply in the card's thread."""
        text = mrkdwn(words)
        await self._queue(pair, MessageKind.REPLY, channel, reply_to(card, text))

    async def tell(self, pair: str, channel: str, user: str, words: Reply) -> None:
        """Queue an ephemeral message to one user (none to who is no Slack account: the
        command line's ``cli:NAME`` was answered in its terminal)."""
        if not slack_account(user):
            return
        text = mrkdwn(words)
        await self._queue(pair, MessageKind.EPHEMERAL, channel, ephemeral_to(user, text))

    async def direct(self, user: str, words: Reply) -> None:
        """Queue a direct message (chat.postMessage to the user: their DM with habot), in a
        lane of its own so a burst of them never holds a pair's card or thread back (none
        to who is no Slack account)."""
        if not slack_account(user):
            return
        await self._queue(DIRECT_LANE, MessageKind.POST, user, direct(mrkdwn(words)))

    async def tell_secret(self, channel: str, user: str, words: Reply) -> None:
        """Send a secret now, bypassing the outbox (it must never be stored)."""
        await self._secrets.tell(channel, user, mrkdwn(words))

    async def link(self, card: int) -> str | None:
        """The card's link once delivered."""
        fate = await self._fate(card)
        return fate.link

    async def posted(self, card: int) -> tuple[str, str] | None:
        """The card's channel and ts once delivered."""
        row = await self._store.get(card)
        if row is None or row.state is not Delivery.SENT or not row.ts:
            return None
        return row.channel, row.ts

    async def settle(self, card: int) -> Fate:
        """Poll the card's row until it is sent or set aside, for up to ``settle_within``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle_within
        while (fate := await self._fate(card)).state is Delivery.QUEUED:
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        return fate

    async def _fate(self, card: int) -> Fate:
        row = await self._store.get(card)
        if row is None:
            return Fate(Delivery.DEAD, error="lost")
        if row.state is Delivery.SENT:
            link = message_link(row.channel, row.ts, self._workspace) if row.ts else None
            return Fate(Delivery.SENT, link)
        return Fate(row.state, error=row.error)

    async def _queue(
        self, pair: str, kind: MessageKind, channel: str, payload: dict[str, Any]
    ) -> int:
        now = self._clock()
        return await self._enqueued(self._store.enqueue(pair, kind, channel, payload, now))

    async def _enqueued(self, write: Awaitable[_T]) -> _T:
        """Store, then have the worker deliver soon."""
        handle = await write
        if self._kick is not None:
            self._kick()
        return handle


def _receiver(message: OutboxMessage) -> str:
    """Who refused a message: Slack, or the paging tool a page was for."""
    return pager_of(message.channel).label if message.kind == MessageKind.PAGE else "Slack"


def message_payload(message: Message) -> dict[str, Any]:
    """A message as chat.postMessage / chat.update arguments, within the message budget
    (cut, saying so, if it is not)."""
    if not fits(message):
        log.warning("a message of %d blocks was over Slack's size limit: cut", len(message.blocks))
        message = cut(message, cut_note(None, None))
    return {"text": message.text, "blocks": list(message.blocks)}


def message_link(channel: str, ts: str, workspace: str = SLACK) -> str:
    """A link to a message in ``workspace`` (its address, as ``auth.test`` gives it: a
    link then opens in that workspace — or, in the demo, stays on its page)."""
    return f"{workspace.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
