"""The outbox's protocol and delivery rules (pure).

Every message habot sends to Slack goes through the outbox: queued in the database, then
delivered by one worker, **in order per lane** (a lane is a pair's, or one of the
housekeeping lanes). A message waits until the one before it in its lane is delivered or set
aside, so a card is never edited before it was posted, nor a thread reply sent before its
card. A transient Slack error (a 5xx, a 429, no answer) holds its lane and is retried with
back-off (doubling up to ``MAX_BACKOFF``, or Slack's Retry-After), at most ``MAX_TRIES``
times (hours of outage); any other error — one Slack gives for good, or one habot does not
know to be transient — sets the message aside at once. A message set aside stays in the
table, is counted (``habot_outbox_dead_letters_total``) and logged once, and the lane moves
on. Other lanes go on meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from habot.core.budget import clip_text


class MessageKind(StrEnum):
    """What a queued message does: post → chat.postMessage, update → chat.update of an
    earlier card, reply → chat.postMessage in an earlier card's thread, ephemeral →
    chat.postEphemeral, page → the paging tool its channel names."""

    POST = "post"
    UPDATE = "update"
    REPLY = "reply"
    EPHEMERAL = "ephemeral"
    PAGE = "page"  # not Slack: an event for a paging tool (the channel names which)


#: In an update's or a reply's payload: the card it is about (its ``ts`` is filled in at
#: delivery, once that card has been posted and Slack has given it one).
TS_OF = "ts_of"


def own_lane(name: str) -> str:
    """A lane of habot's own (the digest, direct messages, the audit anchor): named with a
    ':', which no pair name may hold, so a pair called "digest" never shares its lane."""
    return f"habot:{name}"


DIGEST_LANE = own_lane("digest")  # a digest never waits behind a pair's alerts
DIRECT_LANE = own_lane("direct")  # direct messages to people
ANCHOR_LANE = own_lane("audit-anchor")  # an anchor never waits behind a pair's messages


def update_of(card: int, payload: dict[str, Any]) -> dict[str, Any]:
    """An update's payload: the new message for the card (queued by its outbox id)."""
    return {TS_OF: card, **payload}


def reply_to(card: int, text: str) -> dict[str, Any]:
    """A thread reply's payload, under the card (queued by its outbox id), within the
    message budget."""
    return {TS_OF: card, "text": clip_text(text)}


def direct(text: str) -> dict[str, Any]:
    """A direct message's payload (posted to a user id: their DM with habot), within the
    message budget."""
    return {"text": clip_text(text)}


def ephemeral_to(user: str, text: str) -> dict[str, Any]:
    """An ephemeral message's payload: for one person's eyes, within the message budget."""
    return {"user": user, "text": clip_text(text)}


MAX_BACKOFF = timedelta(minutes=5)
#: Slack errors that no retry will fix: the message is set aside (and logged), not retried.
PERMANENT = frozenset(
    {
        "invalid_blocks",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "invalid_auth",
        "account_inactive",
        "message_not_found",
        "cant_update_message",
        "user_not_in_channel",
        "user_not_found",
    }
)

#: Errors that say Slack (or the way to it) is having trouble: retried for as long as it
#: lasts, so an outage loses nothing.
TRANSIENT = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
#: A message Slack keeps failing on transiently is set aside after this many tries (at
#: MAX_BACKOFF apart, about four hours), so no lane waits on one message for ever.
MAX_TRIES = 50


@dataclass(frozen=True)
class Withdrawn:
    """A lane's undelivered messages, dropped: how many, and whether any had been tried
    (an attempt that timed out may have reached its receiver)."""

    dropped: int
    tried: bool


@dataclass(frozen=True)
class Fate:
    """What became of a message someone is waiting on: sent (with a link), set aside (with
    Slack's error), or still queued."""

    state: Delivery
    link: str | None = None
    error: str | None = None


class Delivery(StrEnum):
    """A message's state in the outbox."""

    QUEUED = "queued"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True)
class Attempt:
    """What happened when sending: ok with the message ts, or an error (with Retry-After)."""

    ok: bool
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Next:
    """What to record after an attempt."""

    state: Delivery
    next_attempt_at: datetime


def after(attempt: Attempt, attempts_so_far: int, now: datetime) -> Next:
    """Sent; set aside on any error not known to be transient, or after MAX_TRIES; else
    retry — after Retry-After when Slack gave one, otherwise with exponential back-off
    capped at five minutes (rate limits, Slack's own failures, a broken connection)."""
    if attempt.ok:
        return Next(Delivery.SENT, now)
    if not _transient(attempt) or attempts_so_far + 1 >= MAX_TRIES:
        return Next(Delivery.DEAD, now)
    if attempt.retry_after is not None:
        return Next(Delivery.QUEUED, now + timedelta(seconds=max(attempt.retry_after, 0)))
    backoff = min(timedelta(seconds=2 ** min(attempts_so_far, 10)), MAX_BACKOFF)
    return Next(Delivery.QUEUED, now + backoff)


def _transient(attempt: Attempt) -> bool:
    """Slack's trouble or the network's: an HTTP 5xx/429, a known transient error, or no
    answer at all (the sender names the exception: ClientConnectionError, TimeoutError …)."""
    error = attempt.error or ""
    if error in PERMANENT:
        return False
    return (
        attempt.retry_after is not None
        or error in TRANSIENT
        or error.startswith(("http_5", "http_429"))
        or error.endswith(("Error", "Timeout"))
    )


@dataclass(frozen=True)
class OutboxMessage:
    """One stored message."""

    id: int
    lane: str
    kind: MessageKind
    channel: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: datetime
    state: Delivery
    ts: str | None
    error: str | None = None  # Slack's last error, if any
