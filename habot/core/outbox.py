"""Delivery rules for the outbox: what to do after a send attempt (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

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
    """Sent; set aside on a permanent error; else retry — after Retry-After when Slack gave
    one, otherwise with exponential back-off capped at five minutes."""
    if attempt.ok:
        return Next(Delivery.SENT, now)
    if attempt.error in PERMANENT:
        return Next(Delivery.DEAD, now)
    if attempt.retry_after is not None:
        return Next(Delivery.QUEUED, now + timedelta(seconds=max(attempt.retry_after, 0)))
    backoff = min(timedelta(seconds=2 ** min(attempts_so_far, 10)), MAX_BACKOFF)
    return Next(Delivery.QUEUED, now + backoff)
